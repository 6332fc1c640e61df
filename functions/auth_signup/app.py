"""POST /api/auth/signup: create an account; 201 with an access token and the refresh cookie."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from apikit.accounts import SignupRequest, signup, token_response
from apikit.app import create_app, make_handler
from apikit.validation import parse_body

app = create_app()


@app.post("/api/auth/signup")
def create_account() -> Response[str]:
    tokens, refresh_token = signup(parse_body(app.current_event, SignupRequest))
    return token_response(tokens, refresh_token, HTTPStatus.CREATED)


lambda_handler = make_handler(app)
