"""Bearer tokens on every write: 401 with a WWW-Authenticate challenge for anything but a valid HS256 access token."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from tests.conftest import JWT_KEY, assert_problem, fetch_post, invoke, load_event, write_post

DROP = object()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"sub": "alice", "iss": "api-routes", "aud": "api-routes", "iat": now, "exp": now + 900}
    for name, value in overrides.items():
        if value is DROP:
            base.pop(name)
        else:
            base[name] = value
    return base


def token(key: Any = JWT_KEY, algorithm: str = "HS256", **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, algorithm=algorithm)


def tampered_signature() -> str:
    header, payload, signature = token().split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return ".".join([header, payload, signature[:middle] + flipped + signature[middle + 1 :]])


def tampered_payload() -> str:
    _, _, signature = token(sub="alice").split(".")
    header, payload, _ = token(sub="mallory").split(".")
    return ".".join([header, payload, signature])


def rs256_token() -> str:
    rsa = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa")
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return token(key=private_key, algorithm="RS256")


def create(authorization: str | None, body: Any = None):
    event = load_event(
        "posts_create/post.json",
        headers={"authorization": authorization},
        **({"body": body} if body is not None else {}),
    )
    return invoke("posts_create", event)


def no_posts_exist() -> bool:
    return invoke("posts_list", load_event("posts_list/get.json", query={})).json()["items"] == []


def assert_invalid_token(result) -> dict[str, Any]:
    body = assert_problem(result, 401)
    challenge = result.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    return body


# A token from this helper is accepted, so each bad token below fails for the one thing it changes.


def test_a_hand_minted_valid_token_is_accepted(aws):
    result = create(f"Bearer {token(sub='dave')}")

    assert result.status == 201, result.body
    assert result.json()["author_id"] == "dave"


@pytest.mark.parametrize("authorization", ["bearer {}", "BEARER {}", "Bearer   {}  "])
def test_the_scheme_is_case_insensitive_and_spaces_are_tolerated(aws, authorization):
    assert create(authorization.format(token())).status == 201


def test_the_header_name_is_case_insensitive(aws):
    event = load_event("posts_create/post.json", headers={"authorization": None, "Authorization": f"Bearer {token()}"})

    assert invoke("posts_create", event).status == 201


def test_no_authorization_is_401_with_a_plain_bearer_challenge(aws):
    result = create(None)

    body = assert_problem(result, 401, instance="/api/posts")
    assert result.headers["www-authenticate"] == 'Bearer realm="api"'
    assert body["detail"] == "Authentication is required."
    assert no_posts_exist()


BAD_AUTHORIZATIONS = {
    "expired": lambda: f"Bearer {token(exp=int(time.time()) - 60)}",
    "tampered signature": lambda: f"Bearer {tampered_signature()}",
    "tampered payload": lambda: f"Bearer {tampered_payload()}",
    "alg none": lambda: f"Bearer {token(key=None, algorithm='none')}",
    "alg none, no signature dot": lambda: "Bearer " + ".".join(token(key=None, algorithm="none").split(".")[:2]),
    "other key": lambda: f"Bearer {token(key='another-signing-key-' + 'y' * 44)}",
    "HS512 with our key": lambda: f"Bearer {token(algorithm='HS512')}",
    "RS256": lambda: f"Bearer {rs256_token()}",
    "wrong aud": lambda: f"Bearer {token(aud='someone-else')}",
    "wrong iss": lambda: f"Bearer {token(iss='https://evil.example')}",
    "no sub": lambda: f"Bearer {token(sub=DROP)}",
    "empty sub": lambda: f"Bearer {token(sub='')}",
    "numeric sub": lambda: f"Bearer {token(sub=42)}",
    "no exp": lambda: f"Bearer {token(exp=DROP)}",
    "no iat": lambda: f"Bearer {token(iat=DROP)}",
    "no iss": lambda: f"Bearer {token(iss=DROP)}",
    "no aud": lambda: f"Bearer {token(aud=DROP)}",
    "issued in the future": lambda: f"Bearer {token(iat=int(time.time()) + 3600, exp=int(time.time()) + 7200)}",
    "not yet valid": lambda: f"Bearer {token(nbf=int(time.time()) + 3600)}",
    "not a jwt": lambda: "Bearer not.a.jwt",
    "garbage": lambda: "Bearer garbage",
    "Basic scheme": lambda: "Basic YWxpY2U6c2VjcmV0",
    "valid token under Basic": lambda: f"Basic {token()}",
    "Bearer without token": lambda: "Bearer",
    "Bearer and spaces": lambda: "Bearer    ",
    "token without scheme": lambda: token(),
}


@pytest.mark.parametrize("case", BAD_AUTHORIZATIONS)
def test_a_bad_token_is_401_invalid_token_and_creates_nothing(aws, case):
    result = create(BAD_AUTHORIZATIONS[case]())

    assert_invalid_token(result)
    assert no_posts_exist()


def test_the_answer_does_not_say_which_check_failed(aws):
    details = {
        assert_invalid_token(create(BAD_AUTHORIZATIONS[case]()))["detail"]
        for case in ("expired", "tampered signature", "wrong aud", "no sub", "alg none")
    }

    assert details == {"The access token is invalid or expired."}


def test_auth_is_checked_before_the_body(aws):
    assert_invalid_token(create(BAD_AUTHORIZATIONS["expired"](), body="not json"))


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("case", [None, "expired", "alg none", "other key", "Basic scheme"])
def test_writes_to_a_post_need_a_valid_token(create_post, method, case):
    post = create_post(author="alice", title="Untouched")
    authorization = BAD_AUTHORIZATIONS[case]() if case else None
    headers = {"authorization": authorization}
    body = {"title": "Hijacked", "content": "Hijacked"} if method != "DELETE" else None

    result = write_post(method, post["id"], user=None, headers=headers, body=body)

    if case is None:
        assert_problem(result, 401)
        assert result.headers["www-authenticate"] == 'Bearer realm="api"'
    else:
        assert_invalid_token(result)
    stored = fetch_post(post["id"])
    assert stored.status == 200
    assert stored.json()["title"] == "Untouched"
    assert stored.headers["etag"] == '"v1"'


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_write_to_an_unknown_post_without_a_token_is_401_not_404(aws, method):
    result = write_post(method, "3f1c2a9e-8b7d-4e21-9a6f-0c5d2e7b1a44", user=None)

    assert_problem(result, 401)


def test_reads_need_no_token(create_post):
    post = create_post()

    assert fetch_post(post["id"]).status == 200
    assert invoke("posts_list", load_event("posts_list/get.json", query={})).status == 200
