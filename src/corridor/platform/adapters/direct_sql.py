"""The repositories' statements run straight on the DB-API connection: sqlite3 on SQLite,
psycopg on PostgreSQL.

SQLAlchemy compiles each statement once (db.SqlRepo keeps one per shape), but executing it
through a Connection still cost ~100 us of Python a statement (events, parameter
construction, the cursor and row wrappers) against ~25 us for sqlite3 itself: most of a
payment creation's time under SQLite's one write lock (cProfile, bench payments), and on
PostgreSQL, where a payment runs ~30 statements between the API and the chain workers, a
large part of the platform's CPU (docs/decisions/0006-postgresql-path.md). Here a
statement is compiled once to its SQL text, its parameters' order and the type processors
of its parameters and result columns (the dialect's own, so values go in and come out
exactly as through SQLAlchemy), and run on the same DB-API connection, inside the same
transaction. Only statements without late-rendered parameters (expanding IN lists, literal
LIMITs): the repositories build those with one parameter per value instead. A driver's
error comes out as SQLAlchemy's (`run`), so callers catch what they always caught.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

Processor = Callable[[Any], Any] | None


@dataclasses.dataclass(frozen=True, slots=True)
class Prepared:
    """A statement ready for the driver: SQL text, the parameters' order (with the values of
    those fixed in the statement) and their processors, and the result's processors."""

    sql: str
    names: tuple[str, ...]
    fixed: tuple[Any, ...]  # the statement's own value of a parameter (_REQUIRED: none)
    binds: tuple[Processor, ...]
    columns: tuple[str, ...]
    results: tuple[Processor, ...]

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        out = []
        for name, fixed, proc in zip(self.names, self.fixed, self.binds, strict=True):
            # As SQLAlchemy does: a value given with the execution wins over the statement's.
            value = params[name] if name in params or fixed is _REQUIRED else fixed
            out.append(value if proc is None else proc(value))
        return tuple(out)

    def row(self, raw: Sequence[Any]) -> dict[str, Any]:
        return {name: value if proc is None else proc(value)
                for name, proc, value in zip(self.columns, self.results, raw, strict=True)}

    def values(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(value if proc is None else proc(value)
                     for proc, value in zip(self.results, raw, strict=True))


_REQUIRED = object()  # a parameter whose value must come with each execution


_POSITIONAL: dict[int, tuple[sa.engine.Dialect, sa.engine.Dialect]] = {}


def positional(dialect: sa.engine.Dialect) -> sa.engine.Dialect:
    """The dialect itself on SQLite (qmark); on psycopg a copy that renders `%s`
    placeholders (psycopg takes both), so a statement's arguments are a plain tuple."""
    if dialect.positional:
        return dialect
    hit = _POSITIONAL.get(id(dialect))
    if hit is None or hit[0] is not dialect:
        copied = copy.copy(dialect)
        copied.paramstyle, copied.positional = "format", True
        hit = _POSITIONAL[id(dialect)] = (dialect, copied)
    return hit[1]


def prepare(statement: Any, dialect: sa.engine.Dialect) -> Prepared:
    dialect = positional(dialect)
    compiled = statement.compile(dialect=dialect)
    assert compiled.positiontup is not None
    assert not compiled.literal_execute_params and not compiled.post_compile_params, \
        "late-rendered parameters: build one parameter per value"
    names = tuple(compiled.positiontup)
    fixed, binds = [], []
    for name in names:
        bind = compiled.binds[name]
        fixed.append(_REQUIRED if bind.required else bind.effective_value)
        binds.append(bind.type.dialect_impl(dialect).bind_processor(dialect))
    columns: list[str] = []
    results: list[Processor] = []
    if statement.is_select:
        for col in statement.selected_columns:
            columns.append(col.name)
            results.append(col.type.dialect_impl(dialect).result_processor(dialect, None))
    return Prepared(sql=compiled.string, names=names, fixed=tuple(fixed), binds=tuple(binds),
                    columns=tuple(columns), results=tuple(results))


def run(conn: Connection, raw: Any, sql: str, args: tuple[Any, ...]) -> Any:
    """`sql` on the driver connection `raw` under SQLAlchemy connection `conn`: its cursor.
    A driver error is raised as SQLAlchemy raises it (IntegrityError, OperationalError...),
    and a connection the server dropped is invalidated (the pool opens a new one)."""
    try:
        return raw.execute(sql, args)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _as_sqlalchemys(conn, raw, None, sql, args, exc) from exc


def run_many(conn: Connection, raw: Any, sql: str, args: Sequence[tuple[Any, ...]]) -> None:
    """`run` for many argument tuples in one call (psycopg pipelines them)."""
    cursor = raw.cursor()  # not closed here: in a pipeline its results are still to come
    try:
        cursor.executemany(sql, args)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _as_sqlalchemys(conn, raw, cursor, sql, args, exc) from exc


def _as_sqlalchemys(conn: Connection, raw: Any, cursor: Any, sql: str, args: Any,
                    exc: Exception) -> BaseException:
    """What SQLAlchemy does with a driver's error: if the server dropped the connection,
    every connection of the pool from before now is discarded at its next checkout (the
    engine has no pre-ping) and this one at once; the error is SQLAlchemy's own class."""
    disconnect = conn.dialect.is_disconnect(exc, raw, cursor)  # type: ignore[arg-type]
    if disconnect:
        conn.engine.pool._invalidate(conn.connection, exc)  # SQLAlchemy's own step
        conn.invalidate(exc)
    return sa.exc.DBAPIError.instance(sql, args, exc, conn.dialect.loaded_dbapi.Error,
                                      connection_invalidated=disconnect,
                                      dialect=conn.dialect)
