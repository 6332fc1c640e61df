"""The access tokens' keys: an EC P-256 (ES256) key pair per generation, named by its RFC 7638 thumbprint (`kid`).

Two secrets hold them, so that only the functions that sign can sign:
- `JwtSigningKey`, read by signup, login and refresh only: `{"kid": ..., "private_key": "<PKCS#8 PEM>"}`;
- `JwtPublicKeys`, read by every function that verifies and served at `GET /api/auth/jwks.json`: a JWK Set
  (RFC 7517), newest key first, at most `KEEP` keys: the current one and the one before it, so that tokens signed
  just before a rotation keep working until they expire. The key before that is retired: its tokens are refused.

A rotation (functions/jwt_rotation, Secrets Manager's four steps) publishes the new public key first and only then
makes the new private key current, so no verifier meets a token signed by a key it has never been told about
(a verifier that cached the key set before the rotation refetches it once when it sees an unknown `kid`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from apikit.encoding import base64url

ALGORITHM = "ES256"
KEEP = 2  # the current key and the previous one


def public_jwk(private_pem: str) -> dict[str, str]:
    """The JWK of a private key's public half, with its thumbprint as `kid` (RFC 7638)."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    private = load_pem_private_key(private_pem.encode(), password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey) or private.curve.name != "secp256r1":
        raise ValueError("the signing key must be an EC P-256 key")
    numbers = private.public_key().public_numbers()
    jwk = {"crv": "P-256", "kty": "EC", "x": base64url(numbers.x.to_bytes(32, "big"))}
    jwk["y"] = base64url(numbers.y.to_bytes(32, "big"))
    # The thumbprint: SHA-256 of the required members, in lexicographic order, without spaces.
    kid = base64url(hashlib.sha256(json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()).digest())
    return {**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"}


def new_signing_key() -> str:
    """A fresh `JwtSigningKey` value."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps({"kid": public_jwk(pem)["kid"], "private_key": pem})


def with_public_key(key_set: str, signing_key: str) -> str:
    """The `JwtPublicKeys` value once `signing_key`'s public key is published: newest first, `KEEP` at most."""
    try:
        keys: list[dict[str, Any]] = json.loads(key_set).get("keys", [])
    except (ValueError, AttributeError):
        keys = []  # the placeholder of a stack's first deploy
    new = public_jwk(json.loads(signing_key)["private_key"])
    others = [key for key in keys if isinstance(key, dict) and key.get("kid") != new["kid"]]
    return json.dumps({"keys": [new, *others][:KEEP]})
