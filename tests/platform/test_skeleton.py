"""The platform skeleton: health, error shape, authentication of bearer tokens."""

from __future__ import annotations

from starlette.testclient import TestClient


def test_health_answers(client: TestClient) -> None:
    assert client.get("/v1/health").json() == {"status": "ok"}


def test_unknown_route_has_the_error_shape(client: TestClient) -> None:
    r = client.get("/v1/nope")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"


def test_openapi_documents_the_api(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["info"]["title"] == "Corridor platform API"
    assert "/v1/health" in doc["paths"]


def test_a_unique_race_is_a_409_not_a_500(client: TestClient) -> None:
    """A request that loses a race on a unique constraint gets a clear, retryable 409."""
    import sqlalchemy as sa
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/v1/test-race")
    def race() -> None:
        raise sa.exc.IntegrityError("INSERT ...", {}, Exception("UNIQUE constraint failed"))

    client.app.include_router(router)  # type: ignore[attr-defined]
    r = client.get("/v1/test-race")
    assert r.status_code == 409 and r.json()["error"]["code"] == "CONFLICT"
