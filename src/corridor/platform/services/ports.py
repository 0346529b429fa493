"""The ports the use cases need, each a narrow Protocol owned by its user (the services).
Adapters implement them; `bootstrap` wires them; tests may pass fakes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

from corridor.platform.domain import fx
from corridor.platform.domain.monitoring import Monitor
from corridor.platform.services.ledger_port import ChainAccount, ChainReader, KeyGen, LedgerNode

if TYPE_CHECKING:  # their modules use `Deps`: imported for the field types only
    from corridor.platform.services.query import HistoryStore
    from corridor.platform.services.rail_port import Rail
    from corridor.platform.services.rates import RateSource

from corridor.platform.services.handlers import Handlers

R = TypeVar("R")
T = TypeVar("T")


class Clock(Protocol):
    def now_ms(self) -> int: ...


class Randomness(Protocol):
    """Every random value the platform makes: injectable so tests are deterministic."""

    def new_id(self) -> str: ...
    def token(self) -> str: ...  # >= 256 bits, URL-safe
    def digits(self, n: int) -> str: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, hashed: str, password: str) -> bool: ...
    def needs_rehash(self, hashed: str) -> bool: ...


class Sealer(Protocol):
    """Envelope encryption of small secrets bound to a context (e.g. a user id)."""

    def seal(self, plaintext: bytes, context: str) -> str: ...
    def open(self, sealed: str, context: str) -> bytes: ...
    # A keyed hash (HMAC under a server-side key) of a short secret such as a six-digit
    # code: unlike a plain digest, a copy of the database cannot be searched for it.
    def keyed_hash(self, secret: str, context: str) -> str: ...
    def keyed_hash_matches(self, stored: str, secret: str, context: str) -> bool: ...


class Messenger(Protocol):
    """Delivers an e-mail or SMS now (a provider's API). Messages carrying codes go only
    through it outside development; the composition root wires it as `Deps.messenger`."""

    def send(self, *, channel: str, destination: str, subject: str, body: str) -> None: ...


class AccountSnapshots(Protocol):
    """Accounts as the chain held them a moment ago, per address (funds.Snapshots)."""

    def get(self, address: str, now_ms: int) -> ChainAccount | None: ...
    def put(self, account: ChainAccount, now_ms: int) -> None: ...


class FileStore(Protocol):
    """Encrypted blob storage for uploads; returns an opaque reference."""

    def put(self, data: bytes, context: str) -> str: ...
    def get(self, ref: str, context: str) -> bytes: ...
    def delete(self, ref: str) -> None: ...


class Repo(Protocol[R]):
    """Rows of one table as frozen records. Filters are equality on column names (None:
    the column is null; a tuple: it is any of the tuple's values); `many` also takes
    strict bounds (`above`, `below`), `tally` a lower one."""

    def get(self, id: str, *, for_update: bool = False) -> R | None: ...
    def one(self, **eq: Any) -> R | None: ...
    def many(
        self,
        *,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
        above: dict[str, Any] | None = None,  # column -> value: only rows with column > value
        below: dict[str, Any] | None = None,  # ... column < value
        for_update: bool = False,  # lock the rows returned (PostgreSQL; SQLite locks all)
        **eq: Any,
    ) -> list[R]: ...
    def count(self, **eq: Any) -> int: ...
    def tally(self, columns: Sequence[str], *, above: dict[str, Any] | None = None,
              **eq: Any) -> list[tuple[tuple[Any, ...], int]]:
        """How many rows have each combination of `columns`' values (filters as `many`):
        a total computed in the database instead of loading every row."""
        ...
    def add(self, record: R) -> None: ...
    def update(self, record: R) -> None: ...
    def delete(self, id: str) -> None: ...


class UnitOfWork(Protocol):
    """One database transaction. Leaving the block without `commit()` rolls back."""

    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def repo(self, record_type: type[R]) -> Repo[R]: ...
    def commit(self) -> None: ...
    def audit_head(self) -> tuple[int, str]: ...
    def audit(
        self,
        *,
        actor_id: str | None,
        actor_kind: str,
        action: str,
        object_type: str,
        object_id: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        ip: str = "",
    ) -> None: ...


@dataclass(frozen=True)
class Deps:
    """Everything a use case may touch, passed explicitly (no globals)."""

    uow: Callable[[], UnitOfWork]
    clock: Clock
    rand: Randomness
    hasher: PasswordHasher
    sealer: Sealer
    files: FileStore
    settings: Any  # corridor.platform.config.Settings (typed loosely to keep layers apart)
    keygen: KeyGen  # seeds of custodial wallets
    history: HistoryStore  # the history rows of a scope, filtered in SQL
    rates: RateSource  # mid rates between currencies, for quotes
    # A unit of work that only reads (on SQLite it takes no write lock); defaults to `uow`.
    read_uow: Callable[[], UnitOfWork] | None = None
    # Runs a piece of work in a write transaction it may share with other threads' work
    # (SQLite's group commit, adapters/group_commit.py); None: a transaction of its own.
    group_write: Callable[[Callable[[UnitOfWork], Any]], Any] | None = None
    # Delivers e-mail and SMS (a provider's API); None: no delivery wired (development keeps
    # code messages in the outbox only).
    messenger: Messenger | None = None
    # The chain node, for reads (balances, holdings); None: no node (development, where
    # balances are estimated from the rails' records).
    ledger: LedgerNode | None = None
    # The public explorer's reads of the chain (usually the same node client); None: the
    # explorer says the ledger cannot be reached.
    chain: ChainReader | None = None
    # The platform's asset issuer: only its holdings count as balances; None: any issuer's.
    issuer_address: str | None = None
    # Accounts read from the node a moment ago, so a payment's pre-check need not ask it
    # again; None: always ask.
    snapshots: AccountSnapshots | None = None
    # The bank rails by name; a rail not here is refused as unavailable.
    rails: Mapping[str, Rail] = field(default_factory=dict)
    fx_terms: fx.Terms = field(default_factory=fx.Terms)  # the commercial terms of quotes
    # What happens when the chain decides a transfer, a hold is decided, ...: the typed
    # table the composition root builds (bootstrap.HANDLERS); empty: nothing reacts.
    handlers: Handlers = field(default_factory=Handlers)
    # What watches money move (compliance, issue 16): every movement is evaluated by each
    # monitor, in order, before it is submitted (services/monitoring.py); the composition
    # root lists them (bootstrap.monitors_of). Empty: nothing is screened.
    monitors: tuple[Monitor, ...] = ()

    def reader(self) -> UnitOfWork:
        return (self.read_uow or self.uow)()

    def write(self, work: Callable[[UnitOfWork], T]) -> T:
        """`work(uow)` committed: its writes are durable when this returns, and undone
        (nobody else's) when it raises. `work` must not commit itself."""
        if self.group_write is not None:
            result: T = self.group_write(work)
            return result
        with self.uow() as uow:
            result = work(uow)
            uow.commit()
        return result


def page_bounds(limit: int, offset: int, limit_max: int) -> tuple[int, int]:
    """Clamp paging input to sane bounds (the API validates; this is the second guard)."""
    return max(1, min(limit, limit_max)), max(0, offset)


def chunks(items: Sequence[R], size: int) -> list[Sequence[R]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
