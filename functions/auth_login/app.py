"""POST /api/auth/login: 200 with an access token and the refresh cookie; the same 401 for any failure."""

from aws_lambda_powertools.event_handler import Response

from apikit.accounts import LoginRequest, login, token_response
from apikit.app import create_app, make_handler
from apikit.validation import parse_body

app = create_app()


@app.post("/api/auth/login")
def log_in() -> Response[str]:
    tokens, refresh_token = login(parse_body(app.current_event, LoginRequest))
    return token_response(tokens, refresh_token)


lambda_handler = make_handler(app)
