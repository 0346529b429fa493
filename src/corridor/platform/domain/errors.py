"""Platform errors: one type, and one enum of stable codes, each with the kind that decides
the HTTP status and a default message.

Bad input and refused requests are `PlatformError`s raised by services (`Err.X.error(...)`)
and turned into a 4xx response by the API; anything else is a bug and becomes a 500 with no
details. The codes are on the wire (clients rely on them): a member's code never changes,
and tests/platform/test_error_codes.py checks each is reachable or marked internal.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class Kind(enum.Enum):
    """The class of a refusal, named by the HTTP status that carries it."""

    INVALID = "invalid"  # the request is malformed or breaks a rule
    BAD_REQUEST = "bad_request"  # the body could not be read at all
    UNAUTHENTICATED = "unauthenticated"  # no valid session or wrong credentials
    FORBIDDEN = "forbidden"  # authenticated, but this role may not do this
    NOT_FOUND = "not_found"  # absent, or not visible to this caller
    METHOD_NOT_ALLOWED = "method_not_allowed"  # the path exists, not with this method
    CONFLICT = "conflict"  # the state does not allow it (now)
    TOO_LARGE = "too_large"  # an upload or body beyond its limit
    UNSUPPORTED_MEDIA = "unsupported_media"  # a body in a format the operation does not take
    RATE_LIMITED = "rate_limited"  # too many attempts
    INTERNAL = "internal"  # a bug: logged, no details shown
    UNAVAILABLE = "unavailable"  # a dependency (the node, a rail) is not reachable

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS[self]


_HTTP_STATUS = {
    Kind.INVALID: 422, Kind.BAD_REQUEST: 400, Kind.UNAUTHENTICATED: 401, Kind.FORBIDDEN: 403,
    Kind.NOT_FOUND: 404, Kind.METHOD_NOT_ALLOWED: 405, Kind.CONFLICT: 409,
    Kind.TOO_LARGE: 413, Kind.UNSUPPORTED_MEDIA: 415, Kind.RATE_LIMITED: 429,
    Kind.INTERNAL: 500, Kind.UNAVAILABLE: 503,
}
assert set(_HTTP_STATUS) == set(Kind)

_I, _A, _F, _N = Kind.INVALID, Kind.UNAUTHENTICATED, Kind.FORBIDDEN, Kind.NOT_FOUND
_C, _U = Kind.CONFLICT, Kind.UNAVAILABLE


@enum.unique
class Err(enum.Enum):
    """Every code the platform's API answers with (as chia's `Err`; the ledger's is
    `RejectCode`). A member is (wire code, kind, default message[, internal]); `internal`
    marks a code no API request is expected to produce (a fallback, or one the CLI alone
    raises), which tests/platform/test_error_codes.py then does not look for."""

    kind: Kind
    message: str
    internal: bool

    def __new__(cls, code: str, kind: Kind, message: str, internal: bool = False) -> Err:
        member = object.__new__(cls)
        member._value_ = code
        member.kind = kind
        member.message = message
        member.internal = internal
        return member

    @property
    def code(self) -> str:
        """The code on the wire."""
        code: str = self.value
        return code

    def error(self, message: str | None = None,
              fields: Mapping[str, str] | None = None) -> PlatformError:
        """The refusal with this code (`message`: this case's words; else the default)."""
        return PlatformError(self, message, fields)

    # --- the request itself (the API's envelope; api/errors.py) -------------------------
    INVALID_REQUEST = "INVALID_REQUEST", _I, "the request is not valid"
    INVALID_JSON = "INVALID_JSON", _I, "the body is not valid JSON"
    DUPLICATE_KEY = "DUPLICATE_KEY", _I, "a key is given twice in the body"
    INVALID_FIELDS = "INVALID_FIELDS", _I, "some fields are not valid"
    BAD_REQUEST = "BAD_REQUEST", Kind.BAD_REQUEST, "the body could not be read"
    TOO_LARGE = "TOO_LARGE", Kind.TOO_LARGE, "the body is larger than allowed"
    METHOD_NOT_ALLOWED = ("METHOD_NOT_ALLOWED", Kind.METHOD_NOT_ALLOWED,
                          "this path does not take this method")
    UNSUPPORTED_MEDIA_TYPE = ("UNSUPPORTED_MEDIA_TYPE", Kind.UNSUPPORTED_MEDIA,
                              "the body's media type is not accepted here")
    HTTP_ERROR = ("HTTP_ERROR", Kind.BAD_REQUEST, "the request was refused",
                  True)  # an HTTP exception of a status the API does not name
    RATE_LIMITED = "RATE_LIMITED", Kind.RATE_LIMITED, "too many attempts; retry later"
    NOT_FOUND = "NOT_FOUND", _N, "no such thing"
    FORBIDDEN = "FORBIDDEN", _F, "your role does not allow this"
    CONFLICT = ("CONFLICT", _C,
                "a concurrent request changed the same thing; nothing was written, retry")
    IDEMPOTENCY_KEY_MISSING = ("IDEMPOTENCY_KEY_MISSING", _I,
                               "the Idempotency-Key header is missing")
    IDEMPOTENCY_KEY_INVALID = ("IDEMPOTENCY_KEY_INVALID", _I,
                               "the Idempotency-Key header is invalid")
    IDEMPOTENCY_KEY_REUSED = ("IDEMPOTENCY_KEY_REUSED", _C,
                              "this Idempotency-Key was used for a different request")
    INVALID_CURSOR = "INVALID_CURSOR", _I, "the cursor is not one this API gave out"
    CSRF_FAILED = "CSRF_FAILED", _F, "the form has expired; load the page again"
    INTERNAL = "INTERNAL", Kind.INTERNAL, "internal error; it has been logged"
    # --- identity and sessions ---------------------------------------------------------
    UNAUTHENTICATED = "UNAUTHENTICATED", _A, "sign in first"
    SESSION_INVALID = "SESSION_INVALID", _A, "the session is invalid or has expired"
    AUTH_FAILED = ("AUTH_FAILED", _A, "the sign-in details are wrong, or the account is "
                   "temporarily locked after too many attempts")
    MFA_FAILED = ("MFA_FAILED", _A,
                  "the code is wrong, or the sign-in attempt has expired")
    INVALID_LANGUAGE = "INVALID_LANGUAGE", _I, "not a language the platform speaks"
    PASSWORD_WRONG = "PASSWORD_WRONG", _I, "the current password is wrong"
    WEAK_PASSWORD = "WEAK_PASSWORD", _I, "the password is too easy to guess"
    INVALID_EMAIL = "INVALID_EMAIL", _I, "the e-mail address is not valid"
    INVALID_PHONE = "INVALID_PHONE", _I, "the phone number is not valid"
    EMAIL_TAKEN = "EMAIL_TAKEN", _C, "an account with this e-mail exists"
    CODE_INVALID = ("CODE_INVALID", _I,
                    "the code is wrong or has expired; ask for a new one")
    CODE_REQUIRED = "CODE_REQUIRED", _I, "give the code (or a recovery code)"
    TOO_MANY_CODES = "TOO_MANY_CODES", _C, "too many codes this hour; try again later"
    VERIFICATION_REQUIRED = ("VERIFICATION_REQUIRED", _C,
                             "verify your e-mail or phone first (a new code can be sent)")
    SECOND_FACTOR_REQUIRED = ("SECOND_FACTOR_REQUIRED", _I,
                              "this account has an authenticator: give its code or a "
                              "recovery code")
    TOTP_ALREADY_ENABLED = "TOTP_ALREADY_ENABLED", _C, "disable the authenticator first"
    TOTP_NOT_ENABLED = "TOTP_NOT_ENABLED", _C, "the authenticator is not on"
    TOTP_NOT_STARTED = "TOTP_NOT_STARTED", _C, "start the authenticator set-up first"
    ACCOUNT_SUSPENDED = ("ACCOUNT_SUSPENDED", _C,
                         "this account is suspended: its money cannot move")
    # --- staff and organisations ------------------------------------------------------
    INVALID_ROLE = "INVALID_ROLE", _I, "no such role"
    CANNOT_DEMOTE_SELF = "CANNOT_DEMOTE_SELF", _C, "another admin must change your role"
    CANNOT_DISABLE_SELF = ("CANNOT_DISABLE_SELF", _C,
                           "another admin must disable your account")
    USER_NOT_FOUND = "USER_NOT_FOUND", _N, "no customer has this e-mail"
    ALREADY_MEMBER = "ALREADY_MEMBER", _C, "this customer is already a member"
    LAST_OWNER = ("LAST_OWNER", _C,
                  "an organisation needs an owner: appoint another first")
    MEMBERS_LIMIT = "MEMBERS_LIMIT", _C, "the organisation has as many members as it may"
    ORGS_LIMIT = "ORGS_LIMIT", _C, "too many organisations"
    ORG_SUSPENDED = "ORG_SUSPENDED", _C, "the organisation is suspended"
    DEPARTMENTS_LIMIT = ("DEPARTMENTS_LIMIT", _C,
                         "the organisation has as many departments as it may")
    DEPARTMENT_EXISTS = "DEPARTMENT_EXISTS", _C, "a department with this name exists"
    DEPARTMENT_IN_USE = ("DEPARTMENT_IN_USE", _C,
                         "move its members to another department first")
    UNKNOWN_DEPARTMENT = "UNKNOWN_DEPARTMENT", _I, "no such department"
    TOO_MANY_WEBHOOKS = "TOO_MANY_WEBHOOKS", _C, "as many webhooks as allowed"
    INVALID_URL = "INVALID_URL", _I, "the URL is not valid"
    URL_NOT_PUBLIC = "URL_NOT_PUBLIC", _I, "the URL must reach a public address"
    # --- identity verification (KYC, KYB) -----------------------------------------------
    KYC_REQUIRED = "KYC_REQUIRED", _C, "complete identity verification (KYC) first"
    KYB_REQUIRED = ("KYB_REQUIRED", _C,
                    "the organisation's business verification (KYB) must be accepted first")
    KYC_REJECTED = "KYC_REJECTED", _C, "this KYC record was rejected; contact support"
    KYC_NOT_IN_REVIEW = "KYC_NOT_IN_REVIEW", _C, "this KYC record is not in review"
    KYC_FILES_LIMIT = "KYC_FILES_LIMIT", _C, "as many files as a record may have"
    KYC_REVIEW_DUE = ("KYC_REVIEW_DUE", _C,
                      "your verification is due for review: send your details again; until "
                      "it is accepted you can receive money but not send or withdraw it")
    STILL_ABOVE_LIMITS = ("STILL_ABOVE_LIMITS", _C,
                          "the money held is still above the tier's limits")
    FILE_EMPTY = "FILE_EMPTY", _I, "the file is empty"
    FILE_TOO_LARGE = "FILE_TOO_LARGE", Kind.TOO_LARGE, "the file is larger than allowed"
    FILE_TYPE_UNSUPPORTED = "FILE_TYPE_UNSUPPORTED", _I, "upload a JPEG, PNG or PDF file"
    FILE_TYPE_MISMATCH = ("FILE_TYPE_MISMATCH", _I,
                          "the file's content does not match its type")
    # --- wallets and the chain ------------------------------------------------------------
    INVALID_LABEL = "INVALID_LABEL", _I, "the label is not valid"
    INVALID_ASSET_CODE = ("INVALID_ASSET_CODE", _I,
                          "asset codes are 1-12 characters A-Z or 0-9")
    TOO_MANY_ASSETS = "TOO_MANY_ASSETS", _I, "too many assets at once"
    TOO_MANY_WALLETS = "TOO_MANY_WALLETS", _C, "as many wallets as allowed"
    TOO_MANY_CHALLENGES = "TOO_MANY_CHALLENGES", _C, "too many open key challenges"
    WALLET_EXISTS = "WALLET_EXISTS", _C, "this key is already registered"
    ADDRESS_TAKEN = "ADDRESS_TAKEN", _C, "that address belongs to another account"
    CHALLENGE_UNKNOWN = "CHALLENGE_UNKNOWN", _I, "no such challenge"
    CHALLENGE_EXPIRED = ("CHALLENGE_EXPIRED", _C,
                         "this challenge has expired; ask for a new one")
    CHALLENGE_USED = "CHALLENGE_USED", _C, "this challenge was used; ask for a new one"
    KEY_NOT_PROVEN = "KEY_NOT_PROVEN", _I, "the signature does not prove the key"
    NODE_UNAVAILABLE = "NODE_UNAVAILABLE", _U, "the chain node is not reachable"
    NODE_BAD_REPLY = "NODE_BAD_REPLY", _U, "the chain node gave an unreadable reply"
    NODE_NOT_CONFIGURED = ("NODE_NOT_CONFIGURED", _U,
                           "no node is configured: the chain cannot be checked",
                           True)  # only `corridor platform wallets-check` (services/reconcile)
    # The public explorer's pages (web/pages_explorer.py) alone raise these: internal to the API.
    CHAIN_QUERY_INVALID = ("CHAIN_QUERY_INVALID", _I,
                           "not a block height, transaction hash or account address", True)
    BLOCK_NOT_FOUND = "BLOCK_NOT_FOUND", _N, "no block at this height (yet)", True
    TX_NOT_FOUND = "TX_NOT_FOUND", _N, "no committed transaction with this hash", True
    ACCOUNT_NOT_FOUND = "ACCOUNT_NOT_FOUND", _N, "no account at this address", True
    LIST_FILE_INVALID = ("LIST_FILE_INVALID", _I, "the sanctions list file cannot be read",
                         True)  # only `corridor compliance lists import` (services/screening)
    # --- money: quotes, payments, refunds ------------------------------------------------
    UNKNOWN_CURRENCY = "UNKNOWN_CURRENCY", _I, "the platform does not hold this currency"
    CURRENCY_NOT_ALLOWED = ("CURRENCY_NOT_ALLOWED", _I,
                            "your verification tier does not allow this currency")
    INVALID_AMOUNT = "INVALID_AMOUNT", _I, "the amount is not valid"
    AMOUNT_TOO_SMALL = "AMOUNT_TOO_SMALL", _I, "the amount does not cover the fee"
    INVALID_RATE = "INVALID_RATE", _I, "the rate is not valid"
    RATE_UNAVAILABLE = "RATE_UNAVAILABLE", _U, "no rate for this pair right now"
    SAME_CURRENCY = "SAME_CURRENCY", _I, "a same-currency transfer needs no quote"
    QUOTE_EXPIRED = "QUOTE_EXPIRED", _C, "this quote has expired; ask for a new one"
    QUOTE_USED = "QUOTE_USED", _C, "this quote has already been used for a payment"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED", _I, "above your limit"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS", _C, "not enough money available"
    NO_OPEN_WALLET = "NO_OPEN_WALLET", _C, "there is no open wallet to pay from"
    NO_WALLET = "NO_WALLET", _C, "there is no open wallet to withdraw from"
    SAME_WALLET = ("SAME_WALLET", _I,
                   "a payment to the same wallet in the same currency")
    WALLET_CANNOT_RECEIVE = ("WALLET_CANNOT_RECEIVE", _I,
                             "your wallet cannot receive this currency")
    RECIPIENT_NOT_FOUND = ("RECIPIENT_NOT_FOUND", _N,
                           "no customer with an open wallet has these details")
    RECIPIENT_CANNOT_RECEIVE = ("RECIPIENT_CANNOT_RECEIVE", _I,
                                "the recipient cannot receive this currency")
    INVALID_TRANSFER = "INVALID_TRANSFER", _I, "the transfer is not valid"
    NOT_CANCELLABLE = "NOT_CANCELLABLE", _C, "the payment can no longer be cancelled"
    USE_CANCEL = "USE_CANCEL", _C, "the payment is not sent yet: cancel it instead"
    PAYMENT_NOT_FINAL = ("PAYMENT_NOT_FINAL", _C,
                         "the payment is still settling; ask for a refund once it is credited")
    PAYOUT_IN_FLIGHT = ("PAYOUT_IN_FLIGHT", _C,
                        "the bank payout of this payment is still in progress")
    ALREADY_REFUNDED = "ALREADY_REFUNDED", _C, "this payment was refunded"
    REFUND_OPEN = "REFUND_OPEN", _C, "a refund of this payment is already open"
    REFUND_DECIDED = "REFUND_DECIDED", _C, "this refund is already decided"
    REFUND_FILES_LIMIT = "REFUND_FILES_LIMIT", _C, "as many files as a refund may have"
    NOTHING_TO_REFUND = "NOTHING_TO_REFUND", _C, "nothing of this payment is left to refund"
    RECIPIENT_NOT_RECOVERABLE = ("RECIPIENT_NOT_RECOVERABLE", _C,
                                 "the payee is outside the platform: the money can only be "
                                 "returned by the payee")
    # --- batch payments (issue 17) -----------------------------------------------------
    BATCH_SELF_APPROVAL = ("BATCH_SELF_APPROVAL", _F,
                           "the member who uploaded a batch cannot approve it")
    BATCH_STATE = "BATCH_STATE", _C, "the batch cannot do this in its current state"
    INVALID_DECISION = "INVALID_DECISION", _I, "the decision is not valid"
    HOLD_DECIDED = "HOLD_DECIDED", _C, "this hold is already decided"
    # --- freezes (issue 16) ------------------------------------------------------------------
    ACCOUNT_FROZEN = ("ACCOUNT_FROZEN", _C,
                      "the account is frozen by compliance: no money can leave it")
    ALREADY_FROZEN = "ALREADY_FROZEN", _C, "the account is already frozen"
    NOT_FROZEN = "NOT_FROZEN", _C, "the account is not frozen"
    FREEZE_PENDING = ("FREEZE_PENDING", _C,
                      "the chain has not answered the freeze yet: try again shortly")
    FOUR_EYES_REQUIRED = ("FOUR_EYES_REQUIRED", _F,
                          "another officer must make this decision")
    # --- compliance cases --------------------------------------------------------------------
    CASE_CLOSED = "CASE_CLOSED", _C, "this case is closed"
    NOTHING_HELD = "NOTHING_HELD", _C, "no payment of this case is on hold"
    CASE_HOLDS_PAYMENTS = ("CASE_HOLDS_PAYMENTS", _C,
                           "decide the payments on hold (release or return) before closing")
    FOUR_EYES = ("FOUR_EYES", _F,
                 "you released a hold in this case: a second officer closes it")
    # --- suspicious-transaction reports and retention (issue 16) -----------------------------
    REPORT_OPEN = ("REPORT_OPEN", _C,
                   "this case already has a report in draft or in review")
    REPORT_STATE = ("REPORT_STATE", _C,
                    "the report is not in a state that allows this step")
    REPORT_FILED = "REPORT_FILED", _C, "a filed report cannot be changed"
    # raised by the retention guard: no API route deletes a record in scope
    RETENTION_HELD = ("RETENTION_HELD", _C,
                      "the record is within its retention period and cannot be deleted", True)
    # --- authenticity of cross-border business (supporting documents) ----------------------
    DOCUMENTS_NOT_EXPECTED = ("DOCUMENTS_NOT_EXPECTED", _C,
                              "this payment is not waiting for supporting documents")
    DOCUMENTS_LIMIT = ("DOCUMENTS_LIMIT", _C,
                       "the payment has as many supporting documents as it may have")
    DOCUMENTS_MISSING = ("DOCUMENTS_MISSING", _C,
                         "no supporting document has been uploaded for this payment yet")
    DOCUMENTS_NOT_VERIFIED = ("DOCUMENTS_NOT_VERIFIED", _C,
                              "a payment held for supporting documents is released only "
                              "once an officer found them in agreement")
    # --- history ---------------------------------------------------------------------------
    INVALID_FILTERS = "INVALID_FILTERS", _I, "the filters are not valid"
    EXPORT_TOO_LARGE = "EXPORT_TOO_LARGE", _I, "the export is too large: narrow the filters"
    # --- bank rails ------------------------------------------------------------------------
    RAIL_UNAVAILABLE = "RAIL_UNAVAILABLE", _U, "the bank rail is not set up"
    RETURN_REFUSED = "RETURN_REFUSED", _C, "the rail refused to return the money"
    SIM_BANK_STAFF_ONLY = "SIM_BANK_STAFF_ONLY", _F, "the simulated bank is for staff"
    WEBHOOK_SIGNATURE_INVALID = ("WEBHOOK_SIGNATURE_INVALID", _A,
                                 "the signature does not match")
    WEBHOOK_STALE = ("WEBHOOK_STALE", _A,
                     "the timestamp is outside the tolerance (a replay?)")
    WEBHOOK_EVENT_INVALID = ("WEBHOOK_EVENT_INVALID", _I,
                             "an object with id, type and data")
    # organisations' API keys (issue 17)
    API_KEY_INVALID = ("API_KEY_INVALID", _A,
                       "the API key is unknown, expired or revoked")
    API_KEY_IP_REFUSED = ("API_KEY_IP_REFUSED", _F,
                          "this API key may not be used from this address")
    API_KEY_ROUTE_REFUSED = ("API_KEY_ROUTE_REFUSED", _F,
                             "API keys may not call this operation: sign in as a person")
    API_KEY_SCOPE = ("API_KEY_SCOPE", _F, "the API key's scopes do not allow this")
    API_KEY_NOT_LIVE = ("API_KEY_NOT_LIVE", _C, "the API key is revoked or expired")
    TOO_MANY_API_KEYS = ("TOO_MANY_API_KEYS", _C, "as many live API keys as allowed")
    # --- collections and merchants (issue 17) --------------------------------------------
    REQUEST_NOT_OPEN = ("REQUEST_NOT_OPEN", _C,
                        "this payment request is no longer open (paid, declined or cancelled)")
    REQUEST_BEING_PAID = ("REQUEST_BEING_PAID", _C,
                          "someone else is paying this request right now")
    REFERENCE_TAKEN = ("REFERENCE_TAKEN", _C,
                       "another request of yours already uses this reference")
    MERCHANT_EXISTS = "MERCHANT_EXISTS", _C, "this organisation already has a merchant account"
    NO_MERCHANT = "NO_MERCHANT", _N, "this organisation has no merchant account"
    ORDER_NOT_PAID = "ORDER_NOT_PAID", _C, "the order is not paid: nothing to refund"
    REFUND_ABOVE_PAID = ("REFUND_ABOVE_PAID", _I,
                         "refunds of an order cannot exceed what was paid for it")
    # --- approval policies and approvals (issue 17; domain/approvals.py) ---------------------
    POLICY_INVALID = "POLICY_INVALID", _I, "the approval policy has problems"
    PAYMENT_BLOCKED = ("PAYMENT_BLOCKED", _C,
                       "the organisation's approval policy blocks this payment")
    APPROVERS_TOO_FEW = ("APPROVERS_TOO_FEW", _C,
                         "the approval policy needs more approvers than the organisation has "
                         "(the initiator never approves)")
    MAKER_CHECKER = ("MAKER_CHECKER", _F, "you initiated it: someone else must approve it")
    ALREADY_DECIDED = "ALREADY_DECIDED", _C, "you have already decided on this"
    NOT_AN_APPROVER = ("NOT_AN_APPROVER", _F,
                       "you are not an approver of the level now deciding")
    APPROVAL_CLOSED = "APPROVAL_CLOSED", _C, "this approval is no longer open"
    APPROVAL_EXPIRED = "APPROVAL_EXPIRED", _C, "the time to approve has passed"
    CONSENT_NOT_NEEDED = ("CONSENT_NOT_NEEDED", _C,
                          "this payment is not waiting for consent to a new price")
    BENEFICIARY_EXISTS = ("BENEFICIARY_EXISTS", _C,
                          "this beneficiary is already in the organisation's book")
    CHANGE_PENDING = ("CHANGE_PENDING", _C,
                      "a change of this beneficiary's bank details is waiting for approval")


class PlatformError(Exception):
    """A refusal: its code (`err`, with the kind), a human message, and per-field problems."""

    def __init__(self, err: Err, message: str | None = None,
                 fields: Mapping[str, str] | None = None) -> None:
        message = message or err.message
        super().__init__(message)
        self.err = err
        self.kind = err.kind
        self.code = err.code  # the code on the wire (UPPER_SNAKE)
        self.message = message
        self.fields = dict(fields or {})

    def __repr__(self) -> str:
        return f"PlatformError({self.err.name}, {self.message!r})"


def not_found(what: str) -> PlatformError:
    return Err.NOT_FOUND.error(f"no such {what}")


def forbidden(message: str | None = None) -> PlatformError:
    return Err.FORBIDDEN.error(message)


def rate_limited(message: str) -> PlatformError:
    return Err.RATE_LIMITED.error(message)


class Problems:
    """Collects every field problem before refusing (report all at once, not the first)."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, message)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def raise_if_any(self, err: Err = Err.INVALID_FIELDS, message: str = "") -> None:
        if self.fields:
            names = ", ".join(sorted(self.fields))
            raise err.error(message or f"invalid fields: {names}", self.fields)
