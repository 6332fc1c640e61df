"""POST /api/auth/logout: revoke the refresh token's family and clear the cookie; 204 either way."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from apikit.accounts import REFRESH_COOKIE, REFRESH_COOKIE_PATH, logout
from apikit.app import create_app, make_handler
from apikit.cookies import expired_cookie, read_cookie
from apikit.responses import empty_response
from apikit.routes import REFRESH_COOKIE_AUTH, route

app = create_app()


@route(
    app,
    "POST",
    "/api/auth/logout",
    summary="Log out: revoke the refresh token and clear its cookie",
    security=REFRESH_COOKIE_AUTH,
    security_optional=True,  # without a cookie there is nothing to revoke: still a 204
    status=HTTPStatus.NO_CONTENT,
    response_headers={"Set-Cookie": "The refresh_token cookie, expired."},
)
def log_out() -> Response[str]:
    logout(read_cookie(app.current_event, REFRESH_COOKIE))
    response = empty_response()
    response.cookies.append(expired_cookie(REFRESH_COOKIE, REFRESH_COOKIE_PATH))
    return response


lambda_handler = make_handler(app)
