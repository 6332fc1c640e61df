"""Auth endpoints: sign-up, login, refresh rotation with reuse detection, logout, me."""

from __future__ import annotations

import io
import json
import re
import time
import uuid
from datetime import UTC, datetime

import jwt
import pytest

from tests.conftest import PUBLIC_KEYS, bearer, invoke, load_event

PASSWORD = "correct horse battery staple"
# The longest address there is: 254 characters (a 64-character local part, labels of at most 63).
LONGEST_EMAIL = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".com"
TOO_LONG_EMAIL = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 58 + ".com"
COOKIE = re.compile(
    r"refresh_token=([A-Za-z0-9_-]{43}); Path=/api/auth; Max-Age=2592000; HttpOnly; Secure; SameSite=Strict"
)


def signup(email="ada@example.com", password=PASSWORD, name="Ada", **extra):
    body = {"email": email, "password": password, "name": name, **extra}
    return invoke("auth_signup", load_event("auth_signup/post.json", body=body))


def login(email="ada@example.com", password=PASSWORD):
    return invoke("auth_login", load_event("auth_login/post.json", body={"email": email, "password": password}))


def refresh(token):
    cookies = [f"refresh_token={token}", "theme=dark"] if token else ["theme=dark"]
    return invoke("auth_refresh", load_event("auth_refresh/post.json", cookies=cookies))


def logout(token):
    return invoke(
        "auth_logout", load_event("auth_logout/post.json", cookies=[f"refresh_token={token}"] if token else [])
    )


def refresh_cookie(result) -> str:
    [cookie] = result.cookies
    match = COOKIE.fullmatch(cookie)
    assert match, cookie
    return match.group(1)


