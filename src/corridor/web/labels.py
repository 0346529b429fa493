"""Names of the platform's states in the reader's language: every payment, wallet and KYC
state has one (`tests/web/test_i18n.py` checks each enum member is listed and translated)."""

from __future__ import annotations

from corridor.platform.domain.approvals import (
    Action,
    ApprovalState,
    BeneficiaryStatus,
    Decision,
    SubjectKind,
)
from corridor.platform.domain.authenticity import Purpose, ReviewState
from corridor.platform.domain.batches import BatchStatus, ItemStatus
from corridor.platform.domain.freezes import FreezeStatus
from corridor.platform.domain.history import RowType
from corridor.platform.domain.identity import UserStatus
from corridor.platform.domain.kyc import FieldStatus, KycStatus
from corridor.platform.domain.orgs import OrgStatus
from corridor.platform.domain.payments import PaymentStatus
from corridor.platform.domain.rails import DepositStatus, WithdrawalStatus
from corridor.platform.domain.refunds import RefundStatus
from corridor.platform.domain.roles import OrgRole, StaffRole
from corridor.platform.domain.wallets import AuthStatus, WalletStatus
from corridor.platform.domain.webhooks import EndpointStatus
from corridor.web.i18n import Formats
from corridor.web.messages import N_

PAYMENT = {
    PaymentStatus.DRAFT: N_("Created"),
    PaymentStatus.PENDING_APPROVAL: N_("Waiting for approval"),
    PaymentStatus.SCREENING: N_("Being screened"),
    PaymentStatus.ON_HOLD: N_("On hold for a compliance check"),
    PaymentStatus.READY: N_("Ready to send"),
    PaymentStatus.SUBMITTED: N_("Sent to the network"),
    PaymentStatus.INCLUDED: N_("Included in a block"),
    PaymentStatus.FINAL: N_("Final on the ledger"),
    PaymentStatus.CREDITED: N_("Credited to the recipient"),
    PaymentStatus.REJECTED: N_("Rejected"),
    PaymentStatus.FAILED: N_("Failed"),
    PaymentStatus.EXPIRED: N_("Expired"),
    PaymentStatus.CANCELLED: N_("Cancelled"),
    PaymentStatus.REFUND_REQUESTED: N_("Refund requested"),
    PaymentStatus.REFUNDED: N_("Refunded"),
}
WALLET = {
    WalletStatus.OPENING: N_("Opening on the ledger"),
    WalletStatus.OPEN: N_("Open"),
    WalletStatus.FAILED: N_("Could not be opened"),
}
AUTHORISATION = {
    AuthStatus.REQUESTED: N_("Being enabled"),
    AuthStatus.AUTHORISED: N_("Enabled"),
    AuthStatus.FAILED: N_("Could not be enabled"),
}
KYC = {
    KycStatus.NEEDS_INFO: N_("Information needed"),
    KycStatus.PROCESSING: N_("Under review"),
    KycStatus.ACCEPTED: N_("Verified"),
    KycStatus.REJECTED: N_("Not accepted"),
    KycStatus.REVIEW_DUE: N_("Due for review"),
}
KYC_FIELD_STATUS = {
    FieldStatus.NOT_PROVIDED: N_("Not provided"),
    FieldStatus.PROCESSING: N_("Being checked"),
    FieldStatus.ACCEPTED: N_("Accepted"),
    FieldStatus.REJECTED: N_("Not accepted: provide it again"),
    FieldStatus.VERIFICATION_REQUIRED: N_("Needs verifying"),
}
# A person's KYC fields (domain/kyc_fields.PERSON_FIELDS; a test keeps the two equal).
KYC_FIELD = {
    "first_name": N_("First name"), "last_name": N_("Last name"),
    "additional_name": N_("Other names"), "birth_date": N_("Date of birth"),
    "birth_country_code": N_("Country of birth"), "address": N_("Address"),
    "city": N_("City"), "postal_code": N_("Postal code"),
    "state_or_province": N_("State or province"), "address_country_code": N_("Country"),
    "mobile_number": N_("Mobile number"), "email_address": N_("E-mail address"),
    "occupation": N_("Occupation"), "id_type": N_("Identity document type"),
    "id_country_code": N_("Country that issued the document"),
    "id_number": N_("Document number"), "id_issue_date": N_("Date of issue"),
    "id_expiration_date": N_("Expiry date"), "photo_id_front": N_("Photo of the document (front)"),
    "photo_id_back": N_("Photo of the document (back)"),
    "photo_proof_residence": N_("Proof of address"),
}
DEPOSIT = {
    DepositStatus.AWAITING_FUNDS: N_("Waiting for your bank transfer"),
    DepositStatus.RECEIVED: N_("Transfer received"),
    # held for the limits or by compliance: one neutral name (a compliance review is not
    # announced to the customer); the deposit page explains a hold for the limits
    DepositStatus.HELD: N_("Held for review by our staff"),
    DepositStatus.MINTING: N_("Being credited on the ledger"),
    DepositStatus.CREDITED: N_("Credited to your wallet"),
    DepositStatus.FAILED: N_("Failed"),
    DepositStatus.RETURNED: N_("Returned to the sender"),
}
WITHDRAWAL = {
    WithdrawalStatus.HELD: N_("Held for review by our staff: the amount stays reserved"),
    WithdrawalStatus.REQUESTED: N_("Requested"),
    WithdrawalStatus.BURNED: N_("Taken from your wallet"),
    WithdrawalStatus.PAYOUT_REQUESTED: N_("Sent to your bank"),
    WithdrawalStatus.PAID: N_("Paid out"),
    WithdrawalStatus.REVERSING: N_("Being returned to your wallet"),
    WithdrawalStatus.REVERSED: N_("Returned to your wallet"),
    WithdrawalStatus.FAILED: N_("Failed"),
    WithdrawalStatus.REJECTED: N_("Refused: nothing left your wallet"),
}
REFUND = {
    RefundStatus.REQUESTED: N_("Requested"),
    RefundStatus.PROCESSING: N_("Being processed"),
    RefundStatus.HELD: N_("Approved, held for review by our staff"),
    RefundStatus.REFUNDED: N_("Refunded"),
    RefundStatus.REJECTED: N_("Rejected"),
    RefundStatus.FAILED: N_("Failed"),
}
HISTORY_TYPE = {
    RowType.REMITTANCE: N_("Payment abroad"),
    RowType.RECEIPT: N_("Money received"),
    RowType.TRANSFER: N_("Payment"),
    RowType.DEPOSIT: N_("Deposit"),
    RowType.WITHDRAWAL: N_("Withdrawal"),
    RowType.EXCHANGE: N_("Exchange"),
    RowType.REFUND: N_("Refund"),
}
# The institution console (pages_org.py): roles in an organisation, its states, webhooks'.
ORG_ROLE = {
    OrgRole.OWNER: N_("Owner"),
    OrgRole.ADMIN: N_("Administrator"),
    OrgRole.INITIATOR: N_("Initiator"),
    OrgRole.APPROVER: N_("Approver"),
    OrgRole.VIEWER: N_("Viewer"),
    OrgRole.AUDITOR: N_("Auditor"),
}
ORG_STATUS = {
    OrgStatus.ACTIVE: N_("Active"),
    OrgStatus.SUSPENDED: N_("Suspended"),
}
WEBHOOK = {
    EndpointStatus.ACTIVE: N_("Active"),
}
# The ledger's operation types as the node's views name them (ledger/tx.py `OpType`, lower
# case): what the explorer calls each kind of transaction. Keyed by text, not an enum, so
# not in TABLES; tests/web/test_explorer.py checks every `OpType` has a translated name.
CHAIN_OP = {
    "open_account": N_("Open account"),
    "payment": N_("Payment"),
    "set_signers": N_("Set signers"),
    "issue_asset": N_("Issue asset"),
    "set_holder": N_("Set holder"),
    "clawback": N_("Clawback"),
    "escrow_create": N_("Create escrow"),
    "escrow_finish": N_("Finish escrow"),
    "escrow_cancel": N_("Cancel escrow"),
}
# The back office's staff roles and account states (pages_staff_admin.py).
STAFF_ROLE = {
    StaffRole.ADMIN: N_("Administrator"),
    StaffRole.COMPLIANCE_OFFICER: N_("Compliance officer"),
    StaffRole.SUPPORT_AGENT: N_("Support agent"),
    StaffRole.OPERATOR: N_("Operator"),
    StaffRole.AUDITOR: N_("Auditor"),
    StaffRole.REGULATOR: N_("Regulator (read-only)"),
}
ACCOUNT = {
    UserStatus.PENDING: N_("Not verified yet"),
    UserStatus.ACTIVE: N_("Active"),
    UserStatus.DISABLED: N_("Disabled"),
}
# A compliance freeze of a customer's holdings on chain (issue 16).
FREEZE = {
    FreezeStatus.REQUESTED: N_("Freeze requested, waiting for the ledger"),
    FreezeStatus.FROZEN: N_("Frozen on the ledger"),
    FreezeStatus.FAILED: N_("Freeze refused by the ledger"),
    FreezeStatus.RELEASING: N_("Being unfrozen, waiting for the ledger"),
    FreezeStatus.RELEASED: N_("Unfrozen"),
}
# Why money moves (ISO 20022 purpose codes) and where a payment's supporting documents
# stand (issue 16, authenticity review).
PURPOSE = {
    Purpose.GDDS: N_("Goods (purchase or sale)"),
    Purpose.SCVE: N_("Services (purchase or sale)"),
    Purpose.SUPP: N_("Payment to a supplier"),
    Purpose.SALA: N_("Salary"),
    Purpose.FAMI: N_("Family support"),
    Purpose.EDUC: N_("Education"),
    Purpose.GIFT: N_("Gift"),
    Purpose.OTHR: N_("Other"),
}
DOCUMENTS = {
    ReviewState.REQUIRED: N_("Supporting documents needed"),
    ReviewState.RECEIVED: N_("Documents received, being checked"),
    ReviewState.AGREED: N_("Documents checked: they agree"),
    ReviewState.INCONSISTENT: N_("Documents do not agree with the payment"),
}
# approvals (issue 17)
APPROVAL = {
    ApprovalState.PENDING: N_("Waiting for approval"),
    ApprovalState.AWAITING_CONSENT: N_("Approved; the new price waits for the payer"),
    ApprovalState.APPROVED: N_("Approved"),
    ApprovalState.REJECTED: N_("Rejected"),
    ApprovalState.EXPIRED: N_("Expired"),
}
APPROVAL_DECISION = {Decision.APPROVE: N_("Approved"), Decision.REJECT: N_("Rejected")}
POLICY_ACTION = {Action.ALLOW: N_("Allow"), Action.BLOCK: N_("Block"),
                 Action.APPROVE: N_("Needs approval")}
