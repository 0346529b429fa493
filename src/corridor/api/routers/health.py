from __future__ import annotations

from fastapi import APIRouter

from corridor.api.json_body import JsonRoute

router = APIRouter(route_class=JsonRoute, tags=["system"])


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness: the API process answers."""
    return {"status": "ok"}
