"""The API's one JSON decoder: every route's JSON body is decoded here, and a body that
names the same key twice in one object is refused (422 DUPLICATE_KEY) instead of keeping
the last value silently, so a proxy, a signature check and the platform can never read
two different requests out of one body.

Each router is built with `route_class=JsonRoute`; `create_app` asserts that every API
route is one, so a new router cannot bypass the decoder."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from corridor.api.errors import RequestRefused


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise RequestRefused(422, "DUPLICATE_KEY", f"the JSON body names {name[:80]!r} "
                                 "more than once in one object", {name[:80]: "given twice"})
        seen.add(name)
    raise AssertionError("a shorter dict without a repeated key")


def loads(body: bytes | str) -> Any:
    """JSON as the API reads it: standard JSON, no key twice in one object."""
    return json.loads(body, object_pairs_hook=_no_duplicates)


class JsonRequest(Request):
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
