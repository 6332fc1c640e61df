"""POST /api/auth/refresh: spend the refresh cookie for a new access token and a rotated cookie."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from apikit.accounts import REFRESH_COOKIE, SET_REFRESH_COOKIE, TokenResponse, refresh, token_response
from apikit.app import create_app, make_handler
from apikit.cookies import read_cookie
from apikit.routes import REFRESH_COOKIE_AUTH, route

app = create_app()


@route(
    app,
    "POST",
    "/api/auth/refresh",
    summary="Rotate the refresh cookie for a new access token",
    security=REFRESH_COOKIE_AUTH,
    response=TokenResponse,
    response_headers=SET_REFRESH_COOKIE,
    errors=(HTTPStatus.UNAUTHORIZED, HTTPStatus.SERVICE_UNAVAILABLE),  # 503: DynamoDB busy, retry (Retry-After)
)
def rotate() -> Response[str]:
    tokens, refresh_token = refresh(read_cookie(app.current_event, REFRESH_COOKIE))
    return token_response(tokens, refresh_token)


lambda_handler = make_handler(app)
