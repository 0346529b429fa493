"""The platform's HTTP API (FastAPI): routers, pydantic schemas, auth, error mapping."""
