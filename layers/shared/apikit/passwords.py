"""argon2id password hashing (argon2-cffi's RFC 9106 defaults). Imported only by the functions that need it."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# A hash of a random password with the current parameters: verifying against it when the email is unknown
# makes "no such user" cost the same time as "wrong password". tests/unit check it stays current.
DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$SCYvn+pKCtSWfMQk++xa9A$712R5KUbrOyPK5NYmXKcywyWLy05VZsXi/f/mKKgbmo"


@cache
def hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; with no stored hash, spend the same time and return False."""
    try:
        return hasher().verify(stored_hash or DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return hasher().check_needs_rehash(stored_hash)
