"""URL-safe text for bytes: the one spelling cursors, refresh tokens and key ids share."""

import base64


def base64url(raw: bytes) -> str:
    """Base64url without padding (RFC 4648 section 5; RFC 7515's form for JOSE), as `secrets.token_urlsafe` spells."""
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
