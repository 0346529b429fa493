"""The API's one JSON decoder: every route's JSON body is decoded by
`corridor.platform.domain.json_text.loads`, so a body that names the same key twice in one
object is refused (422 DUPLICATE_KEY) instead of the last value silently winning.

Each router is built with `route_class=JsonRoute`; `create_app` asserts that every router
is, so a new router cannot bypass the decoder."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from corridor.api.errors import RequestRefused
from corridor.platform.domain import json_text
from corridor.platform.domain.errors import Err


def loads(body: bytes | str) -> Any:
    """JSON as the API reads it (json_text.loads), refusals as 422 with a stable code."""
    try:
        return json_text.loads(body)
    except json_text.DuplicateKey as exc:
        raise RequestRefused(Err.DUPLICATE_KEY, str(exc), {exc.key: "given twice"}) from None
    except json_text.NotJson as exc:
        raise RequestRefused(Err.INVALID_JSON, str(exc)) from None


class JsonRequest(Request):
    """A request whose `json()` is the API's strict decoder (FastAPI reads bodies so)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class JsonRoute(APIRoute):
    """An API route whose handler decodes JSON bodies with `loads`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def decode_strictly(request: Request) -> Response:
            return await handler(JsonRequest(request.scope, request.receive))

        return decode_strictly
