"""A small OpenID Connect issuer: a real HTTP server on 127.0.0.1 (ephemeral port) that publishes
`/.well-known/openid-configuration` (naming its `jwks_uri`) and `/jwks.json` (its RSA public keys, by kid), as an
identity provider does for API Gateway's JWT authorizers. Tests sign tokens with its private keys (`token`), sign
with a key it never published (`stranger`), rotate to a new key (`rotate`), and read which paths were fetched.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.loopback import LoopbackHandler, LoopbackServer


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class _Handler(LoopbackHandler):
    def respond(self, body: bytes, headers: dict[str, str]) -> None:
        issuer: OidcIssuer = self.server.fake  # type: ignore[attr-defined]
        issuer.fetched.append(self.path)
        if self.path == "/.well-known/openid-configuration":
            document: Any = {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks.json"}
        elif self.path == "/jwks.json":
            document = {"keys": [issuer.jwk(kid) for kid in issuer.published]}
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = json.dumps(document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class OidcIssuer(LoopbackServer):
    def __init__(self) -> None:
        super().__init__(_Handler)
        self.keys: dict[str, rsa.RSAPrivateKey] = {"key-1": rsa_key()}
        self.published = ["key-1"]  # kids in /jwks.json
        self.current = "key-1"  # the kid new tokens are signed with
        self.fetched: list[str] = []  # paths requested, in order

    @property
    def url(self) -> str:
        """The issuer identifier: the `iss` of its tokens, and what JwtConfiguration's issuer names."""
        return self.origin

    def jwk(self, kid: str) -> dict[str, Any]:
        public: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
        return {**public, "kid": kid, "use": "sig", "alg": "RS256"}

    def rotate(self) -> str:
        """A new signing key, published beside the old ones; returns its kid."""
        kid = f"key-{len(self.keys) + 1}"
        self.keys[kid] = rsa_key()
        self.published.append(kid)
        self.current = kid
        return kid

    def token(self, kid: str | None = None, key: rsa.RSAPrivateKey | None = None, **claims: Any) -> str:
        """A token signed RS256 by the current key (or `key`, under `kid`), with `iss`, `aud`, `iat` and an `exp`
        an hour away unless `claims` say otherwise (a claim given as None is left out)."""
        now = int(time.time())
        body = {"iss": self.url, "aud": "orders-api", "sub": "user-1", "iat": now, "exp": now + 3600, **claims}
        body = {name: value for name, value in body.items() if value is not None}
        kid = kid or self.current
        return jwt.encode(body, key or self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def stranger(self, **claims: Any) -> str:
        """A token under a published kid, signed by a key the issuer never published: a forged signature."""
        return self.token(key=rsa_key(), **claims)
