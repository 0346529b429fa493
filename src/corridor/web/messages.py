"""Refusals in the reader's language. Services refuse with a stable code and an English
message; a page shows the code's message from the catalogue (the code is the contract, the
English text is not), and for each field the service's own words when the catalogue has
them in the reader's language, else what that field generally needs. No refusal reaches a
Chinese reader in English: `tests/web/test_i18n.py` checks every message here is translated.
"""

from __future__ import annotations

from collections.abc import Mapping

from corridor.platform.domain.errors import Kind, PlatformError
from corridor.web.i18n import Formats


def N_(message: str) -> str:
    """Marks a message for the catalogue; translated where it is shown."""
    return message


BY_CODE = {
    # approvals (issue 17)
    "POLICY_INVALID": N_("The approval policy has problems: see each one below."),
    "PAYMENT_BLOCKED": N_("The organisation's approval policy blocks this payment."),
    "APPROVERS_TOO_FEW": N_("The approval policy needs more approvers than the organisation "
                            "has: whoever initiates never approves."),
    "MAKER_CHECKER": N_("You initiated this: someone else must approve it."),
    "ALREADY_DECIDED": N_("You have already decided on this."),
    "NOT_AN_APPROVER": N_("You are not an approver of the level now deciding."),
    "APPROVAL_CLOSED": N_("This approval is closed: it takes no more decisions."),
    "APPROVAL_EXPIRED": N_("The time to approve has passed: the money it reserved is "
                           "released."),
    "CONSENT_NOT_NEEDED": N_("This payment is not waiting for you to accept a new rate."),
    "BENEFICIARY_EXISTS": N_("This beneficiary is already in the organisation's book."),
    "CHANGE_PENDING": N_("New bank details for this beneficiary already wait for approval."),
    "CASE_CLOSED": N_("This case is closed: it takes no more decisions."),
    "NOTHING_HELD": N_("No payment of this case is on hold."),
    "CASE_HOLDS_PAYMENTS": N_("Release or return the payments on hold before closing the "
                              "case."),
    "FOUR_EYES": N_("You released a hold in this case: a second officer closes it."),
    "REPORT_OPEN": N_("This case already has a report in draft or in review: finish that "
                      "one first."),
    "REPORT_STATE": N_("The report is not at a step that allows this."),
    "REPORT_FILED": N_("This report is filed: it cannot be changed."),
    "DOCUMENTS_NOT_EXPECTED": N_("This payment is not waiting for supporting documents."),
    "DOCUMENTS_LIMIT": N_("This payment has as many documents as it may have."),
    "DOCUMENTS_MISSING": N_("No supporting document has been sent for this payment yet."),
    "DOCUMENTS_NOT_VERIFIED": N_("A payment held for supporting documents is released only "
                                 "once its documents were checked and found to agree."),
    "AUTH_FAILED": N_("The sign-in details are wrong, or the account is blocked for a while "
                      "after too many attempts."),
    "MFA_FAILED": N_("The code is wrong, or the sign-in attempt has expired. Start again."),
    "CODE_INVALID": N_("The code is wrong or has expired. Ask for a new one."),
    "CODE_REQUIRED": N_("Enter the code."),
    "VERIFICATION_REQUIRED": N_("Verify your e-mail address or phone number first."),
    "RATE_LIMITED": N_("Too many attempts. Wait a minute and try again."),
    "INVALID_FIELDS": N_("Some answers need correcting."),
    "INVALID_REQUEST": N_("The form was not complete. Check it and send it again."),
    "INVALID_EMAIL": N_("Enter a valid e-mail address."),
    "INVALID_PHONE": N_("Enter a phone number in international form, e.g. +44 20 7946 0958."),
    "WEAK_PASSWORD": N_("Choose a password that is harder to guess."),
    "CSRF_FAILED": N_("This form has expired. Go back, reload the page and send it again."),
    "FORBIDDEN": N_("Your account is not allowed to open this page."),
    "NOT_FOUND": N_("There is nothing here, or it is not yours to see."),
    "SESSION_INVALID": N_("Your session has ended. Sign in again."),
    "UNAUTHENTICATED": N_("Sign in first."),
    "TOTP_ALREADY_ENABLED": N_("The authenticator app is already on."),
    "TOTP_NOT_STARTED": N_("Start setting up the authenticator app first."),
    "TOTP_NOT_ENABLED": N_("The authenticator app is not on."),
    "PASSWORD_WRONG": N_("The current password is wrong."),
    "TOO_MANY_CODES": N_("Too many codes were sent this hour. Try again later."),
    "INSUFFICIENT_FUNDS": N_("There is not enough money in your wallet for this payment, "
                             "fee included."),
    "KYC_REQUIRED": N_("Verify your identity before sending money."),
    "KYC_REVIEW_DUE": N_("Your verification is due for review. Send your details again on "
                         "the Identity verification page; until they are accepted you can "
                         "receive money but not send or withdraw it."),
    "RECIPIENT_NOT_FOUND": N_("We could not find a Corridor account with those details."),
    "RECIPIENT_CANNOT_RECEIVE": N_("The recipient cannot receive this currency yet."),
    "CURRENCY_NOT_ALLOWED": N_("Your verification level does not allow this currency."),
    "LIMIT_EXCEEDED": N_("This is above the limit of your verification level."),
    "NO_OPEN_WALLET": N_("Your wallet is not open on the ledger yet. Try again shortly."),
    "QUOTE_EXPIRED": N_("The price has expired. Look at the cost again to get a new one."),
    "QUOTE_USED": N_("This price was already used for a payment."),
    "INVALID_AMOUNT": N_("Enter an amount such as 100.00."),
    "SAME_WALLET": N_("You cannot pay your own wallet."),
    # batch payments (issue 17)
    "BATCH_SELF_APPROVAL": N_("You uploaded this batch: another member must approve it."),
    "BATCH_STATE": N_("This batch cannot be approved or rejected now."),
    "RATE_UNAVAILABLE": N_("No exchange rate is available just now. Try again shortly."),
    "UNKNOWN_CURRENCY": N_("Choose one of the currencies offered."),
    "SECOND_FACTOR_REQUIRED": N_("This account has an authenticator app: enter its code or "
                                 "a recovery code too."),
    # the institution console (pages_org.py)
    "USER_NOT_FOUND": N_("No active Corridor customer has this e-mail address."),
    "ALREADY_MEMBER": N_("This person is already a member of the organisation."),
    "LAST_OWNER": N_("The organisation must keep an owner: make someone else an owner "
                     "first."),
    "MEMBERS_LIMIT": N_("The organisation has as many members as it may have."),
    "ORGS_LIMIT": N_("The limit on organisations has been reached."),
    "ORG_SUSPENDED": N_("The organisation is suspended: this cannot be done until it is "
                        "reinstated."),
    "DEPARTMENTS_LIMIT": N_("The organisation has as many departments as it may have."),
    "DEPARTMENT_EXISTS": N_("A department with this name exists already."),
    "DEPARTMENT_IN_USE": N_("Members belong to this department: move them to another "
                            "first."),
    "UNKNOWN_DEPARTMENT": N_("Choose one of the organisation's departments."),
    "INVALID_ROLE": N_("Choose one of the roles offered."),
    "KYB_REQUIRED": N_("The organisation's business verification must be accepted before "
                       "it can open wallets."),
    "TOO_MANY_WALLETS": N_("The organisation has as many wallets as it may have."),
    "INVALID_LABEL": N_("Enter a label of 1 to 100 characters."),
    "TOO_MANY_WEBHOOKS": N_("The organisation has as many webhooks as it may have."),
    "INVALID_URL": N_("Enter a full address starting with https://, without a user name "
                      "or password."),
    "URL_NOT_PUBLIC": N_("Webhooks go to public internet addresses only."),
    "EMAIL_TAKEN": N_("An account with this e-mail address already exists."),
    "CANNOT_DEMOTE_SELF": N_("Another administrator must change your own role."),
    "CANNOT_DISABLE_SELF": N_("You cannot disable your own account."),
    "IDEMPOTENCY_KEY_REUSED": N_("This form was already sent for something else. Open the "
                                 "page again and start over."),
    # The explorer's (pages_explorer.py)
    "CHAIN_QUERY_INVALID": N_("Search for a block height (such as 12), a transaction or block "
                              "hash (64 hexadecimal digits) or an account address (starting "
                              "with c)."),
    "BLOCK_NOT_FOUND": N_("The ledger has no block at this height yet."),
    "TX_NOT_FOUND": N_("The ledger has no committed transaction or block with this hash. A "
                       "transaction just sent may need a few seconds."),
    "ACCOUNT_NOT_FOUND": N_("No account is open at this address on the ledger."),
    "NODE_UNAVAILABLE": N_("The ledger cannot be reached just now. Try again in a minute."),
    "NODE_BAD_REPLY": N_("The ledger cannot be reached just now. Try again in a minute."),
    # refunds (pages_refunds.py)
    "REFUND_OPEN": N_("A refund of this payment is already being looked at."),
    "ALREADY_REFUNDED": N_("This payment was refunded already."),
    "PAYMENT_NOT_FINAL": N_("This payment is still on its way. Ask for a refund once it "
                            "has been credited."),
    "USE_CANCEL": N_("This payment has not been sent yet: cancel it instead."),
    "NOTHING_TO_REFUND": N_("This payment moved no money, so there is nothing to refund."),
    "FILE_EMPTY": N_("The file is empty."),
    "FILE_TOO_LARGE": N_("The file is too large."),
    "FILE_TYPE_UNSUPPORTED": N_("Upload a JPEG, PNG or PDF file."),
    "FILE_TYPE_MISMATCH": N_("Upload a JPEG, PNG or PDF file."),
    "REFUND_FILES_LIMIT": N_("You have uploaded as many evidence files as we keep. "
                             "Contact support."),
    # compliance freezes (issue 16)
    "ACCOUNT_FROZEN": N_("This account is frozen by our compliance team: no money can leave "
                         "it for now. Contact support."),
    "ALREADY_FROZEN": N_("This account is already frozen."),
    "NOT_FROZEN": N_("This account is not frozen."),
    "FREEZE_PENDING": N_("The ledger has not carried out the freeze yet. Try again in a "
                         "moment."),
    "FOUR_EYES_REQUIRED": N_("Another compliance officer must make this decision."),
    # collections and merchants (pages_collections.py)
    "REQUEST_NOT_OPEN": N_("This request is no longer open: it was paid, declined or "
                           "cancelled."),
    "REQUEST_BEING_PAID": N_("Someone is paying this request right now. Look again in a few "
                             "minutes."),
    "REFERENCE_TAKEN": N_("You already have a request with this reference: choose another."),
    "MERCHANT_EXISTS": N_("This organisation already has a merchant account."),
    "NO_MERCHANT": N_("This organisation has no merchant account yet."),
    "ORDER_NOT_PAID": N_("This order is not paid yet: there is nothing to refund."),
    "REFUND_ABOVE_PAID": N_("Refunds of an order cannot add up to more than was paid for it."),
}
BY_KIND = {
    Kind.INVALID: N_("Some answers need correcting."),
    Kind.BAD_REQUEST: N_("The request could not be read. Load the page again and retry."),
    Kind.METHOD_NOT_ALLOWED: N_("This page cannot be used that way."),
    Kind.UNSUPPORTED_MEDIA: N_("This kind of file or form is not accepted here."),
    Kind.INTERNAL: N_("Something went wrong on our side. It has been logged; try again later."),
    Kind.UNAUTHENTICATED: N_("Sign in first."),
    Kind.FORBIDDEN: N_("Your account is not allowed to do this."),
    Kind.NOT_FOUND: N_("There is nothing here, or it is not yours to see."),
    Kind.CONFLICT: N_("This cannot be done now."),
    Kind.RATE_LIMITED: N_("Too many attempts. Wait a minute and try again."),
    Kind.TOO_LARGE: N_("The file or form is too large."),
    Kind.UNAVAILABLE: N_("A service we depend on is not reachable. Try again shortly."),
}
# What a field needs, when the service's own words are not in the reader's language.
BY_FIELD = {
    "name": N_("Enter your name (1 to 200 characters)."),
    "email": N_("Enter a valid e-mail address."),
    "phone": N_("Enter a phone number in international form, e.g. +44 20 7946 0958."),
    "password": N_("Use 12 or more characters that are hard to guess: several unrelated "
                   "words work well."),
    "accept_terms": N_("Accept the terms and the privacy policy to continue."),
    "code": N_("Enter the code you were sent."),
    "identifier": N_("Enter your e-mail address or phone number."),
    "new_password": N_("Use 12 or more characters that are hard to guess: several unrelated "
                       "words work well."),
    "old_password": N_("Enter your current password."),
    "recipient": N_("Enter the recipient's e-mail address or phone number."),
    "amount": N_("Enter an amount such as 100.00."),
    "memo": N_("At most 140 printable characters."),
    "country": N_("Choose a country from the list."),
    "label": N_("Enter a label of 1 to 100 characters."),
    "url": N_("Enter a full address starting with https://, without a user name or "
              "password."),
    "role": N_("Choose one of the roles offered."),
    "department_id": N_("Choose one of the organisation's departments."),
    "kind": N_("Choose what went wrong."),
    "reason": N_("Say why you ask for a refund (at most 1000 characters)."),
    "evidence": N_("Upload a JPEG, PNG or PDF file."),
    "note": N_("Say why, in at most 2000 characters."),
    "message": N_("Say what the customer should send, in at most 120 characters."),
    "respond_days": N_("Enter a number of days from 1 to 30."),
    "alert_id": N_("Choose an open screening alert of this case."),
    "purpose": N_("Choose one of the purposes offered."),
    "document": N_("Upload a PDF, JPEG or PNG file."),
    "check_reason": N_("Say what you checked, in at most 1000 characters."),
}
FIELD_FALLBACK = N_("Check this answer.")


def refusal_text(fmt: Formats, exc: PlatformError) -> str:
    return fmt.gettext(BY_CODE.get(exc.code) or BY_KIND[exc.kind])


def field_texts(fmt: Formats, fields: Mapping[str, str]) -> dict[str, str]:
    """Each field's problem in the reader's language."""
    out = {}
    for name, message in fields.items():
        if fmt.language == "en":
            out[name] = message[:1].upper() + message[1:]
            continue
        translated = fmt.gettext(message)
        out[name] = (translated if translated != message
                     else fmt.gettext(BY_FIELD.get(name, FIELD_FALLBACK)))
    return out
