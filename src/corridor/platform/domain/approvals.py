"""Approval policies and approvals (issue 17, "Approval policies"; modelled on Ramp's and
Brex's approval chains). Pure: values in, values out; no clock, storage or I/O.

A `Policy` is an organisation's ordered list of `Rule`s. Each rule matches on the facts of
a subject (a payment, a batch, ...; `Facts`): its amount in the reference currency, its
currency, the recipient's type, whether the beneficiary is new, the initiator's department
and the initiator. The first rule that matches decides: ALLOW, BLOCK, or APPROVE through
`levels`, in sequence, each "N of M from a group" (a named set of members, or everyone
holding an organisation role). The last rule is the default and matches everything.

`check_policy` reports every problem of a policy at once (a rule no subject can reach
because an earlier, broader rule takes everything it would, a group without members,
N > M, an unknown currency, ...). A saved policy is never changed: saving makes a new
version, and an approval keeps the version (and the approvers) it was routed by.

`vote` applies one approver's decision to an `Approval`: maker != checker (the initiator
never approves), nobody decides twice, each level needs N distinct approvers of its own
group, and an approval past its time can only expire.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence

from corridor.platform.domain import money
from corridor.platform.domain.errors import Err, PlatformError, Problems
from corridor.platform.domain.roles import OrgRole

REFERENCE = "USD"  # amounts are matched in this currency, at the quote's rate
RULES_MAX = 50
LEVELS_MAX = 5
GROUPS_MAX = 20
GROUP_MEMBERS_MAX = 100
NAME_LEN_MAX = 64
NOTE_LEN_MAX = 500
APPROVAL_TTL_MS_DEFAULT = 3 * 86_400_000  # three days to decide
APPROVAL_TTL_MS_MIN = 60_000
APPROVAL_TTL_MS_MAX = 30 * 86_400_000
COOLING_OFF_MS_DEFAULT = 86_400_000  # a new beneficiary counts as new for a day
COOLING_OFF_MS_MAX = 30 * 86_400_000
TOLERANCE_BP_DEFAULT = 50  # 0.5 %: a rate moved more than this needs the payer's consent
TOLERANCE_BP_MAX = 10_000
QUEUE_PAGE_MAX = 100

assert LEVELS_MAX * GROUP_MEMBERS_MAX <= 1000  # the voters of one approval stay few

# What validation says, field by field: fixed words (the field names the rule or group),
# so that pages can show each in the reader's language (web/pages_approvals.py lists them
# for the catalogue; a test checks the two lists agree).
M_NAME = "a name of 1 to 64 printable characters"
M_MEMBERS_OR_ROLE = "give members or a role, not both"
M_ROLE = "one of the organisation's roles"
M_ROLE_EMPTY = "no member holds this role"
M_NO_MEMBERS = "a group needs members (or a role)"
M_MEMBERS_MAX = "at most 100 members"
M_TWICE = "a member is listed twice"
M_NOT_MEMBERS = "not all are members of the organisation"
M_ZERO_OR_MORE = "zero or more"
M_ABOVE_MIN = "must be above the minimum"
M_CURRENCY = "an unknown currency"
M_RECIPIENT_TYPE = "one of user, address, external"
M_DEPARTMENTS = "not departments of the organisation"
M_LEVELS_NEEDED = "an approval rule needs at least one level"
M_LEVELS_ONLY = "only an approval rule has levels"
M_LEVELS_MAX = "at most 5 levels"
M_NO_GROUP = "no such group"
M_AT_LEAST_1 = "at least 1"
M_N_OVER_M = "more approvals than the group has members"
M_RULES_EMPTY = "at least the default rule"
M_RULES_MAX = "at most 50 rules"
M_GROUPS_MAX = "at most 20 groups"
M_GROUP_NAMES = "two groups have the same name"
M_UNREACHABLE = "unreachable: an earlier rule takes every payment it would"
M_DEFAULT_LAST = "the last rule is the default: it must have no conditions"
M_TTL = "between one minute and 30 days"
M_TOLERANCE = "0 to 10000 basis points"
M_COOLING = "0 to 30 days"
M_RULES_LIST = "a list of rules"
M_RULE_SHAPE = "not a valid rule"
M_GROUPS_LIST = "a list of groups"
M_GROUP_SHAPE = "a group: a name, and members (user ids) or a role"
M_WHOLE = "a whole number"
MESSAGES = tuple(v for k, v in dict(globals()).items() if k.startswith("M_"))
assert (NAME_LEN_MAX, GROUP_MEMBERS_MAX, LEVELS_MAX, RULES_MAX, GROUPS_MAX) == (
    64, 100, 5, 50, 20)  # the words above say so
assert (APPROVAL_TTL_MS_MIN, APPROVAL_TTL_MS_MAX, TOLERANCE_BP_MAX, COOLING_OFF_MS_MAX) == (
    60_000, 30 * 86_400_000, 10_000, 30 * 86_400_000)


class Action(enum.StrEnum):
    ALLOW = "allow"
    BLOCK = "block"
    APPROVE = "approve"  # needs the rule's levels of approvals


class Beneficiary(enum.StrEnum):
    """A beneficiary is new when it is not in the organisation's book, or still in its
    cooling-off period there; known otherwise."""

    NEW = "new"
    KNOWN = "known"


class ApprovalState(enum.StrEnum):
    PENDING = "pending"
    # every level approved, but the rate moved beyond the tolerance: the payer consents
    # to the new price (or the approval expires and the money is released)
    AWAITING_CONSENT = "awaiting_consent"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


OPEN_STATES = frozenset({ApprovalState.PENDING, ApprovalState.AWAITING_CONSENT})


class SubjectKind(enum.StrEnum):
    """What approvals are opened for; each has an entry in bootstrap.HANDLERS
    (approval_subjects) saying what approving or refusing it does."""

    PAYMENT = "payment"
    BENEFICIARY_CHANGE = "beneficiary_change"  # new bank details of a saved beneficiary
    BATCH = "batch"  # a batch of payments (issue 17's batches; registered by that area)


class Decision(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


RECIPIENT_TYPES = ("user", "address", "external")  # domain/payments.RecipientType


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """Who may approve at a level: named `members` (user ids), or everyone holding
    `role` in the organisation when the subject is routed."""

    name: str
    members: tuple[str, ...] = ()
    role: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Level:
    """`required` distinct approvals from `group`."""

    group: str
    required: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """Conditions (empty / None: any) and what happens to a subject matching all of them.
    Amounts are minor units of REFERENCE: `usd_min_minor` <= amount < `usd_max_minor`."""

    action: Action
    usd_min_minor: int | None = None
    usd_max_minor: int | None = None
    currencies: tuple[str, ...] = ()
    recipient_types: tuple[str, ...] = ()
    beneficiary: Beneficiary | None = None
    departments: tuple[str, ...] = ()
    initiators: tuple[str, ...] = ()
    levels: tuple[Level, ...] = ()

    def is_default(self) -> bool:
        return (self.usd_min_minor is None and self.usd_max_minor is None
                and not self.currencies and not self.recipient_types
                and self.beneficiary is None and not self.departments
                and not self.initiators)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """One saved version of an organisation's approval policy."""

    id: str
    org_id: str
    version: int
    rules: tuple[Rule, ...]
    groups: tuple[Group, ...]
    approval_ttl_ms: int
    tolerance_bp: int  # re-quote beyond this move of the rate (basis points)
    cooling_off_ms: int  # how long a new beneficiary stays "new"
    created_by: str
    created_ms: int


