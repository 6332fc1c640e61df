"""ANY /api/{proxy+}: API Gateway sends here whatever no other route matched.

An unknown path is a 404; a known path with a method it does not serve is a 405 with `Allow`, and a
plain OPTIONS (not a CORS preflight, which API Gateway answers itself) lists the methods.
"""

import json
import re
from http import HTTPStatus
from pathlib import Path
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from apikit.app import create_app, make_handler
from apikit.errors import MethodNotAllowed, NotFound
from apikit.responses import empty_response

# Every declared route and its methods, written by `make openapi` from the functions' own declarations.
ROUTES: dict[str, list[str]] = json.loads((Path(__file__).parent / "routes.json").read_text())
_PATTERNS = [
    (re.compile("^" + re.sub(r"\{[^/]+?\}", "[^/]+", path) + "$"), methods) for path, methods in ROUTES.items()
]

app = create_app()


def allowed_methods(raw_path: str) -> list[str] | None:
    """The methods of the declared route this path is, or None. Matched as API Gateway routes: on the path decoded
    once, %2F included (`/api/posts/a%2Fb` is `/api/posts/a/b`, which no route has), the rule of
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html that the dev server
    (devserver.gateway.decoded_path) follows too. rawPath is the path as sent, still encoded."""
    path = unquote(raw_path)
    for pattern, methods in _PATTERNS:
        if pattern.fullmatch(path):
            return [*methods, "OPTIONS"]
    return None


@app.not_found
def unmatched(_: NotFoundError) -> Response[str]:
    event = app.current_event
    allowed = allowed_methods(event.raw_path)
    if allowed is None:
        raise NotFound("No route matches this path.")
    if event.request_context.http.method == "OPTIONS":
        return empty_response(HTTPStatus.NO_CONTENT, {"Allow": ", ".join(allowed)})
    raise MethodNotAllowed(allowed)


lambda_handler = make_handler(app)
