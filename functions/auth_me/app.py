"""GET /api/auth/me: the user the bearer token names."""

from aws_lambda_powertools.event_handler import Response

from apikit.accounts import current_user
from apikit.app import create_app, make_handler
from apikit.auth import require_user
from apikit.responses import json_response

app = create_app()


@app.get("/api/auth/me")
def me() -> Response[str]:
    user = current_user(require_user(app.current_event).user_id)
    return json_response(user, headers={"Cache-Control": "no-store"})


lambda_handler = make_handler(app)
