"""The database: engine set-up for SQLite and PostgreSQL, a record<->table registry,
generic repositories over SQLAlchemy Core, and the unit of work.

Records are frozen dataclasses whose field names equal their table's column names; each
area registers its tables with `register` (see `tables_*.py`). Core rather than the ORM:
records stay immutable values and every write is an explicit statement.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator, Sequence
from typing import Any, Generic, Self, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine

from corridor.platform.adapters import audit_sql, direct_sql
from corridor.platform.adapters.record_codec import codec
from corridor.platform.adapters.write_gate import SQLITE_BUSY_S, add_gate, write_gate
from corridor.platform.domain import audit as audit_chain
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.services import retention
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


def make_engine(url: str, *, pool_max: int = 30) -> Engine:
    """An engine with the pragmas that make SQLite a safe embedded default. On PostgreSQL
    the process holds at most `pool_max` connections (`Settings.db_pool_max`)."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_S}
        )
        database = sa.engine.make_url(url).database
        on_disk = bool(database) and database != ":memory:" and "mode=memory" not in url
        add_gate(engine, f"{database}-writers.lock" if on_disk else None)

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Autocommit at the driver level so SQLAlchemy's BEGIN below is the real one.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_S * 1000}")
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
    pool_size = min(10, pool_max)
    # No pool_pre_ping: it costs a round trip (an empty query) at every checkout, that is
    # every unit of work. After the server dropped its connections (a restart) the first
    # statement to meet one fails; the pool's older connections are then discarded
    # (SQLAlchemy, direct_sql.run) and the caller's retry (idempotent writes) gets a new one.
    return sa.create_engine(url, pool_size=pool_size, max_overflow=pool_max - pool_size)


