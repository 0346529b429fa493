"""Names of the platform's states in the reader's language: every payment, wallet and KYC
state has one (`tests/web/test_i18n.py` checks each enum member is listed and translated)."""

from __future__ import annotations

from corridor.platform.domain.kyc import FieldStatus, KycStatus
from corridor.platform.domain.payments import PaymentStatus
from corridor.platform.domain.wallets import AuthStatus, WalletStatus
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
TABLES = {"payment": PAYMENT, "wallet": WALLET, "authorisation": AUTHORISATION, "kyc": KYC,
          "kyc_field_status": KYC_FIELD_STATUS}
UNKNOWN = N_("Unknown state")


def label(fmt: Formats, table: str, value: str) -> str:
    names: dict[str, str] = KYC_FIELD if table == "kyc_field" else TABLES[table]  # type: ignore[assignment]
    return fmt.gettext(names.get(value, UNKNOWN))