BENEFICIARY = {BeneficiaryStatus.ACTIVE: N_("Active"),
               BeneficiaryStatus.CHANGE_PENDING: N_("New bank details wait for approval")}
APPROVAL_KIND = {SubjectKind.PAYMENT: N_("Payment"),
                 SubjectKind.BENEFICIARY_CHANGE: N_("Change of bank details"),
                 SubjectKind.BATCH: N_("Batch of payments")}

# Batch payments (issue 17, pages_batches.py): a batch's states and its items'.
BATCH = {
    BatchStatus.VALIDATED: N_("Checked: waiting for approval"),
    BatchStatus.INVALID: N_("Has problems: cannot be paid"),
    BatchStatus.APPROVED: N_("Approved: being paid"),
    BatchStatus.REJECTED: N_("Rejected: nothing paid"),
}
BATCH_ITEM = {
    ItemStatus.VALID: N_("Checked"),
    ItemStatus.INVALID: N_("Has problems"),
    ItemStatus.SUBMITTED: N_("Sent to the network"),
    ItemStatus.ON_HOLD: N_("On hold for a compliance check"),
    ItemStatus.CREDITED: N_("Credited to the recipient"),
    ItemStatus.FAILED: N_("Failed"),
    ItemStatus.CANCELLED: N_("Cancelled"),
}
TABLES = {"payment": PAYMENT, "wallet": WALLET, "authorisation": AUTHORISATION, "kyc": KYC,
          "kyc_field_status": KYC_FIELD_STATUS, "deposit": DEPOSIT, "withdrawal": WITHDRAWAL,
          "refund": REFUND, "history_type": HISTORY_TYPE,
          "org_role": ORG_ROLE, "org_status": ORG_STATUS, "webhook": WEBHOOK,
          "staff_role": STAFF_ROLE, "account": ACCOUNT, "freeze": FREEZE,
          "purpose": PURPOSE, "documents": DOCUMENTS,
          "approval": APPROVAL, "approval_decision": APPROVAL_DECISION,
          "policy_action": POLICY_ACTION, "beneficiary": BENEFICIARY,
          "approval_kind": APPROVAL_KIND, "batch": BATCH, "batch_item": BATCH_ITEM}
