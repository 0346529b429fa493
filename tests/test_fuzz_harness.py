"""The fuzz harness (tests/fuzz.py) itself: it must report a server error, a status the
OpenAPI does not declare and a body off its schema, or the fuzz tests prove nothing."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from schemathesis import openapi

from tests import fuzz


class Thing(BaseModel):
    name: str


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError("a bug")

    @app.get("/teapot")
    def teapot() -> JSONResponse:
        return JSONResponse({"x": 1}, status_code=418)  # not declared

    @app.get("/thing", response_model=Thing)
    def thing() -> JSONResponse:
        return JSONResponse({"name": 5})  # not a Thing

    @app.get("/fine")
    def fine() -> dict[str, str]:
        return {"ok": "yes"}

    return app


def test_the_harness_reports_each_kind_of_failure_once_per_operation() -> None:
    schema = openapi.from_asgi("/openapi.json", _app())
    report = fuzz.run(schema, {"anonymous": lambda _last: {}}, examples=2)
    assert report.operations == 4
    assert report.requests >= 4
    found = {(op, title) for op, _role, title in report.failures}
    assert ("GET /crash", "Server error") in found, report.summary()
    assert ("GET /teapot", "Undocumented status code") in found, report.summary()
    assert ("GET /thing", "Response violates schema") in found, report.summary()
    assert not [f for f in found if f[0] == "GET /fine"], report.summary()
