"""POST /api/auth/refresh: spend the refresh cookie for a new access token and a rotated cookie."""

from aws_lambda_powertools.event_handler import Response

from apikit.accounts import REFRESH_COOKIE, refresh, token_response
from apikit.app import create_app, make_handler
from apikit.cookies import read_cookie

app = create_app()


@app.post("/api/auth/refresh")
def rotate() -> Response[str]:
    tokens, refresh_token = refresh(read_cookie(app.current_event, REFRESH_COOKIE))
    return token_response(tokens, refresh_token)


lambda_handler = make_handler(app)
