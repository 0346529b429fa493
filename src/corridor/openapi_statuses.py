"""Every status an operation can answer, in its OpenAPI document, by construction.

FastAPI documents an operation's success and, when it takes input, a 422 in FastAPI's own
shape. The other statuses come from what the operation depends on and takes: a session
check answers 401/403, a rate limit 429, a path parameter 404, a body 413... Writing them
on every route is a list that drifts; instead each app calls `document` once, which walks
its routes when the OpenAPI document is first built and adds to every operation the
statuses derived from its dependencies and inputs by the app's rules, each with the app's
error schema, plus the security requirement of the dependencies that authenticate (so
`/docs` can authorise). A dependency states what it can answer with `@declares(...)`; a
FastAPI security class (`HTTPBearer`, `APIKeyHeader`...) counts as answering 401 and 403.
A route may still list statuses of its own (`responses={409: {...}}`): they get the error
schema too.

This module is shared by the platform API and the node RPC and imports nothing from
corridor.
"""

from __future__ import annotations

import dataclasses
import http
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import fastapi.routing
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase
from pydantic import BaseModel

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REF_PREFIX = "#/components/schemas/"
_MARK = "__corridor_declares__"

F = TypeVar("F", bound=Callable[..., Any])


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Declares:
    """What a dependency can answer: error statuses, and the security scheme it checks."""

    statuses: frozenset[int]
    security: str | None = None


def declares(*statuses: int, security: str | None = None) -> Callable[[F], F]:
    """Marks a dependency with the error statuses it can answer (and the name of the
    security scheme it checks); every operation depending on it, directly or through
    another dependency, documents them."""

    def mark(fn: F) -> F:
        setattr(fn, _MARK, Declares(statuses=frozenset(statuses), security=security))
        return fn

    return mark


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """What one operation takes and depends on: the facts its statuses derive from."""

    method: str
    path: str
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    header_params: tuple[str, ...]  # lower-case wire names
    body: bool
    body_fields: tuple[str, ...]  # every field name of the body, nested models included
    declared: frozenset[int]  # by its dependencies
    security: tuple[str, ...]  # the schemes its dependencies check

    @property
    def takes_input(self) -> bool:
        return bool(self.path_params or self.query_params or self.header_params or self.body)

    @property
    def mutates(self) -> bool:
        return self.method in MUTATING


Rule = Callable[[Operation], Iterable[int]]


def _model_fields(annotation: Any, depth: int = 0) -> Iterator[str]:
    if depth > 4 or not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return
    for name, info in annotation.model_fields.items():
        yield name
        yield from _model_fields(info.annotation, depth + 1)
        for arg in getattr(info.annotation, "__args__", ()):  # Optional[Model], list[Model]
            yield from _model_fields(arg, depth + 1)


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def describe(route: Any, method: str) -> Operation:
    """The facts of `route` (an APIRoute, or FastAPI's view of one as included under a
    prefix) answering `method`, from its whole dependency tree."""
    path: list[str] = []
    query: list[str] = []
    headers: list[str] = []
    body: list[str] = []
    has_body = False
    declared: set[int] = set()
    security: list[str] = []
    for d in _walk(route.dependant):
        path += [f.alias for f in d.path_params]
        query += [f.alias for f in d.query_params]
        headers += [f.alias.lower().replace("_", "-") for f in d.header_params]
        for f in d.body_params:
            has_body = True
            body.append(f.alias)
            body.extend(_model_fields(f.field_info.annotation))
        if d.call is None:
            continue
        if isinstance(d.call, SecurityBase):
            declared |= {401, 403}
            security.append(d.call.scheme_name)
        mark = getattr(d.call, _MARK, None)
        if isinstance(mark, Declares):
            declared |= mark.statuses
            if mark.security:
                security.append(mark.security)
    return Operation(
        method=method, path=route.path_format, path_params=tuple(dict.fromkeys(path)),
        query_params=tuple(dict.fromkeys(query)), header_params=tuple(dict.fromkeys(headers)),
        body=has_body, body_fields=tuple(dict.fromkeys(body)), declared=frozenset(declared),
        security=tuple(dict.fromkeys(security)))


def _api_routes(app: FastAPI) -> Iterator[Any]:
    # FastAPI >= 0.13x keeps included routers as such and offers each route as included
    # (full path, the including routers' dependencies too) through iter_route_contexts.
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    for route in contexts(app.routes) if contexts is not None else app.routes:
        if isinstance(getattr(route, "original_route", route), APIRoute):
            yield route


def operations(app: FastAPI) -> Iterator[Operation]:
    """Every documented operation of `app`."""
    for route in _api_routes(app):
        if route.include_in_schema:
            for method in sorted(set(route.methods) - {"HEAD"}):
                yield describe(route, method)


def statuses(op: Operation, rules: Sequence[Rule]) -> frozenset[int]:
    """The error statuses `op` can answer: its dependencies' and the rules'."""
    out = set(op.declared)
    for rule in rules:
        out.update(rule(op))
    return frozenset(out)


def _hoist(model: type[BaseModel], components: dict[str, Any]) -> str:
    schema = model.model_json_schema(ref_template=REF_PREFIX + "{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components[model.__name__] = schema
    return REF_PREFIX + model.__name__


def document(app: FastAPI, *, rules: Sequence[Rule], error_model: type[BaseModel],
             descriptions: Mapping[int, str], schemes: Mapping[str, dict[str, Any]]) -> None:
    """Makes `app`'s OpenAPI document list, on every operation, each error status it can
    answer (with `error_model` as its body) and the security schemes it checks
    (`schemes`: name -> OpenAPI security scheme)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = build()
        components = spec.setdefault("components", {})
        ref = _hoist(error_model, components.setdefault("schemas", {}))
        error_content = {"application/json": {"schema": {"$ref": ref}}}
        used_schemes: set[str] = set()
        for op in operations(app):
            doc = spec["paths"][op.path][op.method.lower()]
            responses = doc.setdefault("responses", {})
            for status in sorted(statuses(op, rules)):
                described = descriptions.get(status) or http.HTTPStatus(status).phrase
                responses.setdefault(str(status), {"description": described})
            for code, response in responses.items():
                if code[0] in "45":  # every error (FastAPI's own 422 too) in the app's shape
                    response["content"] = error_content
            if op.security:
                doc["security"] = [{name: []} for name in op.security]
                used_schemes.update(op.security)
        if used_schemes:
            known = components.setdefault("securitySchemes", {})
            known.update({name: schemes[name] for name in sorted(used_schemes)
                          if name in schemes and name not in known})
        for name in ("HTTPValidationError", "ValidationError"):  # replaced by error_model
            components.get("schemas", {}).pop(name, None)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
