"""GET /api/health: liveness, with no downstream calls so it stays cheap to poll."""

from apikit.app import create_app, make_handler
from apikit.routes import route

app = create_app()


HEALTHY = {"type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]}


@route(app, "GET", "/api/health", summary="Liveness", response=HEALTHY)
def health() -> dict[str, str]:
    return {"status": "ok"}


lambda_handler = make_handler(app)