def test_signup_creates_the_account_and_starts_a_session(aws):
    result = signup(email="  Ada@Example.COM ")

    assert result.status == 201
    assert result.headers["cache-control"] == "no-store"
    body = result.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert set(body["user"]) == {"id", "email", "name", "created_at"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["user"]["created_at"])  # UTC, to the second
    created_at = datetime.strptime(body["user"]["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(created_at.timestamp() - time.time()) < 5
    assert body["user"]["email"] == "ada@example.com"
    assert PASSWORD not in result.body
    assert "argon2" not in result.body
    public_key = jwt.PyJWKSet.from_json(PUBLIC_KEYS).keys[0]
    assert jwt.get_unverified_header(body["access_token"]) == {
        "alg": "ES256",
        "kid": public_key.key_id,
        "typ": "at+jwt",
    }
    claims = jwt.decode(
        body["access_token"], public_key.key, algorithms=["ES256"], audience="api-routes", issuer="api-routes"
    )
    assert claims["sub"] == body["user"]["id"]
    assert claims["exp"] - claims["iat"] == 900
    assert claims["nbf"] == claims["iat"]
    assert claims["jti"]
    refresh_cookie(result)  # exactly the attributes the contract names


def test_each_account_gets_an_id_of_its_own(aws):
    first, second = signup(email="ada@example.com").json()["user"], signup(email="grace@example.com").json()["user"]

    assert first["id"] != second["id"]
    assert str(uuid.UUID(first["id"])) == first["id"]
    assert login(email="grace@example.com").json()["user"] == second


@pytest.mark.parametrize(
    ("changes", "location"),
    [
        ({"email": "not-an-email"}, ["body", "email"]),
        ({"email": "a@b"}, ["body", "email"]),
        ({"password": "x" * 11}, ["body", "password"]),
        ({"password": "x" * 129}, ["body", "password"]),
        ({"name": ""}, ["body", "name"]),
        ({"name": "n" * 101}, ["body", "name"]),
        ({"email": TOO_LONG_EMAIL}, ["body", "email"]),
        ({"role": "admin"}, ["body", "role"]),
        ({"password": 123456789012}, ["body", "password"]),
    ],
)
def test_signup_rejects_invalid_input_with_422(aws, changes, location):
    result = signup(**changes)

    assert result.status == 422
    assert result.headers["content-type"] == "application/problem+json"
    assert location in [error["loc"] for error in result.json()["errors"]]


@pytest.mark.parametrize(
    ("email", "message"),
    [
        # email-validator's reason, less its parenthesised detail ("(Invalid A-label)", which may quote the input).
        pytest.param("ada@xn--zz.com", "Value error, The part after the @-sign is not valid IDNA.", id="idna"),
        # NFKC makes the full-width at sign "@" for the validator, but the documented pattern has an ASCII one.
        pytest.param(
            "ada\uff20example.com", "Value error, not an address of the documented pattern", id="full-width-at"
        ),
    ],
)
def test_an_email_refused_says_why_without_quoting_it(aws, email, message):
    result = signup(email=email)

    assert result.status == 422
    [error] = result.json()["errors"]
    assert (error["loc"], error["msg"]) == (["body", "email"], message)


def test_the_longest_email_password_and_name_sign_up_and_the_same_log_in(aws):
    assert len(LONGEST_EMAIL) == 254
    assert len(TOO_LONG_EMAIL) == 255

    created = signup(email=LONGEST_EMAIL, password="p" * 128, name="n" * 100)

    assert created.status == 201, created.body
    assert created.json()["user"]["email"] == LONGEST_EMAIL
    assert created.json()["user"]["name"] == "n" * 100
    assert login(email=LONGEST_EMAIL, password="p" * 128).status == 200
    assert login(email=LONGEST_EMAIL, password="p").status == 401  # one character is a wrong password, not a 422


@pytest.mark.parametrize(
    ("changes", "location"),
    [
        ({"password": ""}, ["body", "password"]),
        ({"password": "p" * 129}, ["body", "password"]),  # as signup: what it never stored is never hashed
        ({"email": TOO_LONG_EMAIL}, ["body", "email"]),
    ],
)
def test_login_rejects_what_signup_never_accepts_with_422(aws, changes, location):
    result = login(**changes)

    assert result.status == 422, result.body
    assert result.headers["content-type"] == "application/problem+json"
    assert location in [error["loc"] for error in result.json()["errors"]]


def test_signup_rejects_the_email_as_password(aws):
    result = signup(email="longaddress@example.com", password="LongAddress@Example.com")

    assert result.status == 422
    assert result.json()["errors"][0]["msg"].endswith("the password must not be the email address")


def test_duplicate_email_is_409_whatever_its_case(aws):
    assert signup(email="ada@example.com").status == 201

    again = signup(email="ADA@example.com", name="Someone else")

    assert again.status == 409
    assert again.json()["title"] == "Conflict"
    assert again.json()["detail"] == "An account with this email already exists."
    assert again.cookies == []


def test_login_succeeds_with_the_right_password(aws):
    user_id = signup().json()["user"]["id"]

    result = login(email="Ada@example.com")

    assert result.status == 200
    assert result.json()["user"]["id"] == user_id
    refresh_cookie(result)


def test_unknown_email_and_wrong_password_get_the_same_401(aws, monkeypatch):
    signup()
    from apikit import passwords

    verified: list[str] = []
    real = passwords.hasher()

    class SpyHasher:
        def verify(self, hash_: str, password: str) -> bool:
            verified.append(hash_)
            return real.verify(hash_, password)

    monkeypatch.setattr(passwords, "hasher", SpyHasher)

    wrong = login(password="not the password at all")
    unknown = login(email="nobody@example.com")

    assert wrong.status == unknown.status == 401
    assert wrong.body == unknown.body
    assert wrong.json()["detail"] == "The email or password is incorrect."
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"] == 'Bearer realm="api"'
    assert wrong.cookies == unknown.cookies == []
    # The unknown email still paid for one argon2 verification, against the dummy hash.
    assert verified[-1] == passwords.DUMMY_HASH
    assert len(verified) == 2


def test_an_unknown_email_is_refused_even_with_the_password_of_the_dummy_hash(aws, monkeypatch):
    """The dummy hash only spends time: its password (random, here a known one) logs nobody in."""
    from apikit import passwords

    monkeypatch.setattr(passwords, "DUMMY_HASH", passwords.hash_password(PASSWORD))

    assert passwords.verify_password(None, PASSWORD) is False
    assert login(email="nobody@example.com", password=PASSWORD).status == 401


def test_dummy_hash_uses_the_current_parameters():
    from apikit.passwords import DUMMY_HASH, needs_rehash

    assert not needs_rehash(DUMMY_HASH)


def test_login_rehashes_a_hash_made_with_old_parameters(aws):
    from argon2 import PasswordHasher

    from apikit.passwords import needs_rehash
    from apikit.repositories.users import UsersRepository

    users = UsersRepository()
    users.create("old@example.com", "Old", PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD))

    assert login(email="old@example.com").status == 200

    credentials = users.credentials("old@example.com")
    assert credentials is not None
    assert not needs_rehash(credentials.password_hash)
    assert login(email="old@example.com").status == 200


def test_refresh_rotates_and_reuse_revokes_the_family(aws, monkeypatch):
    first = refresh_cookie(signup())

    rotated = refresh(first)
    assert rotated.status == 200
    assert rotated.json()["access_token"]
    second = refresh_cookie(rotated)
    assert second != first
    third = refresh_cookie(refresh(second))

    later = time.time() + 60  # past the grace window a just-rotated token has (tests/unit/test_sessions.py)
    monkeypatch.setattr(time, "time", lambda: later)
    replay = refresh(first)  # a stolen, already used token
    assert replay.status == 401
    assert 'error="invalid_token"' in replay.headers["www-authenticate"]
    assert replay.json()["detail"] == "The refresh token is invalid or expired."

    assert refresh(third).status == 401  # the whole family is revoked, the legitimate client too
    assert refresh_cookie(login()) != third  # logging in again starts a new family


def test_refresh_without_or_with_a_bad_cookie_is_401(aws):
    missing = refresh(None)
    garbage = refresh("not-a-token")

    assert missing.status == garbage.status == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="api"'
    assert missing.json()["detail"] == "A refresh token cookie is required."
    assert 'error="invalid_token"' in garbage.headers["www-authenticate"]


def test_a_refresh_cookie_whose_value_has_an_equals_sign_is_a_bad_token_not_a_missing_one(aws):
    token = refresh_cookie(signup())

    result = refresh(f"{token}=")

    assert result.status == 401
    assert 'error="invalid_token"' in result.headers["www-authenticate"]
    assert refresh(token).status == 200  # neither spent nor revoked


# Cookies other sites' scripts or older versions may have set on the same path, named around refresh_token.
NEAR_NAMES = ["analytics", "refresh", "Refresh_Token", "refresh_toke", "refresh_token_old", "xrefresh_token"]


def test_the_refresh_cookie_is_picked_by_its_exact_name_among_others(aws):
    token = refresh_cookie(signup())
    cookies = [f"{name}=not-the-token" for name in NEAR_NAMES] + [f"refresh_token={token}", "theme=dark"]

    result = invoke("auth_refresh", load_event("auth_refresh/post.json", cookies=cookies))

    assert result.status == 200, result.body


def test_a_token_under_another_cookie_name_is_no_refresh_cookie(aws):
    token = refresh_cookie(signup())
    cookies = [f"{name}={token}" for name in NEAR_NAMES]

    refreshed = invoke("auth_refresh", load_event("auth_refresh/post.json", cookies=cookies))
    logged_out = invoke("auth_logout", load_event("auth_logout/post.json", cookies=cookies))

    assert refreshed.status == 401
    assert refreshed.headers["www-authenticate"] == 'Bearer realm="api"'  # no cookie, not a bad one
    assert logged_out.status == 204
    assert refresh(token).status == 200  # neither spent nor revoked


def test_expired_refresh_token_is_401(aws, monkeypatch):
    token = refresh_cookie(signup())
    from apikit.repositories import sessions

    later = time.time() + 31 * 24 * 3600
    monkeypatch.setattr(sessions.time, "time", lambda: later)

    assert refresh(token).status == 401


def test_logout_clears_the_cookie_and_revokes_the_session(aws):
    token = refresh_cookie(signup())

    result = logout(token)

    assert result.status == 204
    assert result.body == ""
    assert result.cookies == ["refresh_token=; Path=/api/auth; Max-Age=0; HttpOnly; Secure; SameSite=Strict"]
    assert refresh(token).status == 401
    assert logout(None).status == 204  # nothing to revoke is still a clean logout


def test_me_returns_the_bearer_of_the_token(aws):
    user = signup().json()["user"]

    result = invoke("auth_me", load_event("auth_me/get.json", headers={"authorization": bearer(user["id"])}))

    assert result.status == 200
    assert result.json() == user
    assert result.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("authorization", [None, "Bearer", "Basic YWRhOnB3", "Bearer not.a.jwt"])
def test_me_without_a_valid_token_is_401(aws, authorization):
    result = invoke("auth_me", load_event("auth_me/get.json", headers={"authorization": authorization}))

    assert result.status == 401
    assert result.headers["www-authenticate"].startswith("Bearer")
    assert result.json()["status"] == 401


def test_me_for_a_deleted_user_is_401(aws):
    result = invoke("auth_me", load_event("auth_me/get.json", headers={"authorization": bearer("no-such-user")}))

    assert result.status == 401
    assert 'error="invalid_token"' in result.headers["www-authenticate"]


def test_logs_never_contain_passwords_tokens_cookies_or_hashes(aws, caplog):
    from apikit.logging import logger

    buffer = io.StringIO()
    previous_stream = logger.registered_handler.setStream(buffer)  # exactly what Lambda would ship to CloudWatch
    logger.setLevel("DEBUG")
    try:
        created = signup()
        token = refresh_cookie(created)
        logged_in = login()
        rotated = refresh(refresh_cookie(logged_in))
        logout(refresh_cookie(rotated))
        login(password="wrong password, logged?")
    finally:
        logger.setLevel("INFO")
        logger.registered_handler.setStream(previous_stream)
    output = buffer.getvalue() + caplog.text

    assert '"message":"request"' in output  # the requests were logged...
    secrets = [
        PASSWORD,
        "wrong password, logged?",
        token,
        created.json()["access_token"],
        "$argon2id$",
        "refresh_token=",
    ]
    for secret in secrets:  # ...without any of these
        assert secret not in output
    for line in output.splitlines():
        if line.startswith("{"):
            assert "cookies" not in json.loads(line)
