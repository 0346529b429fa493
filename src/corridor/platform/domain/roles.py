"""Who may do what (requirement A6): customer kinds, organisation roles, staff roles, and
the permission each grants. Least privilege: a role holds only the permissions listed."""

from __future__ import annotations

import enum


class UserKind(enum.StrEnum):
    CUSTOMER = "customer"  # an individual, or a member of an institution's organisation
    STAFF = "staff"  # an employee of the payment institution running the platform


class OrgRole(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    INITIATOR = "initiator"
    APPROVER = "approver"
    VIEWER = "viewer"
    AUDITOR = "auditor"


class StaffRole(enum.StrEnum):
    ADMIN = "admin"  # manages staff accounts and system settings
    COMPLIANCE_OFFICER = "compliance_officer"
    SUPPORT_AGENT = "support_agent"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    REGULATOR = "regulator"  # read-only, external


class Perm(enum.StrEnum):
    # organisation scope
    ORG_READ = "org.read"
    ORG_MANAGE = "org.manage"  # name, departments
    ORG_MEMBERS = "org.members"  # add, remove, change roles
    ORG_KYC = "org.kyc"  # submit the business's KYC
    ORG_WALLETS = "org.wallets"  # create wallets, register own keys
    PAY_INITIATE = "pay.initiate"
    PAY_APPROVE = "pay.approve"
    ORG_AUDIT = "org.audit"  # read the organisation's audit trail
    ORG_REPORTS = "org.reports"  # treasury reports: cash, payments, fees, forecast
    # staff scope
    KYC_READ = "kyc.read"
    KYC_REVIEW = "kyc.review"
    CUSTOMERS_READ = "customers.read"
    SUPPORT = "support"
    # review refund requests: a return moves money back, so it is a decision of its own,
    # held by support agents (who talk to the customer) and compliance officers (who
    # judge wrong-payee and fraud cases), not implied by reading customers
    REFUND_REVIEW = "refund.review"
    # decide on inbound money held over a customer's limits (credit it or return it):
    # a compliance decision, so compliance officers only
    FUNDS_REVIEW = "funds.review"
    # freeze and unfreeze a customer's holdings on chain (issue 16): compliance officers
    ACCOUNT_FREEZE = "account.freeze"
    # work compliance alerts and cases (issue 16): release or return held payments, clear
    # screening hits, ask customers for information: compliance officers only
    COMPLIANCE_REVIEW = "compliance.review"
    OPERATE = "operate"
    # supervision (issue 16): read payments, alerts, cases, reports and the audit trail
    # through /v1/regulator and /regulator, every read itself audited; nothing else.
    # Regulators only: internal auditors keep their own reads (audit trail, customers,
    # KYC), and this window exists so an outside party's access is one permission, scoped
    # and traced per read, that widens nobody else's view of list hits and case evidence.
    SUPERVISE = "supervise"
    AUDIT_READ = "audit.read"
    STAFF_MANAGE = "staff.manage"


# Permissions that move money or open chain accounts: services/access.py refuses them to an
# organisation or customer not in good standing (suspended, disabled), whatever the endpoint.
MONEY_PERMS: frozenset[Perm] = frozenset({Perm.PAY_INITIATE, Perm.PAY_APPROVE,
                                          Perm.ORG_WALLETS})

_ORG_READ_ALL = frozenset({Perm.ORG_READ})

ORG_PERMS: dict[OrgRole, frozenset[Perm]] = {
    OrgRole.OWNER: frozenset(
        {Perm.ORG_READ, Perm.ORG_MANAGE, Perm.ORG_MEMBERS, Perm.ORG_KYC, Perm.ORG_WALLETS,
         Perm.PAY_INITIATE, Perm.PAY_APPROVE, Perm.ORG_AUDIT, Perm.ORG_REPORTS}
    ),
    OrgRole.ADMIN: frozenset(
        {Perm.ORG_READ, Perm.ORG_MANAGE, Perm.ORG_MEMBERS, Perm.ORG_KYC, Perm.ORG_WALLETS,
         Perm.ORG_AUDIT, Perm.ORG_REPORTS}
    ),
    OrgRole.INITIATOR: _ORG_READ_ALL | {Perm.PAY_INITIATE},
    OrgRole.APPROVER: _ORG_READ_ALL | {Perm.PAY_APPROVE, Perm.ORG_REPORTS},
    OrgRole.VIEWER: _ORG_READ_ALL,
    OrgRole.AUDITOR: _ORG_READ_ALL | {Perm.ORG_AUDIT, Perm.ORG_REPORTS},
}

STAFF_PERMS: dict[StaffRole, frozenset[Perm]] = {
    StaffRole.ADMIN: frozenset({Perm.STAFF_MANAGE, Perm.OPERATE, Perm.CUSTOMERS_READ}),
    StaffRole.COMPLIANCE_OFFICER: frozenset({Perm.KYC_READ, Perm.KYC_REVIEW, Perm.CUSTOMERS_READ,
                                             Perm.REFUND_REVIEW, Perm.FUNDS_REVIEW,
                                             Perm.ACCOUNT_FREEZE, Perm.COMPLIANCE_REVIEW}),
    StaffRole.SUPPORT_AGENT: frozenset({Perm.SUPPORT, Perm.CUSTOMERS_READ, Perm.REFUND_REVIEW}),
    StaffRole.OPERATOR: frozenset({Perm.OPERATE}),
    StaffRole.AUDITOR: frozenset({Perm.AUDIT_READ, Perm.KYC_READ, Perm.CUSTOMERS_READ}),
    # Supervision only: the audit trail is read through it too (audited), not through
    # audit.read, whose reads are not traced; KYC appears as each case's evidence.
    StaffRole.REGULATOR: frozenset({Perm.SUPERVISE}),
}

# Roles an organisation member may grant: never more than they hold, and only owners
# make owners (so an admin cannot take the organisation over).
GRANTABLE: dict[OrgRole, frozenset[OrgRole]] = {
    OrgRole.OWNER: frozenset(OrgRole),
    OrgRole.ADMIN: frozenset(OrgRole) - {OrgRole.OWNER},
}


def org_allows(role: OrgRole | None, perm: Perm) -> bool:
    return role is not None and perm in ORG_PERMS[role]


def staff_allows(role: StaffRole | None, perm: Perm) -> bool:
    return role is not None and perm in STAFF_PERMS[role]
