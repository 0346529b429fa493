"""One router per area; `corridor.api.app.ROUTERS` lists them."""
