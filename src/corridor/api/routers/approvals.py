"""Approval policies and approvals of an organisation's payments (issue 17): the policy
(read, save a new version), the approvals queue, approve / reject a payment, the payer's
consent to a re-quote, and a payment's approval timeline. services/approvals.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, IdempotencyKey, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import approvals as dom
from corridor.platform.services import approvals, beneficiaries, payment_reads

router = APIRouter(route_class=JsonRoute, tags=["approvals"])

Id = Annotated[str, Path(max_length=64)]
PAYMENT = "payment"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicyIn(Strict):
    """Rules in order (the last one, without conditions, is the default), the groups the
    levels name, and the policy's settings. Amounts are minor units of USD."""

    rules: list[dict[str, Any]] = Field(max_length=dom.RULES_MAX)
    groups: list[dict[str, Any]] = Field(default_factory=list, max_length=dom.GROUPS_MAX)
    approval_ttl_ms: int = dom.APPROVAL_TTL_MS_DEFAULT
    tolerance_bp: int = dom.TOLERANCE_BP_DEFAULT
    cooling_off_ms: int = dom.COOLING_OFF_MS_DEFAULT


class DecisionIn(Strict):
    note: str = Field(default="", max_length=dom.NOTE_LEN_MAX)


class ConsentIn(Strict):
    accept: bool


class StepOut(BaseModel):
    level: int
    user_id: str
    name: str
    decision: str
    note: str
    at_ms: int


class ApprovalOut(BaseModel):
    approval: dict[str, Any]
    steps: list[StepOut]
    can_decide: bool

    @classmethod
    def of(cls, v: approvals.View) -> ApprovalOut:
        return cls(approval=approvals.approval_json(v.approval),
                   steps=[StepOut(level=s.level, user_id=s.user_id, name=s.name,
                                  decision=s.decision, note=s.note, at_ms=s.at_ms)
                          for s in v.steps], can_decide=v.can_decide)


class ApprovalList(BaseModel):
    items: list[ApprovalOut]


@router.get("/orgs/{org_id}/approval-policy")
def get_policy(org_id: Id, deps: DepsDep, who: PrincipalDep) -> dict[str, Any]:
    """The organisation's current policy (version 0: none saved, everything allowed)."""
    return approvals.policy_json(approvals.get_policy(deps, who, org_id))


@router.put("/orgs/{org_id}/approval-policy")
def set_policy(org_id: Id, body: PolicyIn, deps: DepsDep, who: PrincipalDep) -> dict[str, Any]:
    """Saves a new version (owners and admins). Every problem is reported at once: 422
    POLICY_INVALID with `error.fields` (e.g. `rules[2]`: unreachable)."""
    return approvals.policy_json(approvals.set_policy(deps, who, org_id, body.model_dump()))


@router.get("/orgs/{org_id}/approvals", response_model=ApprovalList)
def approval_queue(org_id: Id, deps: DepsDep, who: PrincipalDep,
                   state: Annotated[str | None, Query(max_length=24)] = "pending",
                   limit: Annotated[int, Query(ge=1, le=dom.QUEUE_PAGE_MAX)] = 50
                   ) -> ApprovalList:
    """The organisation's approvals (pending by default), newest first; `can_decide` says
    whether the caller may approve or reject each now."""
    views = approvals.queue(deps, who, org_id, state=state or None, limit=limit)
    return ApprovalList(items=[ApprovalOut.of(v) for v in views])


@router.post("/payments/{payment_id}/approve", response_model=ApprovalOut)
def approve_payment(payment_id: Id, body: DecisionIn, deps: DepsDep, who: PrincipalDep,
                    idempotency_key: IdempotencyKey = None) -> ApprovalOut:
    """Approves the payment at the level now deciding (Perm.PAY_APPROVE, not its
    initiator, once per person). `Idempotency-Key` required: a retry returns the approval."""
    a = approvals.decide(deps, who, PAYMENT, payment_id, "approve", note=body.note,
                         idempotency_key=idempotency_key)
    return ApprovalOut.of(approvals.get(deps, who, a.id))


@router.post("/payments/{payment_id}/reject", response_model=ApprovalOut)
def reject_payment(payment_id: Id, body: DecisionIn, deps: DepsDep, who: PrincipalDep,
                   idempotency_key: IdempotencyKey = None) -> ApprovalOut:
    """Rejects the payment: its reservation is released."""
    a = approvals.decide(deps, who, PAYMENT, payment_id, "reject", note=body.note,
                         idempotency_key=idempotency_key)
    return ApprovalOut.of(approvals.get(deps, who, a.id))