def default_policy(org_id: str) -> Policy:
    """What an organisation without a saved policy has: everything allowed (version 0)."""
    return Policy(id="", org_id=org_id, version=0, rules=(Rule(action=Action.ALLOW),),
                  groups=(), approval_ttl_ms=APPROVAL_TTL_MS_DEFAULT,
                  tolerance_bp=TOLERANCE_BP_DEFAULT, cooling_off_ms=COOLING_OFF_MS_DEFAULT,
                  created_by="", created_ms=0)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """What a rule can match a subject on."""

    usd_minor: int
    currency: str
    recipient_type: str | None  # None: a subject with several recipients (a batch)
    beneficiary: Beneficiary
    department_id: str | None
    initiator_id: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StageSpec:
    """A level as routed: its group's approvers fixed at that moment (M = len)."""

    group: str
    required: int
    approvers: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """The policy's answer for one subject."""

    action: Action
    rule_index: int
    policy_version: int
    stages: tuple[StageSpec, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """A subject waiting for (or done with) its approvals, keyed by (subject_kind,
    subject_id); `level`: the index of the stage now deciding."""

    id: str
    subject_kind: str
    subject_id: str
    org_id: str
    initiator_id: str
    policy_version: int
    rule_index: int
    stages: tuple[StageSpec, ...]
    level: int
    state: ApprovalState
    amount_minor: int
    currency: str
    summary: str  # what the queue shows (recipient's name, batch's name)
    expires_ms: int
    decided_ms: int | None
    created_ms: int
    updated_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Vote:
    """One approver's decision at one level."""

    id: str
    approval_id: str
    level: int
    user_id: str
    decision: Decision
    note: str
    created_ms: int


# --- matching ----------------------------------------------------------------------------


def matches(rule: Rule, f: Facts) -> bool:
    """Whether `f` meets every condition of `rule`."""
    return ((rule.usd_min_minor is None or f.usd_minor >= rule.usd_min_minor)
            and (rule.usd_max_minor is None or f.usd_minor < rule.usd_max_minor)
            and (not rule.currencies or f.currency in rule.currencies)
            and (not rule.recipient_types or f.recipient_type in rule.recipient_types)
            and (rule.beneficiary is None or f.beneficiary is rule.beneficiary)
            and (not rule.departments or f.department_id in rule.departments)
            and (not rule.initiators or f.initiator_id in rule.initiators))


def route(policy: Policy, f: Facts, role_members: Mapping[str, Sequence[str]]) -> Route:
    """The first matching rule's answer, its levels' approvers fixed now (`role_members`:
    organisation role -> member user ids). The policy ends in a default rule, so some
    rule always matches."""
    for index, rule in enumerate(policy.rules):
        if matches(rule, f):
            stages = tuple(StageSpec(group=lv.group, required=lv.required,
                                     approvers=approvers_of(policy, lv.group, role_members))
                           for lv in rule.levels)
            return Route(action=rule.action, rule_index=index,
                         policy_version=policy.version, stages=stages)
    raise AssertionError(f"policy {policy.org_id} v{policy.version} has no default rule")


def approvers_of(policy: Policy, group_name: str,
                 role_members: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    group = next(g for g in policy.groups if g.name == group_name)
    if group.role is not None:
        return tuple(sorted(role_members.get(group.role, ())))
    return group.members


def short_of_approvers(r: Route, initiator_id: str) -> str | None:
    """The first level that could never be approved, the initiator excluded (maker !=
    checker), or None."""
    for s in r.stages:
        if len(set(s.approvers) - {initiator_id}) < s.required:
            return s.group
    return None


# --- validation --------------------------------------------------------------------------


def _covers(wide: Rule, narrow: Rule) -> bool:
    """Every subject `narrow` matches, `wide` matches too."""
    def sets(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
        return not a or (bool(b) and set(b) <= set(a))
    lo_ok = wide.usd_min_minor is None or (narrow.usd_min_minor is not None
                                           and narrow.usd_min_minor >= wide.usd_min_minor)
    hi_ok = wide.usd_max_minor is None or (narrow.usd_max_minor is not None
                                           and narrow.usd_max_minor <= wide.usd_max_minor)
    return (lo_ok and hi_ok and sets(wide.currencies, narrow.currencies)
            and sets(wide.recipient_types, narrow.recipient_types)
            and (wide.beneficiary is None or wide.beneficiary is narrow.beneficiary)
            and sets(wide.departments, narrow.departments)
            and sets(wide.initiators, narrow.initiators))


def _check_group(i: int, g: Group, role_members: Mapping[str, Sequence[str]],
                 member_ids: frozenset[str], problems: Problems) -> int:
    """Adds the group's problems; returns its size M."""
    field = f"groups[{i}]"
    if not g.name or len(g.name) > NAME_LEN_MAX or not g.name.isprintable():
        problems.add(f"{field}.name", M_NAME)
    if g.role is not None:
        if g.members:
            problems.add(field, M_MEMBERS_OR_ROLE)
        if g.role not in tuple(OrgRole):
            problems.add(f"{field}.role", M_ROLE)
            return 0
        size = len(role_members.get(g.role, ()))
        if size == 0:
            problems.add(f"{field}.role", M_ROLE_EMPTY)
        return size
    if not g.members:
        problems.add(f"{field}.members", M_NO_MEMBERS)
    elif len(g.members) > GROUP_MEMBERS_MAX:
        problems.add(f"{field}.members", M_MEMBERS_MAX)
    elif len(set(g.members)) != len(g.members):
        problems.add(f"{field}.members", M_TWICE)
    elif set(g.members) - member_ids:
        problems.add(f"{field}.members", M_NOT_MEMBERS)
    return len(g.members)


def _check_rule(i: int, r: Rule, sizes: Mapping[str, int], department_ids: frozenset[str],
                member_ids: frozenset[str], problems: Problems) -> None:
    field = f"rules[{i}]"
    for name in ("usd_min_minor", "usd_max_minor"):
        value = getattr(r, name)
        if value is not None and value < 0:
            problems.add(f"{field}.{name}", M_ZERO_OR_MORE)
    if (r.usd_min_minor is not None and r.usd_max_minor is not None
            and r.usd_min_minor >= r.usd_max_minor):
        problems.add(f"{field}.usd_max_minor", M_ABOVE_MIN)
    bad = [c for c in r.currencies if not money.is_currency(c)]
    if bad:
        problems.add(f"{field}.currencies", M_CURRENCY)
    bad = [t for t in r.recipient_types if t not in RECIPIENT_TYPES]
    if bad:
        problems.add(f"{field}.recipient_types", M_RECIPIENT_TYPE)
    if set(r.departments) - department_ids:
        problems.add(f"{field}.departments", M_DEPARTMENTS)
    if set(r.initiators) - member_ids:
        problems.add(f"{field}.initiators", M_NOT_MEMBERS)
    if r.action is Action.APPROVE and not r.levels:
        problems.add(f"{field}.levels", M_LEVELS_NEEDED)
    if r.action is not Action.APPROVE and r.levels:
        problems.add(f"{field}.levels", M_LEVELS_ONLY)
    if len(r.levels) > LEVELS_MAX:
        problems.add(f"{field}.levels", M_LEVELS_MAX)
    for j, lv in enumerate(r.levels):
        where = f"{field}.levels[{j}]"
        if lv.group not in sizes:
            problems.add(f"{where}.group", M_NO_GROUP)
        elif lv.required < 1:
            problems.add(f"{where}.required", M_AT_LEAST_1)
        elif lv.required > sizes[lv.group]:
            problems.add(f"{where}.required", M_N_OVER_M)


def check_policy(rules: Sequence[Rule], groups: Sequence[Group], *, approval_ttl_ms: int,
                 tolerance_bp: int, cooling_off_ms: int,
                 role_members: Mapping[str, Sequence[str]], department_ids: frozenset[str],
                 problems: Problems) -> None:
    """Adds every problem of a policy to `problems` (field -> message)."""
    member_ids = frozenset(m for ms in role_members.values() for m in ms)
    if not rules:
        problems.add("rules", M_RULES_EMPTY)
    if len(rules) > RULES_MAX:
        problems.add("rules", M_RULES_MAX)
    if len(groups) > GROUPS_MAX:
        problems.add("groups", M_GROUPS_MAX)
    names = [g.name for g in groups]
    if len(set(names)) != len(names):
        problems.add("groups", M_GROUP_NAMES)
    sizes = {g.name: _check_group(i, g, role_members, member_ids, problems)
             for i, g in enumerate(groups)}
    for i, r in enumerate(rules):
        _check_rule(i, r, sizes, department_ids, member_ids, problems)
        earlier = next((k for k in range(i) if _covers(rules[k], r)), None)
        if earlier is not None:
            problems.add(f"rules[{i}]", M_UNREACHABLE)
    if rules and not rules[-1].is_default():
        problems.add(f"rules[{len(rules) - 1}]", M_DEFAULT_LAST)
    if not APPROVAL_TTL_MS_MIN <= approval_ttl_ms <= APPROVAL_TTL_MS_MAX:
        problems.add("approval_ttl_ms", M_TTL)
    if not 0 <= tolerance_bp <= TOLERANCE_BP_MAX:
        problems.add("tolerance_bp", M_TOLERANCE)
    if not 0 <= cooling_off_ms <= COOLING_OFF_MS_MAX:
        problems.add("cooling_off_ms", M_COOLING)


# --- deciding ----------------------------------------------------------------------------


def vote(a: Approval, votes: Sequence[Vote], user_id: str, decision: Decision,
         now_ms: int) -> ApprovalState:
    """The approval's state once `user_id` decides at its current level; refuses
    (PlatformError) the initiator, a second decision of one person, anyone outside the
    level's group, and an approval no longer open or past its time."""
    if a.state is not ApprovalState.PENDING:
        raise Err.APPROVAL_CLOSED.error(f"this approval is {a.state}")
    if now_ms >= a.expires_ms:
        raise Err.APPROVAL_EXPIRED.error()
    if user_id == a.initiator_id:
        raise Err.MAKER_CHECKER.error()
    if any(v.user_id == user_id for v in votes):
        raise Err.ALREADY_DECIDED.error()
    stage = a.stages[a.level]
    if user_id not in stage.approvers:
        raise Err.NOT_AN_APPROVER.error(f"level {a.level + 1} is decided by the group "
                                        f"{stage.group}")
    if decision is Decision.REJECT:
        return ApprovalState.REJECTED
    approved = 1 + sum(1 for v in votes if v.level == a.level
                       and v.decision is Decision.APPROVE)
    if approved >= stage.required and a.level + 1 == len(a.stages):
        return ApprovalState.APPROVED
    return ApprovalState.PENDING


def next_level(a: Approval, votes: Sequence[Vote]) -> int:
    """The level deciding once `votes` (this one's included) are counted."""
    approved = sum(1 for v in votes if v.level == a.level and v.decision is Decision.APPROVE)
    return a.level + 1 if approved >= a.stages[a.level].required else a.level


def moved_beyond(old_price: str, new_price: str, tolerance_bp: int) -> bool:
    """Whether the rate moved more than `tolerance_bp` basis points (exact Decimals)."""
    old, new = money.rate(old_price), money.rate(new_price)
    assert old > 0, old_price
    return abs(new - old) * 10_000 > old * tolerance_bp


def parse_rules(doc: object, problems: Problems) -> tuple[Rule, ...]:
    """Rules from their JSON form (a list of objects), every problem reported."""
    if not isinstance(doc, list):
        problems.add("rules", M_RULES_LIST)
        return ()
    out = []
    for i, item in enumerate(doc):
        try:
            out.append(_rule(item))
        except (TypeError, ValueError, KeyError, PlatformError):
            problems.add(f"rules[{i}]", M_RULE_SHAPE)
    return tuple(out)


def parse_groups(doc: object, problems: Problems) -> tuple[Group, ...]:
    if not isinstance(doc, list):
        problems.add("groups", M_GROUPS_LIST)
        return ()
    out = []
    for i, item in enumerate(doc):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            problems.add(f"groups[{i}]", M_GROUP_SHAPE)
            continue
        role = item.get("role")
        members = item.get("members") or []
        if (role is not None and not isinstance(role, str)) or not isinstance(members, list) \
                or not all(isinstance(m, str) for m in members):
            problems.add(f"groups[{i}]", M_GROUP_SHAPE)
            continue
        out.append(Group(name=item["name"].strip(), members=tuple(members), role=role))
    return tuple(out)


def _texts(item: Mapping[str, object], name: str) -> tuple[str, ...]:
    value = item.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name}: a list of texts")
    return tuple(value)


def _minor(item: Mapping[str, object], name: str) -> int | None:
    value = item.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: a whole number of minor units")
    return value


def _rule(item: object) -> Rule:
    if not isinstance(item, dict):
        raise TypeError("an object")
    levels = item.get("levels") or []
    if not isinstance(levels, list):
        raise ValueError("levels: a list")
    parsed = []
    for lv in levels:
        if not isinstance(lv, dict) or not isinstance(lv.get("group"), str) \
                or isinstance(lv.get("required"), bool) or not isinstance(lv.get("required"), int):
            raise ValueError("each level: {group, required}")
        parsed.append(Level(group=lv["group"], required=lv["required"]))
    beneficiary = item.get("beneficiary")
    return Rule(action=Action(str(item.get("action"))), usd_min_minor=_minor(item, "usd_min_minor"),
                usd_max_minor=_minor(item, "usd_max_minor"),
                currencies=_texts(item, "currencies"),
                recipient_types=_texts(item, "recipient_types"),
                beneficiary=None if beneficiary is None else Beneficiary(str(beneficiary)),
                departments=_texts(item, "departments"),
                initiators=_texts(item, "initiators"), levels=tuple(parsed))


def rule_json(r: Rule) -> dict[str, object]:
    return {"action": r.action.value, "usd_min_minor": r.usd_min_minor,
            "usd_max_minor": r.usd_max_minor, "currencies": list(r.currencies),
            "recipient_types": list(r.recipient_types),
            "beneficiary": None if r.beneficiary is None else r.beneficiary.value,
            "departments": list(r.departments), "initiators": list(r.initiators),
            "levels": [{"group": lv.group, "required": lv.required} for lv in r.levels]}


def group_json(g: Group) -> dict[str, object]:
    return {"name": g.name, "members": list(g.members), "role": g.role}


# --- the beneficiary book ------------------------------------------------------------------


class BeneficiaryStatus(enum.StrEnum):
    ACTIVE = "active"
    CHANGE_PENDING = "change_pending"  # new bank details wait for a second member


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SavedBeneficiary:
    """A beneficiary in an organisation's book. `party`: the recipient as monitors know
    parties (services/payments.party_of), which a payment's recipient is matched on; a
    payment to it counts as to a new beneficiary until `cooling_until_ms`."""

    id: str
    org_id: str
    name: str
    recipient_type: str  # user | address | external
    party: str
    details: dict[str, str]  # what the book shows: masked bank details, address, contact
    account_sealed: str | None  # an external beneficiary's full account, sealed
    status: BeneficiaryStatus
    pending_details: dict[str, str] | None  # proposed bank details, masked
    pending_sealed: str | None
    pending_by: str | None
    pending_change_id: str | None  # the approval's subject id for the proposed change
    cooling_until_ms: int
    created_by: str
    created_ms: int
    updated_ms: int


def beneficiary_of(book: Sequence[SavedBeneficiary], party: str, now_ms: int) -> Beneficiary:
    """NEW unless `party` is in the book and past its cooling-off period."""
    known = any(b.party == party and now_ms >= b.cooling_until_ms for b in book)
    return Beneficiary.KNOWN if known else Beneficiary.NEW
