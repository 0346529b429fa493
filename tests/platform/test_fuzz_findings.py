"""Server errors found by the fuzzer's class of input (tests/fuzz.py): text that
str.isdigit() calls digits but int() and hmac.compare_digest do not take ("¹²³")."""

from __future__ import annotations

from starlette.testclient import TestClient

from corridor.platform.domain import rails
from corridor.platform.domain.errors import Err
from corridor.platform.services import rails as rail_service
from tests.platform.conftest import Actor

SUPERSCRIPT_DIGITS = "¹²³⁴⁵⁶"


def test_a_webhook_timestamp_in_other_digits_is_refused_not_a_server_error(
    client: TestClient,
) -> None:
    assert rails.signature_problem(b"secret", "¹", "v1=00", b"{}", now_s=0) == (
        Err.WEBHOOK_SIGNATURE_INVALID, "missing or malformed timestamp")
    r = client.post("/v1/rails/sim-bank/webhook", content=b"{}", headers={
        rail_service.TIMESTAMP_HEADER: "¹".encode("latin-1"),
        rail_service.SIGNATURE_HEADER: "v1=00"})
    assert r.status_code == 401, r.text


def test_an_authenticator_code_in_other_digits_is_refused_not_a_server_error(
    client: TestClient, customer: Actor,
) -> None:
    assert client.post("/v1/me/totp", headers=customer.headers).status_code == 200
    r = client.post("/v1/me/totp/confirm", json={"code": SUPERSCRIPT_DIGITS},
                    headers=customer.headers)
    assert r.status_code == 422, r.text
