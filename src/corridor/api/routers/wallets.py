"""Wallets: the caller's own, an organisation's, new custodial ones and registered keys (L2).
Sealed keys never leave the platform: no response carries one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, IdempotencyKey, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import wallets as dom
from corridor.platform.domain.wallets import OwnerType, Wallet
from corridor.platform.services import freezes, wallets
from corridor.platform.services.ports import Deps
from corridor.platform.services.wallets import WalletView

router = APIRouter(route_class=JsonRoute, tags=["wallets"])

OrgId = Annotated[str, Path(max_length=64)]
PUBLIC_KEY_TEXT_LEN_MAX = 64
SIGNATURE_HEX_LEN_MAX = 200  # 128 hex digits expected; the service says what is wrong


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WalletIn(Strict):
    label: str = Field(default="main", min_length=1, max_length=dom.WALLET_LABEL_LEN_MAX)


class KeyChallengeIn(Strict):
    public_key: str = Field(min_length=1, max_length=PUBLIC_KEY_TEXT_LEN_MAX,
                            description="The key's text form (p...) you will register.")


class KeyChallengeOut(BaseModel):
    challenge_id: str
    message: str = Field(description="Names the organisation and the key; sign its SHA-256.")
    digest: str = Field(description="sha256(message), hex: the 32 bytes to sign (BIP-340).")
    expires_ms: int

    @classmethod
    def of(cls, c: dom.KeyChallenge) -> KeyChallengeOut:
        return cls(challenge_id=c.id, message=c.message,
                   digest=wallets.challenge_digest(c).hex(), expires_ms=c.expires_ms)


class ExternalKeyIn(Strict):
    public_key: str = Field(min_length=1, max_length=PUBLIC_KEY_TEXT_LEN_MAX,
                            description="The key's text form (p...); the seed stays with you.")
    label: str = Field(min_length=1, max_length=dom.WALLET_LABEL_LEN_MAX)
    challenge_id: str = Field(min_length=1, max_length=64,
                              description="From POST .../wallets/external/challenges.")
    signature: str = Field(min_length=1, max_length=SIGNATURE_HEX_LEN_MAX,
                           description="The key's BIP-340 signature of the challenge's "
                                       "digest, hex.")


class AuthorisationOut(BaseModel):
    asset_code: str
    status: str


class BalanceOut(BaseModel):
    code: str
    issuer: str
    balance_minor: str  # a string: amounts may exceed what JSON numbers carry exactly
    authorised: bool
    frozen: bool


class ChainOut(BaseModel):
    sequence: int
    balances: list[BalanceOut]


class WalletOut(BaseModel):
    id: str
    owner_type: str
    owner_id: str
    address: str
    public_key: str
    custodial: bool
    proven: bool = Field(description="The owner controls the key (custodial, or a signed "
                                     "challenge); only then is its chain state shown.")
    label: str
    status: str
    created_ms: int
    authorisations: list[AuthorisationOut] = []
    chain: ChainOut | None = None  # on-chain state when the node answered

    @classmethod
    def of(cls, wallet: Wallet, view: WalletView | None = None) -> WalletOut:
        out = cls(id=wallet.id, owner_type=wallet.owner_type, owner_id=wallet.owner_id,
                  address=wallet.address, public_key=wallet.public_key,
                  custodial=wallet.custodial, proven=wallet.proven, label=wallet.label,
                  status=wallet.status,
                  created_ms=wallet.created_ms)
        if view is not None:
            out.authorisations = [AuthorisationOut(asset_code=a.asset_code, status=a.status)
                                  for a in view.authorisations]
            if view.chain is not None:
                out.chain = ChainOut(sequence=view.chain.sequence, balances=[
                    BalanceOut(code=h.code, issuer=h.issuer, balance_minor=str(h.balance_minor),
                               authorised=h.authorised, frozen=h.frozen)
                    for h in view.chain.holdings])
        return out


class WalletList(BaseModel):
    items: list[WalletOut]
    node_reachable: bool
    frozen: bool = Field(False, description="Frozen by compliance (requested, on chain, or "
                                            "being lifted): no payment or withdrawal leaves.")
    freeze_status: str | None = Field(None, description="requested | frozen | releasing")


def _list(views: list[WalletView], reached: bool, deps: Deps, owner_type: str,
          owner_id: str) -> WalletList:
    frozen = freezes.state_of(deps, owner_type, owner_id)
    return WalletList(items=[WalletOut.of(v.wallet, v) for v in views], node_reachable=reached,
                      frozen=frozen is not None,
                      freeze_status=frozen.status.value if frozen is not None else None)


@router.get("/wallets", response_model=WalletList)
def my_wallets(deps: DepsDep, who: PrincipalDep) -> WalletList:
    """The caller's own wallets, with on-chain balances when the node is reachable."""
    return _list(*wallets.list_wallets(deps, who), deps, OwnerType.USER, who.user_id)


@router.get("/orgs/{org_id}/wallets", response_model=WalletList)
def org_wallets(org_id: OrgId, deps: DepsDep, who: PrincipalDep) -> WalletList:
    """An organisation's wallets (any member)."""
    return _list(*wallets.list_wallets(deps, who, org_id=org_id), deps, OwnerType.ORG, org_id)


@router.post("/orgs/{org_id}/wallets", response_model=WalletOut,
             status_code=status.HTTP_201_CREATED)
def create_org_wallet(org_id: OrgId, body: WalletIn, deps: DepsDep, who: PrincipalDep,
                      idempotency_key: IdempotencyKey = None) -> WalletOut:
    """A new custodial wallet; its account opens on chain shortly (status `opening`).
    `Idempotency-Key` is required: a retry with the same key returns the same wallet."""
    return WalletOut.of(wallets.create_org_wallet(deps, who, org_id, body.label,
                                                  idempotency_key=idempotency_key))


@router.post("/orgs/{org_id}/wallets/external/challenges", response_model=KeyChallengeOut,
             status_code=status.HTTP_201_CREATED)
def external_key_challenge(org_id: OrgId, body: KeyChallengeIn, deps: DepsDep,
                           who: PrincipalDep,
                           idempotency_key: IdempotencyKey = None) -> KeyChallengeOut:
    """A single-use challenge (expires in minutes) that the key to register must sign, to
    prove the organisation holds it. `Idempotency-Key` is required: a retry with the same
    key returns the same challenge."""
    return KeyChallengeOut.of(wallets.key_challenge(deps, who, org_id, body.public_key,
                                                    idempotency_key=idempotency_key))


@router.post("/orgs/{org_id}/wallets/external", response_model=WalletOut,
             status_code=status.HTTP_201_CREATED)
def register_external_key(org_id: OrgId, body: ExternalKeyIn, deps: DepsDep,
                          who: PrincipalDep,
                          idempotency_key: IdempotencyKey = None) -> WalletOut:
    """Registers a public key the organisation signs with itself, proven by its signature
    of a challenge; the platform opens its account on chain but never holds the seed.
    `Idempotency-Key` is required: a retry with the same key returns the same wallet."""
    return WalletOut.of(wallets.register_external_key(
        deps, who, org_id, body.public_key, body.label, challenge_id=body.challenge_id,
        signature_hex=body.signature, idempotency_key=idempotency_key))
