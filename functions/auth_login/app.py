"""POST /api/auth/login: 200 with an access token and the refresh cookie; the same 401 for any failure."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from apikit.accounts import SET_REFRESH_COOKIE, LoginRequest, TokenResponse, login, token_response
from apikit.app import create_app, make_handler
from apikit.routes import route

app = create_app()


@route(
    app,
    "POST",
    "/api/auth/login",
    summary="Log in with email and password",
    body=LoginRequest,
    response=TokenResponse,
    response_headers=SET_REFRESH_COOKIE,
    errors=(HTTPStatus.UNAUTHORIZED,),
)
def log_in(body: LoginRequest) -> Response[str]:
    tokens, refresh_token = login(body)
    return token_response(tokens, refresh_token)


lambda_handler = make_handler(app)
