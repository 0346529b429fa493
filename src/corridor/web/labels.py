"""Names of the platform's states in the reader's language: every payment, wallet and KYC
state has one (`tests/web/test_i18n.py` checks each enum member is listed and translated)."""

from __future__ import annotations

from corridor.platform.domain.kyc import KycStatus
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
TABLES = {"payment": PAYMENT, "wallet": WALLET, "authorisation": AUTHORISATION, "kyc": KYC}
UNKNOWN = N_("Unknown state")


def label(fmt: Formats, table: str, value: str) -> str:
    names: dict[str, str] = TABLES[table]  # type: ignore[assignment]
    return fmt.gettext(names.get(value, UNKNOWN))