# Which table names a history row's status, by the row's type (the rest are payments).
ROW_STATUS_TABLE: dict[str, str] = {RowType.DEPOSIT.value: "deposit",
                                    RowType.WITHDRAWAL.value: "withdrawal",
                                    RowType.REFUND.value: "refund"}
UNKNOWN = N_("Unknown state")


def row_status(fmt: Formats, row_type: str, status: str) -> str:
    """A history row's status, named by the table of the row's kind of record."""
    return label(fmt, ROW_STATUS_TABLE.get(row_type, "payment"), status)


def status_choices() -> dict[str, str]:
    """Every status a history row can have, each with one (untranslated) name: the
    history filter's choices (a status shared by several kinds takes its first name)."""
    out: dict[str, str] = {}
    for table in (PAYMENT, DEPOSIT, WITHDRAWAL, REFUND):
        for status, name in table.items():
            out.setdefault(str(status), name)
    return out


def label(fmt: Formats, table: str, value: str) -> str:
    names: dict[str, str] = KYC_FIELD if table == "kyc_field" else TABLES[table]  # type: ignore[assignment]
    return fmt.gettext(names.get(value, UNKNOWN))


def chain_op(fmt: Formats, kind: str) -> str:
    return fmt.gettext(CHAIN_OP.get(kind, UNKNOWN))
