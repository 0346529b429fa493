"""The OpenAPI document lists every status an operation can answer, derived from what it
depends on and takes (corridor/openapi_statuses.py), and declares the bearer scheme. The
fuzzer (test_fuzz.py) checks answers against it; these check the derivation itself."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header
from fastapi.security import HTTPBearer
from pydantic import BaseModel
from starlette.testclient import TestClient

from corridor.openapi_statuses import declares, document
from tests.platform.test_authz_matrix import SOME_ID

ERROR_REF = "#/components/schemas/ErrorOut"


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, ops in spec["paths"].items() for m, op in ops.items()]


def test_every_operation_documents_the_statuses_of_what_it_depends_on(
    client: TestClient,
) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer",
        "description": "The session token from POST /v1/auth/login/verify."}
    ops = _operations(spec)
    assert len(ops) > 80
    problems = []
    for method, path, op in ops:
        documented = {int(s) for s in op["responses"]}
        params = {p["in"] for p in op.get("parameters", [])}
        expected = set()
        if op.get("security"):
            assert op["security"] == [{"bearer": []}], (method, path)
            expected |= {401, 403}
        if params or "requestBody" in op:
            expected.add(422)
        if "path" in params:
            expected.add(404)
        if "requestBody" in op:
            expected |= {400, 413}
        if any(p["name"].lower() == "idempotency-key" for p in op.get("parameters", [])):
            expected.add(409)
        if method != "GET":
            expected.add(409)
        if not expected <= documented:
            problems.append(f"{method} {path}: missing {sorted(expected - documented)}")
        for status, response in op["responses"].items():
            if status[0] in "45":
                schema = response["content"]["application/json"]["schema"]
                if schema != {"$ref": ERROR_REF}:
                    problems.append(f"{method} {path} {status}: {schema}")
    assert not problems, "\n".join(problems)
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_secured_operations_are_exactly_those_that_answer_401_without_a_session(
    client: TestClient,
) -> None:
    """What the document says about security is what the app does: anonymous, every
    operation marked secured answers 401; every other one does not ask for a session."""
    spec = client.get("/openapi.json").json()
    for method, template, op in _operations(spec):
        path = re.sub(r"\{(\w+)\}", lambda m: "email" if m.group(1) == "channel" else SOME_ID,
                      template)
        r = client.request(method, path, json={})
        if op.get("security"):
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
        else:
            assert r.json().get("error", {}).get("code") not in (
                "UNAUTHENTICATED", "SESSION_INVALID"), (method, path, r.text)


class Err(BaseModel):
    error: str


# As another change would add them: a new dependency declaring 429, used through a second
# dependency; a FastAPI security class.
@declares(429)
def throttle() -> None:
    pass


def lookup(_: Annotated[None, Depends(throttle)]) -> str:
    return "x"


token = HTTPBearer(auto_error=False, scheme_name="node_token")


def _tiny_app() -> FastAPI:
    app = FastAPI()

    @app.get("/things/{thing_id}")
    def thing(thing_id: str, _: Annotated[str, Depends(lookup)]) -> dict[str, str]:
        return {"id": thing_id}

    @app.post("/secret", responses={418: {"description": "declared by the route"}})
    def secret(_: Annotated[Any, Depends(token)],
               x_key: Annotated[str | None, Header()] = None) -> None:
        pass

    @app.get("/plain")
    def plain() -> None:
        pass

    document(app, rules=(lambda op: (404,) if op.path_params else (),
                         lambda op: (409,) if "x-key" in op.header_params else ()),
             error_model=Err, descriptions={404: "absent", 409: "keyed", 429: "slow"},
             schemes={})
    return app


def test_a_new_dependency_documents_its_statuses_wherever_it_is_used() -> None:
    spec = _tiny_app().openapi()
    thing = spec["paths"]["/things/{thing_id}"]["get"]
    assert sorted(thing["responses"]) == ["200", "404", "422", "429"]
    assert thing["responses"]["429"] == {
        "description": "slow",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Err"}}}}
    assert "security" not in thing
    secret = spec["paths"]["/secret"]["post"]
    assert sorted(secret["responses"]) == ["200", "401", "403", "409", "418", "422"]
    assert secret["responses"]["418"]["description"] == "declared by the route"
    assert secret["responses"]["418"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Err"}
    assert secret["security"] == [{"node_token": []}]
    assert spec["components"]["securitySchemes"]["node_token"]["scheme"] == "bearer"
    assert sorted(spec["paths"]["/plain"]["get"]["responses"]) == ["200"]
