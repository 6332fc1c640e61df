"""GET /api/auth/me: the user the bearer token names."""

from aws_lambda_powertools.event_handler import Response

from apikit.accounts import current_user
from apikit.app import create_app, make_handler
from apikit.auth import Principal
from apikit.repositories.users import User
from apikit.responses import json_response
from apikit.routes import BEARER_AUTH, route

app = create_app()


@route(app, "GET", "/api/auth/me", summary="The signed-in user", security=BEARER_AUTH, response=User)
def me(user: Principal) -> Response[str]:
    return json_response(current_user(user.user_id), headers={"Cache-Control": "no-store"})


lambda_handler = make_handler(app)
