"""The database: engine set-up for SQLite and PostgreSQL, a record<->table registry,
generic repositories over SQLAlchemy Core, and the unit of work.

Records are frozen dataclasses whose field names equal their table's column names; each
area registers its tables with `register` (see `tables_*.py`). Core rather than the ORM:
records stay immutable values and every write is an explicit statement.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Generic, Self, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine

from corridor.platform.domain import audit as audit_chain
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.services.ports import Clock

R = TypeVar("R")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# JSON everywhere, JSONB on PostgreSQL (indexable, compact).
Json = sa.JSON().with_variant(JSONB(), "postgresql")

_TABLES: dict[type, sa.Table] = {}


def register(record_type: type, table: sa.Table) -> None:
    """Binds a record type to its table; their names must agree exactly."""
    fields = [f.name for f in dataclasses.fields(record_type)]
    columns = [c.name for c in table.columns]
    assert fields == columns, f"{record_type.__name__} fields {fields} != columns {columns}"
    _TABLES[record_type] = table


def table_of(record_type: type) -> sa.Table:
    return _TABLES[record_type]


def make_engine(url: str) -> Engine:
    """An engine with the pragmas that make SQLite a safe embedded default."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}
        )

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Autocommit at the driver level so SQLAlchemy's BEGIN below is the real one.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            if ":memory:" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # IMMEDIATE takes the write lock at BEGIN: two writers queue instead of one
            # failing with "database is locked" when it upgrades a read lock. Read-only
            # units of work take no lock at all (WAL readers never block the writer).
            if conn.get_execution_options().get("corridor_read_only"):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class SqlRepo(Generic[R]):
    """Statements are built once per shape (table, filter columns, order, paging) with
    bound parameters, and reused: building and cache-keying a fresh SQLAlchemy statement
    per call was a fifth of the platform's CPU under load (py-spy, bench payments)."""

    def __init__(self, conn: Connection, record_type: type[R]) -> None:
        self.conn = conn
        self.type = record_type
        self.table = _TABLES[record_type]
        self.pk = next(iter(self.table.primary_key.columns))

    def _record(self, row: sa.Row[Any]) -> R:
        return self.type(**row._mapping)

    def _statement(self, key: tuple[Any, ...], build: Any) -> Any:
        full = (self.table.name, *key)
        stmt = _STATEMENTS.get(full)
        if stmt is None:
            stmt = _STATEMENTS[full] = build()
        return stmt

    def _narrowed(self, query: Any, eq: dict[str, Any]) -> Any:
        """`query` narrowed by equality filters (None: IS NULL), with bound parameters."""
        cols = self.table.columns
        for name, value in eq.items():
            col = cols[name]
            query = query.where(col.is_(None) if value is None else
                                col == sa.bindparam(f"f_{name}", type_=col.type))
        return query

    @staticmethod
    def _params(eq: dict[str, Any]) -> dict[str, Any]:
        return {f"f_{name}": value for name, value in eq.items() if value is not None}

    @staticmethod
    def _shape(eq: dict[str, Any]) -> tuple[tuple[str, bool], ...]:
        return tuple((name, value is None) for name, value in eq.items())

    def get(self, id: str, *, for_update: bool = False) -> R | None:
        def build() -> Any:
            q = sa.select(self.table).where(self.pk == sa.bindparam("k", type_=self.pk.type))
            return q.with_for_update() if for_update else q

        row = self.conn.execute(self._statement(("get", for_update), build), {"k": id}).first()
        return None if row is None else self._record(row)

    def one(self, **eq: Any) -> R | None:
        stmt = self._statement(("one", self._shape(eq)),
                               lambda: self._narrowed(sa.select(self.table), eq).limit(2))
        rows = self.conn.execute(stmt, self._params(eq)).all()
        assert len(rows) <= 1, f"{self.table.name}: more than one row for {eq}"
        return self._record(rows[0]) if rows else None

    def many(
        self,
        *,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
        **eq: Any,
    ) -> list[R]:
        params = self._params(eq)

        def build() -> Any:
            key = self.table.columns[order_by] if order_by else self.pk
            q = self._narrowed(sa.select(self.table), eq)
            q = q.order_by(key.desc() if descending else key, self.pk)
            if limit is not None:
                q = q.limit(sa.bindparam("lim", type_=sa.Integer(), literal_execute=True))
            if offset:
                q = q.offset(sa.bindparam("off", type_=sa.Integer(), literal_execute=True))
            return q

        shape = ("many", self._shape(eq), order_by, descending, limit is not None, bool(offset))
        if limit is not None:
            params["lim"] = limit
        if offset:
            params["off"] = offset
        return [self._record(r) for r in self.conn.execute(self._statement(shape, build),
                                                           params)]

    def count(self, **eq: Any) -> int:
        stmt = self._statement(("count", self._shape(eq)), lambda: self._narrowed(
            sa.select(sa.func.count()).select_from(self.table), eq))
        return int(self.conn.execute(stmt, self._params(eq)).scalar_one())

    def add(self, record: R) -> None:
        stmt = self._statement(("add",), lambda: sa.insert(self.table))
        self.conn.execute(stmt, _values(record))

    def update(self, record: R) -> None:
        values = _values(record)
        key = values.pop(self.pk.name)

        def build() -> Any:
            sets = {c.name: sa.bindparam(f"v_{c.name}", type_=c.type)
                    for c in self.table.columns if c is not self.pk}
            return (sa.update(self.table)
                    .where(self.pk == sa.bindparam("k", type_=self.pk.type)).values(sets))

        params = {f"v_{name}": value for name, value in values.items()}
        params["k"] = key
        done = self.conn.execute(self._statement(("update",), build), params)
        assert done.rowcount == 1, f"{self.table.name}: update of missing row {key}"

    def delete(self, id: str) -> None:
        stmt = self._statement(("delete",), lambda: sa.delete(self.table).where(
            self.pk == sa.bindparam("k", type_=self.pk.type)))
        self.conn.execute(stmt, {"k": id})


