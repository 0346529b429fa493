"""The repositories' statements on SQLite, run straight on the sqlite3 connection.

SQLAlchemy compiles each statement once (db.SqlRepo keeps one per shape), but executing it
through a Connection still cost ~100 us of Python a statement (events, parameter
construction, the cursor and row wrappers) against ~25 us for sqlite3 itself: most of a
payment creation's time under SQLite's one write lock (cProfile, bench payments). Here a
statement is compiled once to its SQL text, its parameters' order and the type processors
of its parameters and result columns (the dialect's own, so values go in and come out
exactly as through SQLAlchemy), and run on the same DB-API connection, inside the same
transaction. Only statements without late-rendered parameters (expanding IN lists, literal
LIMITs): the repositories build those with one parameter per value instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

Processor = Callable[[Any], Any] | None


@dataclasses.dataclass(frozen=True, slots=True)
class Prepared:
    """A statement ready for sqlite3: SQL text, the parameters' order (with the values of
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


def prepare(statement: Any, dialect: sa.engine.Dialect) -> Prepared:
    compiled = statement.compile(dialect=dialect)
    assert dialect.paramstyle == "qmark" and compiled.positiontup is not None
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
