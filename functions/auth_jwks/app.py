"""GET /api/auth/jwks.json: the public keys that verify access tokens (RFC 7517 JWK Set), current and previous.

Other services (or a front end) can verify this API's tokens without asking it; nothing here can sign one.
"""

from aws_lambda_powertools.event_handler import Response

from apikit.app import create_app, make_handler
from apikit.responses import JSON
from apikit.routes import route
from apikit.secrets import get_secret

app = create_app()

# Five minutes, as long as the functions' own secret cache: a rotation publishes its key before signing with it.
CACHE_CONTROL = "public, max-age=300"
JWK_SET = {
    "type": "object",
    "properties": {
        "keys": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "kty": {"const": "EC"},
                    "crv": {"const": "P-256"},
                    "x": {"type": "string"},
                    "y": {"type": "string"},
                    "kid": {
                        "type": "string",
                        "description": "The key's RFC 7638 thumbprint; a token's header names it.",
                    },
                    "alg": {"const": "ES256"},
                    "use": {"const": "sig"},
                },
                "required": ["kty", "crv", "x", "y", "kid", "alg", "use"],
            },
        }
    },
    "required": ["keys"],
}


@route(
    app,
    "GET",
    "/api/auth/jwks.json",
    summary="The public keys that verify access tokens",
    response=JWK_SET,
    response_headers={"Cache-Control": CACHE_CONTROL},
)
def jwks() -> Response[str]:
    return Response(200, JSON, get_secret("JWT_PUBLIC_KEYS_ARN"), headers={"Cache-Control": CACHE_CONTROL})


lambda_handler = make_handler(app)