# Built statements by shape; bounded by the code's own call sites, not by data.
_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def _json_safe(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the JSON column will give back, so the hash is of what is stored."""
    return None if value is None else json.loads(json.dumps(value, default=str))


def _values(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


class SqlUnitOfWork:
    """One transaction on one connection; repositories and the audit trail share it."""

    def __init__(self, engine: Engine, clock: Clock, *, read_only: bool = False) -> None:
        self.engine = engine
        self.clock = clock
        self.read_only = read_only
        self.conn: Connection | None = None
        self._repos: dict[type, SqlRepo[Any]] = {}

    def __enter__(self) -> Self:
        conn = self.engine.connect()
        if self.read_only:
            conn = conn.execution_options(corridor_read_only=True)
        self.conn = conn
        self.conn.begin()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.conn is not None
        try:
            if self.conn.in_transaction():
                self.conn.rollback()
        finally:
            self.conn.close()
            self.conn = None
            self._repos.clear()

    def repo(self, record_type: type[R]) -> SqlRepo[R]:
        assert self.conn is not None, "use the unit of work inside `with`"
        r = self._repos.get(record_type)
        if r is None:
            r = self._repos[record_type] = SqlRepo(self.conn, record_type)
        return r

    def commit(self) -> None:
        assert self.conn is not None and not self.read_only, "a read-only unit of work"
        self.conn.commit()

    def execute(self, statement: Any) -> Any:
        """Escape hatch for adapter-level queries (repositories with ranges, reports)."""
        assert self.conn is not None
        return self.conn.execute(statement)

    def audit_head(self) -> tuple[int, str]:
        """(seq, hash) of the chain's last entry, as the head row records it."""
        from corridor.platform.adapters.tables_core import audit_head

        assert self.conn is not None
        row = self.conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)).one()
        return int(row.seq), str(row.hash)

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
    ) -> None:
        from corridor.platform.adapters.tables_core import audit_head

        assert self.conn is not None
        # Locking the single head row serialises appends across processes on PostgreSQL;
        # SQLite's BEGIN IMMEDIATE already serialises writers.
        head = self.conn.execute(
            sa.select(audit_head).where(audit_head.c.id == 1).with_for_update()
        ).one()
        seq = head.seq + 1
        before, after = _json_safe(before), _json_safe(after)
        fields: dict[str, Any] = dict(
            seq=seq, at_ms=self.clock.now_ms(), actor_id=actor_id, actor_kind=actor_kind,
            action=action, object_type=object_type, object_id=object_id, before=before,
            after=after, ip=ip, prev_hash=head.hash,
        )
        entry = AuditEntry(**fields, hash=audit_chain.entry_hash(**fields))
        self.repo(AuditEntry).add(entry)
        self.conn.execute(
            sa.update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=entry.hash)
        )