@router.post("/payments/{payment_id}/requote-consent", response_model=ApprovalOut)
def consent_requote(payment_id: Id, body: ConsentIn, deps: DepsDep, who: PrincipalDep,
                    idempotency_key: IdempotencyKey = None) -> ApprovalOut:
    """The initiator accepts (the payment goes on at the price of now) or declines (it is
    rejected) a new price after the last approval found the rate moved beyond the
    policy's tolerance (approval state `awaiting_consent`)."""
    a = approvals.consent(deps, who, PAYMENT, payment_id, accept=body.accept,
                          idempotency_key=idempotency_key)
    return ApprovalOut.of(approvals.get(deps, who, a.id))


@router.get("/payments/{payment_id}/approval", response_model=ApprovalOut)
def payment_approval(payment_id: Id, deps: DepsDep, who: PrincipalDep) -> ApprovalOut:
    """The payment's approval and who decided when (404: it needed none)."""
    p = payment_reads.get(deps, who, payment_id)  # checks the caller may read it
    view = approvals.of_payment(deps, who, p.id)
    return ApprovalOut.of(view)


@router.get("/approvals/{approval_id}", response_model=ApprovalOut)
def get_approval(approval_id: Id, deps: DepsDep, who: PrincipalDep) -> ApprovalOut:
    return ApprovalOut.of(approvals.get(deps, who, approval_id))


@router.post("/approvals/{approval_id}/{decision}", response_model=ApprovalOut)
def decide_approval(approval_id: Id, decision: Annotated[str, Path(pattern="^(approve|reject)$")],
                    body: DecisionIn, deps: DepsDep, who: PrincipalDep,
                    idempotency_key: IdempotencyKey = None) -> ApprovalOut:
    """Approves or rejects any approval by its id (a payment's, a batch's, a change of a
    beneficiary's bank details), under the same rules as a payment's."""
    a = approvals.decide_by_id(deps, who, approval_id, decision, note=body.note,
                               idempotency_key=idempotency_key)
    return ApprovalOut.of(approvals.get(deps, who, a.id))


# --- the beneficiary book --------------------------------------------------------------------


class BeneficiaryIn(Strict):
    name: str = Field(min_length=1, max_length=beneficiaries.NAME_LEN_MAX)
    recipient: dict[str, str] = Field(description="as a payment's recipient: "
                                                  "{type: user|address|external, ...}")


class BankIn(Strict):
    name: str = Field(max_length=200)
    country: str = Field(max_length=2)
    iban: str | None = Field(default=None, max_length=64)
    account_number: str | None = Field(default=None, max_length=64)
    bank_code: str | None = Field(default=None, max_length=16)


class BeneficiaryList(BaseModel):
    items: list[dict[str, Any]]


@router.get("/orgs/{org_id}/beneficiaries", response_model=BeneficiaryList)
def list_beneficiaries(org_id: Id, deps: DepsDep, who: PrincipalDep) -> BeneficiaryList:
    now = deps.clock.now_ms()
    return BeneficiaryList(items=[beneficiaries.as_json(b, now)
                                  for b in beneficiaries.book(deps, who, org_id)])


@router.post("/orgs/{org_id}/beneficiaries", status_code=201)
def add_beneficiary(org_id: Id, body: BeneficiaryIn, deps: DepsDep, who: PrincipalDep,
                    idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Saves a beneficiary (bank details verified: IBAN, BIC). It counts as a new
    beneficiary for the approval policy until its cooling-off period has passed."""
    b = beneficiaries.add(deps, who, org_id, name=body.name, recipient=body.recipient,
                          idempotency_key=idempotency_key)
    return beneficiaries.as_json(b, deps.clock.now_ms())


@router.post("/orgs/{org_id}/beneficiaries/{beneficiary_id}/bank-details")
def change_bank_details(org_id: Id, beneficiary_id: Id, body: BankIn, deps: DepsDep,
                        who: PrincipalDep,
                        idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Proposes new bank details: they apply once another member approves (the approval
    `pending_change_id` names, kind `beneficiary_change`)."""
    bank = {k: v for k, v in body.model_dump().items() if v is not None}
    b = beneficiaries.propose_change(deps, who, org_id, beneficiary_id, bank,
                                     idempotency_key=idempotency_key)
    return beneficiaries.as_json(b, deps.clock.now_ms())