class SqlRepo(Generic[R]):
    """Statements are built once per shape (table, filter columns, order, paging) with
    bound parameters, and reused: building and cache-keying a fresh SQLAlchemy statement
    per call was a fifth of the platform's CPU under load (py-spy, bench payments). They
    run straight on the driver's connection (sqlite3, psycopg: adapters/direct_sql.py),
    filters by a tuple of up to IN_FAST_MAX values with one parameter per value."""

    def __init__(self, conn: Connection, record_type: type[R]) -> None:
        self.conn = conn
        self.type = record_type
        self.table = _TABLES[record_type]
        self.pk = next(iter(self.table.primary_key.columns))
        self.codec = codec(record_type)  # typed fields <-> column values (record_codec.py)
        self.raw: Any = direct_connection(conn)
        self.sqlite = conn.dialect.name == "sqlite"

    def _record(self, row: sa.Row[Any]) -> R:
        return self.codec.record(row._mapping)

    def _fast(self, eq: dict[str, Any]) -> bool:
        return self.raw is not None and all(
            len(v) <= IN_FAST_MAX for v in eq.values() if isinstance(v, tuple))

    def _statement(self, key: tuple[Any, ...], build: Any) -> Any:
        full = (self.table.name, *key)
        stmt = _STATEMENTS.get(full)
        if stmt is None:
            stmt = _STATEMENTS[full] = build()
        return stmt

    def _run(self, key: tuple[Any, ...], build: Any, params: dict[str, Any]) -> Any:
        """Executes the statement of this shape on the driver: (cursor, prepared)."""
        full = (self.conn.dialect.name, self.table.name, *key)
        prepared = _PREPARED.get(full)
        if prepared is None:
            prepared = _PREPARED[full] = direct_sql.prepare(build(), self.conn.dialect)
        cursor = direct_sql.run(self.conn, self.raw, prepared.sql, prepared.args(params))
        return cursor, prepared

    def _fast_records(self, key: tuple[Any, ...], build: Any, params: dict[str, Any]) -> list[R]:
        cursor, prepared = self._run(key, build, params)
        record = self.codec.record
        return [record(prepared.row(r)) for r in cursor.fetchall()]

    def _narrowed(self, query: Any, eq: dict[str, Any], fast: bool = False) -> Any:
        """`query` narrowed by equality filters (None: IS NULL; a tuple: any of its values),
        with bound parameters (`fast`: one per value of a tuple, none expanding)."""
        cols = self.table.columns
        for name, value in eq.items():
            col = cols[name]
            if value is None:
                query = query.where(col.is_(None))
            elif isinstance(value, tuple) and fast:
                query = query.where(col.in_([sa.bindparam(f"f_{name}_{i}", type_=col.type)
                                             for i in range(len(value))]))
            elif isinstance(value, tuple):
                query = query.where(col.in_(sa.bindparam(f"f_{name}", expanding=True)))
            else:
                query = query.where(col == sa.bindparam(f"f_{name}", type_=col.type))
        return query

    def _bounded(self, query: Any, above: dict[str, Any], below: dict[str, Any]) -> Any:
        """`query` narrowed by strict bounds (column > value, column < value)."""
        cols = self.table.columns
        for name in above:
            query = query.where(cols[name] > sa.bindparam(f"gt_{name}", type_=cols[name].type))
        for name in below:
            query = query.where(cols[name] < sa.bindparam(f"lt_{name}", type_=cols[name].type))
        return query

    @staticmethod
    def _params(eq: dict[str, Any], above: dict[str, Any] | None = None,
                below: dict[str, Any] | None = None, fast: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in eq.items():
            if value is None:
                continue
            if isinstance(value, tuple) and fast:
                out.update({f"f_{name}_{i}": v for i, v in enumerate(value)})
            else:
                out[f"f_{name}"] = list(value) if isinstance(value, tuple) else value
        out.update({f"gt_{name}": value for name, value in (above or {}).items()})
        out.update({f"lt_{name}": value for name, value in (below or {}).items()})
        return out

    @staticmethod
    def _shape(eq: dict[str, Any], fast: bool = False) -> tuple[tuple[str, Any], ...]:
        return tuple((name, "null" if value is None
                      else (len(value) if fast else "in") if isinstance(value, tuple)
                      else "eq") for name, value in eq.items())

    def get(self, id: str, *, for_update: bool = False) -> R | None:
        lock = for_update and not self.sqlite  # SQLite: its writer holds the file lock

        def build() -> Any:
            q = sa.select(self.table).where(self.pk == sa.bindparam("k", type_=self.pk.type))
            return q.with_for_update() if lock else q

        if self.raw is not None:
            found = self._fast_records(("get", lock), build, {"k": id})
            return found[0] if found else None
        row = self.conn.execute(self._statement(("get", for_update), build), {"k": id}).first()
        return None if row is None else self._record(row)

    def one(self, **eq: Any) -> R | None:
        fast = self._fast(eq)
        key = ("one", self._shape(eq, fast))

        def build() -> Any:
            return self._narrowed(sa.select(self.table), eq, fast).limit(2)

        if fast:
            rows = self._fast_records(key, build, self._params(eq, fast=True))
        else:
            rows = [self._record(r) for r in self.conn.execute(self._statement(key, build),
                                                               self._params(eq)).all()]
        assert len(rows) <= 1, f"{self.table.name}: more than one row for {eq}"
        return rows[0] if rows else None

    def many(
        self,
        *,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
        above: dict[str, Any] | None = None,
        below: dict[str, Any] | None = None,
        for_update: bool = False,
        **eq: Any,
    ) -> list[R]:
        above, below = above or {}, below or {}
        fast = self._fast(eq)
        params = self._params(eq, above, below, fast)

        def build() -> Any:
            key = self.table.columns[order_by] if order_by else self.pk
            q = self._bounded(self._narrowed(sa.select(self.table), eq, fast), above, below)
            q = q.order_by(key.desc() if descending else key, self.pk)
            # Literal LIMIT/OFFSET for SQLAlchemy (as before); plain parameters on sqlite3.
            if limit is not None:
                q = q.limit(sa.bindparam("lim", type_=sa.Integer(), literal_execute=not fast))
            if offset:
                q = q.offset(sa.bindparam("off", type_=sa.Integer(), literal_execute=not fast))
            return q.with_for_update() if lock else q

        lock = for_update and not self.sqlite  # SQLite: its writer holds the file lock
        shape = ("many", self._shape(eq, fast), tuple(above), tuple(below), order_by,
                 descending, limit is not None, bool(offset), lock)
        if limit is not None:
            params["lim"] = limit
        if offset:
            params["off"] = offset
        if fast:
            return self._fast_records(shape, build, params)
        return [self._record(r) for r in self.conn.execute(self._statement(shape, build),
                                                           params)]

    def count(self, **eq: Any) -> int:
        fast = self._fast(eq)
        key = ("count", self._shape(eq, fast))

        def build() -> Any:
            return self._narrowed(sa.select(sa.func.count()).select_from(self.table), eq, fast)

        if fast:
            cursor, _ = self._run(key, build, self._params(eq, fast=True))
            return int(cursor.fetchone()[0])
        return int(self.conn.execute(self._statement(key, build), self._params(eq)).scalar_one())

    def tally(self, columns: Sequence[str], *, above: dict[str, Any] | None = None,
              **eq: Any) -> list[tuple[tuple[Any, ...], int]]:
        above = above or {}
        fast = self._fast(eq)
        cols = [self.table.columns[c] for c in columns]
        key = ("tally", tuple(columns), self._shape(eq, fast), tuple(above))

        def build() -> Any:
            return self._bounded(self._narrowed(sa.select(*cols, sa.func.count()), eq, fast),
                                 above, {}).group_by(*cols)

        params = self._params(eq, above, fast=fast)
        if fast:
            cursor, prepared = self._run(key, build, params)
            rows = [prepared.values(r) for r in cursor.fetchall()]
        else:
            rows = [tuple(r) for r in self.conn.execute(self._statement(key, build), params)]
        return [(r[:-1], int(r[-1])) for r in rows]

    def add(self, record: R) -> None:
        def build() -> Any:
            return sa.insert(self.table)

        if self.raw is not None:
            self._run(("add",), build, self.codec.values(record))
            return
        self.conn.execute(self._statement(("add",), build), self.codec.values(record))

    def update(self, record: R) -> None:
        values = self.codec.values(record)
        key = values.pop(self.pk.name)

        def build() -> Any:
            sets = {c.name: sa.bindparam(f"v_{c.name}", type_=c.type)
                    for c in self.table.columns if c is not self.pk}
            return (sa.update(self.table)
                    .where(self.pk == sa.bindparam("k", type_=self.pk.type)).values(sets))

        params = {f"v_{name}": value for name, value in values.items()}
        params["k"] = key
        if self.raw is not None:
            rowcount = self._run(("update",), build, params)[0].rowcount
        else:
            rowcount = self.conn.execute(self._statement(("update",), build), params).rowcount
        assert rowcount == 1, f"{self.table.name}: update of missing row {key}"

    def delete(self, id: str) -> None:
        # Records kept for the retention period are deleted only through its guard
        # (services/retention.delete): RETENTION_HELD otherwise.
        retention.check_permitted(self.type, id)

        def build() -> Any:
            return sa.delete(self.table).where(self.pk == sa.bindparam("k", type_=self.pk.type))

        if self.raw is not None:
            self._run(("delete",), build, {"k": id})
            return
        self.conn.execute(self._statement(("delete",), build), {"k": id})


IN_FAST_MAX = 8  # values of a tuple filter run on the driver directly (a statement per count)
# Statements prepared for the driver by dialect and shape; bounded like _STATEMENTS.
_PREPARED: dict[tuple[Any, ...], direct_sql.Prepared] = {}
_DIRECT_DRIVERS = ("pysqlite", "psycopg")  # DB-API connections direct_sql knows


def direct_connection(conn: Connection) -> Any:
    """The DB-API connection statements may run on directly (None: another driver, whose
    statements all go through SQLAlchemy)."""
    return conn.connection.driver_connection if conn.dialect.driver in _DIRECT_DRIVERS else None


# Built statements by shape; bounded by the code's own call sites, not by data.
_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def _json_safe(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the JSON column will give back, so the hash is of what is stored."""
    return None if value is None else json.loads(json.dumps(value, default=str))


class SqlUnitOfWork:
    """One transaction on one connection; repositories and the audit trail share it."""

    def __init__(self, engine: Engine, clock: Clock, *, read_only: bool = False) -> None:
        self.engine = engine
        self.clock = clock
        self.read_only = read_only
        self.conn: Connection | None = None
        self._repos: dict[type, SqlRepo[Any]] = {}
        self._gate = None if read_only else write_gate(engine)
        self._gated = False
        # The audit chain's tip as this transaction moved it, and entries not yet written
        # (nor chained): a unit of work that audits many things (a block's outcomes) reads
        # and locks the head row once, when it first writes entries (at the latest at
        # commit), inserts them in one statement and moves the head once.
        self._audit_tip: tuple[int, str] | None = None
        self._audit_pending: list[dict[str, Any]] = []
        self._sqlite = engine.dialect.name == "sqlite"
        self._savepoints = 0  # names each savepoint of this unit apart

    def __enter__(self) -> Self:
        if self._gate is not None:
            self._gate.acquire()
            self._gated = True
        try:
            conn = self.engine.connect()
            if self.read_only and self._sqlite:
                conn = conn.execution_options(corridor_read_only=True)
            elif self.read_only:
                # PostgreSQL: no BEGIN and no ROLLBACK, two round trips of a unit that only
                # reads. At READ COMMITTED each statement took its own snapshot anyway.
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            self.conn = conn
            self.conn.begin()
        except BaseException:
            self._ungate()
            raise
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
            self._audit_tip, self._audit_pending = None, []
            self._ungate()

    def _ungate(self) -> None:
        if self._gated:
            self._gated = False
            assert self._gate is not None
            self._gate.release()

    def repo(self, record_type: type[R]) -> SqlRepo[R]:
        assert self.conn is not None, "use the unit of work inside `with`"
        if record_type is AuditEntry:
            self._flush_audit()  # reads of the trail see this transaction's entries
        r = self._repos.get(record_type)
        if r is None:
            r = self._repos[record_type] = SqlRepo(self.conn, record_type)
        return r

    def commit(self) -> None:
        assert self.conn is not None and not self.read_only, "a read-only unit of work"
        try:
            raw = None if self._sqlite or not self._audit_pending else direct_connection(
                self.conn)
            if raw is None:
                self._flush_audit()
                self.conn.commit()
            else:
                # PostgreSQL: the entries (linked by the server, audit_sql.PG_APPEND) and
                # COMMIT go in one round trip (psycopg's pipeline): the head's lock, which
                # every audited transaction waits for, is held for no client round trip.
                with raw.pipeline():
                    self._flush_audit()
                    self.conn.commit()
            self._audit_tip = None  # a later transaction on this unit reads the head anew
        finally:
            self._ungate()  # the next writer may begin while this one finishes up

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: if the block raises, its writes (and audit entries) are
        undone and the transaction goes on as before it (adapters/group_commit.py)."""
        assert self.conn is not None and not self.read_only
        tip, pending = self._audit_tip, list(self._audit_pending)
        raw = self._raw()
        if raw is None:
            nested = self.conn.begin_nested()
        else:  # SQLite: the statements themselves (SQLAlchemy's bookkeeping cost more)
            self._savepoints += 1
            name = f"corridor_sp{self._savepoints}"
            raw.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            if raw is None:
                nested.rollback()
            elif not raw.in_transaction:
                raise  # SQLite rolled everything back (its savepoints too): the caller's
            else:
                raw.execute(f"ROLLBACK TO {name}")
                raw.execute(f"RELEASE {name}")
            # The block's entries are dropped; any written inside it (a flush) were rolled
            # back with it, so those from before it are pending again and the tip is where
            # it was (the head row's update was rolled back too).
            self._audit_tip, self._audit_pending = tip, pending
            raise
        if raw is None:
            nested.commit()
        else:
            raw.execute(f"RELEASE {name}")

    def in_transaction(self) -> bool:
        """Whether the transaction is still open (SQLite rolls it back by itself after
        some errors, savepoints and all)."""
        assert self.conn is not None
        raw = self._raw()
        return bool(raw.in_transaction) if raw is not None else self.conn.in_transaction()

    def _raw(self) -> Any:
        """The sqlite3 connection under this unit of work (None on PostgreSQL)."""
        assert self.conn is not None
        return self.conn.connection.driver_connection if self._sqlite else None

    def execute(self, statement: Any) -> Any:
        """Escape hatch for adapter-level queries (repositories with ranges, reports)."""
        assert self.conn is not None
        self._flush_audit()
        return self.conn.execute(statement)

    def execute_with(self, statement: Any, params: dict[str, Any]) -> Any:
        """`execute` with bound parameters (a statement built once, run many times). An
        insert, update or delete runs on the driver's connection (the result is its cursor:
        `rowcount`)."""
        assert self.conn is not None
        self._flush_audit()
        raw = direct_connection(self.conn)
        if raw is None or not statement.is_dml:
            return self.conn.execute(statement, params)
        key = (self.conn.dialect.name, id(statement))
        hit = _PREPARED_DML.get(key)
        if hit is None or hit[0] is not statement:
            hit = _PREPARED_DML[key] = (
                statement, direct_sql.prepare(statement, self.conn.dialect))
        return direct_sql.run(self.conn, raw, hit[1].sql, hit[1].args(params))

    def audit_head(self) -> tuple[int, str]:
        """(seq, hash) of the chain's last entry, as the head row records it."""
        from corridor.platform.adapters.tables_core import audit_head

        assert self.conn is not None
        self._flush_audit()
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
        """Records an entry; it joins the chain (seq, prev_hash, hash) when it is written,
        at the latest at commit: the head row's lock, which serialises every audited
        transaction on PostgreSQL, is then held only while the entries are written (on
        psycopg by the server itself, audit_sql.PG_APPEND), not for everything the
        transaction does after its first entry."""
        assert self.conn is not None
        self._audit_pending.append(dict(
            at_ms=self.clock.now_ms(), actor_id=actor_id, actor_kind=actor_kind,
            action=action, object_type=object_type, object_id=object_id,
            before=_json_safe(before), after=_json_safe(after), ip=ip,
        ))

    def _audit_tip_locked(self) -> tuple[int, str]:
        """The chain's tip, its head row locked until this transaction ends (SQLite's BEGIN
        IMMEDIATE already serialises writers; a PostgreSQL driver other than psycopg waits
        here). Read once per transaction: the lock keeps it the tip."""
        assert self.conn is not None
        if self._audit_tip is None:
            raw = direct_connection(self.conn)
            if raw is None:
                head = self.conn.execute(audit_sql.statements()[0]).one()
                self._audit_tip = (int(head.seq), str(head.hash))
            else:
                read = audit_sql.prepared(self.conn.dialect)[0]
                cursor = direct_sql.run(self.conn, raw, read.sql, read.args({}))
                row = read.row(cursor.fetchone())
                self._audit_tip = (int(row["seq"]), str(row["hash"]))
        return self._audit_tip

    def _flush_audit(self) -> None:
        """Chains the pending entries onto the tip, writes them (one statement) and moves
        the head."""
        if not self._audit_pending:
            return
        assert self.conn is not None
        raw = direct_connection(self.conn)
        if raw is not None and not self._sqlite:  # PostgreSQL links them itself
            pending, self._audit_pending = self._audit_pending, []
            direct_sql.run(self.conn, raw, audit_sql.PG_APPEND, audit_sql.pg_append_args(pending))
            return
        seq, tip = self._audit_tip_locked()
        pending, self._audit_pending = self._audit_pending, []
        entries = []
        for fields in pending:
            seq += 1
            chained = {**fields, "seq": seq, "prev_hash": tip}
            tip = audit_chain.entry_hash(**chained)
            entries.append({**chained, "hash": tip})
        self._audit_tip = (seq, tip)
        if raw is None:
            _, insert, move = audit_sql.statements()
            self.conn.execute(insert, entries)
            self.conn.execute(move, {"new_seq": seq, "new_hash": tip})
            return
        _, append, moved = audit_sql.prepared(self.conn.dialect)
        direct_sql.run_many(self.conn, raw, append.sql, [append.args(e) for e in entries])
        direct_sql.run(self.conn, raw, moved.sql, moved.args({"new_seq": seq, "new_hash": tip}))


# DML statements built once by their callers, prepared for the driver (kept alive here).
_PREPARED_DML: dict[tuple[str, int], tuple[Any, direct_sql.Prepared]] = {}
