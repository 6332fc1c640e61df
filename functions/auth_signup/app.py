"""POST /api/auth/signup: create an account; 201 with an access token and the refresh cookie."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from apikit.accounts import SET_REFRESH_COOKIE, SignupRequest, TokenResponse, signup, token_response
from apikit.app import create_app, make_handler
from apikit.routes import route

app = create_app()


@route(
    app,
    "POST",
    "/api/auth/signup",
    summary="Create an account",
    body=SignupRequest,
    status=HTTPStatus.CREATED,
    response=TokenResponse,
    response_headers=SET_REFRESH_COOKIE,
    errors=(HTTPStatus.CONFLICT,),
)
def create_account(body: SignupRequest) -> Response[str]:
    tokens, refresh_token = signup(body)
    return token_response(tokens, refresh_token, HTTPStatus.CREATED)


lambda_handler = make_handler(app)
