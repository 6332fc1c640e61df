"""Bearer tokens on every write: 401 with a WWW-Authenticate challenge for anything but a valid ES256 access token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

from apikit import keys
from tests.conftest import PUBLIC_KEYS, SIGNING_KEY, _client, assert_problem, fetch_post, invoke, load_event, write_post

DROP = object()
KID = json.loads(SIGNING_KEY)["kid"]
PRIVATE_KEY = load_pem_private_key(json.loads(SIGNING_KEY)["private_key"].encode(), password=None)
PUBLIC_JWK = keys.public_jwk(json.loads(SIGNING_KEY)["private_key"])


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"sub": "alice", "iss": "api-routes", "aud": "api-routes", "iat": now, "nbf": now}
    base["exp"] = now + 900
    for name, value in overrides.items():
        if value is DROP:
            base.pop(name)
        else:
            base[name] = value
    return base


def token(
    key: Any = PRIVATE_KEY, algorithm: str = "ES256", kid: Any = KID, typ: Any = "at+jwt", **overrides: Any
) -> str:
    headers = {name: value for name, value in {"kid": kid, "typ": typ}.items() if value is not DROP}
    return jwt.encode(claims(**overrides), key, algorithm=algorithm, headers=headers)


def other_es256_key() -> tuple[str, Any]:
    """Another P-256 key with its own kid: what a forger (or a retired key) signs with."""
    other = keys.new_signing_key()
    return json.loads(other)["kid"], load_pem_private_key(json.loads(other)["private_key"].encode(), password=None)


def signed_by_another_key() -> str:
    kid, key = other_es256_key()
    return token(key, kid=kid)


def hs256_with_the_public_key() -> str:
    """Algorithm confusion: HS256 keyed with the public key's bytes, which anyone can fetch from jwks.json."""
    public_pem = PRIVATE_KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "kid": KID, "typ": "at+jwt"}
    signing_input = b".".join(
        base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=") for part in (header, claims())
    )
    signature = base64.urlsafe_b64encode(hmac.new(public_pem, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    return (signing_input + b"." + signature).decode()


def tampered_signature() -> str:
    header, payload, signature = token().split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return ".".join([header, payload, signature[:middle] + flipped + signature[middle + 1 :]])


def tampered_payload() -> str:
    _, _, signature = token(sub="alice").split(".")
    header, payload, _ = token(sub="mallory").split(".")
    return ".".join([header, payload, signature])


def other_es384_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP384R1())


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
    "other key, our kid": lambda: f"Bearer {token(key=other_es256_key()[1])}",
    "other key, its own kid": lambda: f"Bearer {signed_by_another_key()}",
    "HS256 with the public key (alg confusion)": lambda: f"Bearer {hs256_with_the_public_key()}",
    "HS256 with a shared secret": lambda: f"Bearer {token(key='a-shared-secret-' + 'y' * 48, algorithm='HS256')}",
    "RS256": lambda: f"Bearer {rs256_token()}",
    "ES384": lambda: f"Bearer {token(key=other_es384_key(), algorithm='ES384')}",
    "no kid": lambda: f"Bearer {token(kid=DROP)}",
    "unknown kid": lambda: f"Bearer {token(kid='not-a-published-kid')}",
    "no typ": lambda: f"Bearer {token(typ=DROP)}",
    "typ JWT (not an access token)": lambda: f"Bearer {token(typ='JWT')}",
    "lifetime over the cap": lambda: f"Bearer {token(exp=int(time.time()) + 901)}",
    "no nbf": lambda: f"Bearer {token(nbf=DROP)}",
    "not valid for another minute": lambda: f"Bearer {token(nbf=int(time.time()) + 60)}",
    "wrong aud": lambda: f"Bearer {token(aud='someone-else')}",
    "wrong iss": lambda: f"Bearer {token(iss='https://evil.example')}",
    "no sub": lambda: f"Bearer {token(sub=DROP)}",
    "empty sub": lambda: f"Bearer {token(sub='')}",
    "numeric sub": lambda: f"Bearer {token(sub=42)}",
    "no exp": lambda: f"Bearer {token(exp=DROP)}",
    # PyJWT takes any number (int() of it) for exp and iat; a token we issue has integers only.
    "fractional exp": lambda: f"Bearer {token(exp=int(time.time()) + 899.5)}",
    "fractional iat": lambda: f"Bearer {token(iat=int(time.time()) + 0.5)}",
    "iat as text": lambda: f"Bearer {token(iat=str(int(time.time())))}",
    "no iat": lambda: f"Bearer {token(iat=DROP)}",
    "no iss": lambda: f"Bearer {token(iss=DROP)}",
    "no aud": lambda: f"Bearer {token(aud=DROP)}",
    "issued in the future": lambda: f"Bearer {token(iat=int(time.time()) + 3600, exp=int(time.time()) + 7200)}",
    "not yet valid": lambda: f"Bearer {token(nbf=int(time.time()) + 3600)}",
    "not a jwt": lambda: "Bearer not.a.jwt",
    "garbage": lambda: "Bearer garbage",
    "Basic scheme": lambda: "Basic YWxpY2U6c2VjcmV0",
    "valid token under Basic": lambda: f"Basic {token()}",
    # Schemes that sort after "bearer" too, and one that starts with it: only the exact scheme is Bearer.
    "valid token under Token": lambda: f"Token {token()}",
    "valid token under DPoP": lambda: f"DPoP {token()}",
    "valid token under Bearerx": lambda: f"Bearerx {token()}",
    "Bearer without token": lambda: "Bearer",
    "Bearer and spaces": lambda: "Bearer    ",
    "token without scheme": lambda: token(),
}


@pytest.mark.parametrize("case", BAD_AUTHORIZATIONS)
def test_a_bad_token_is_401_invalid_token_and_creates_nothing(aws, case):
    result = create(BAD_AUTHORIZATIONS[case]())

    assert_invalid_token(result)
    assert no_posts_exist()


@pytest.mark.parametrize("case", ["Basic scheme", "valid token under Bearerx", "Bearer and spaces"])
def test_an_authorization_header_that_is_not_bearer_and_a_token_says_so(aws, case):
    body = assert_invalid_token(create(BAD_AUTHORIZATIONS[case]()))

    assert body["detail"] == "The Authorization header must be 'Bearer <token>'."


def test_the_answer_does_not_say_which_check_failed(aws):
    details = {
        assert_invalid_token(create(BAD_AUTHORIZATIONS[case]()))["detail"]
        for case in ("expired", "tampered signature", "wrong aud", "no sub", "alg none")
    }

    assert details == {"The access token is invalid or expired."}


def test_auth_is_checked_before_the_body(aws):
    assert_invalid_token(create(BAD_AUTHORIZATIONS["expired"](), body="not json"))


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("case", [None, "expired", "alg none", "other key, our kid", "Basic scheme"])
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


# --- ES256 specifics: clock skew, the lifetime cap, rotation ----------------------------------------------


def test_nbf_allows_a_little_clock_skew_and_the_lifetime_may_reach_the_cap_exactly(aws):
    now = int(time.time())

    assert create(f"Bearer {token(nbf=now + 20)}").status == 201  # within NOT_BEFORE_LEEWAY_SECONDS
    assert create(f"Bearer {token(iat=now, exp=now + 900)}").status == 201  # ACCESS_TOKEN_TTL_SECONDS exactly


def test_a_token_works_until_just_before_its_exp_and_not_at_it(aws, monkeypatch):
    """No leeway on exp: at exactly `exp` the token is expired, even when this container has it verified and cached."""
    now = int(time.time())
    authorization = f"Bearer {token(iat=now, nbf=now, exp=now + 900)}"

    monkeypatch.setattr(time, "time", lambda: now + 899.999)
    assert create(authorization).status == 201
    monkeypatch.setattr(time, "time", lambda: float(now + 900))
    assert_invalid_token(create(authorization))


def publish(*jwks: dict[str, Any]) -> None:
    _client("secretsmanager").put_secret_value(SecretId="JwtPublicKeys", SecretString=json.dumps({"keys": list(jwks)}))


def test_a_key_published_after_this_container_cached_the_set_is_found_by_refetching_once(aws, monkeypatch):
    from apikit import auth

    assert create(f"Bearer {token()}").status == 201  # the set is now cached, without the new key
    new_kid, new_key = other_es256_key()
    new_jwk = {**keys.public_jwk(private_pem(new_key)), "kid": new_kid}
    publish(new_jwk, PUBLIC_JWK)
    monkeypatch.setattr(auth, "_last_refresh", 0.0)

    assert create(f"Bearer {token(new_key, kid=new_kid)}").status == 201
    # Made-up kids do not refetch again within UNKNOWN_KID_REFRESH_SECONDS (one Secrets Manager call at most).
    calls = []
    monkeypatch.setattr(auth, "get_secret", lambda *args, **kwargs: calls.append(kwargs) or json.dumps({"keys": []}))
    for _ in range(5):
        assert_invalid_token(create(f"Bearer {token(kid='made-up')}"))
    assert [call for call in calls if call.get("force_fetch")] == []


def test_the_previous_key_works_until_it_is_retired_by_the_next_rotation(aws):
    previous_token = f"Bearer {token()}"
    new_kid, new_key = other_es256_key()
    newer = {**keys.public_jwk(private_pem(new_key)), "kid": new_kid}
    publish(newer, PUBLIC_JWK)  # rotation: new key first, ours kept as the previous one
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    assert create(previous_token).status == 201

    newest = keys.public_jwk(json.loads(keys.new_signing_key())["private_key"])
    publish(newest, newer)  # the next rotation retires ours
    parameters.clear_caches()
    assert_invalid_token(create(previous_token))


def private_pem(key: Any) -> str:
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


@pytest.mark.parametrize(
    "header",
    [
        pytest.param({"alg": "HS256"}, id="HS256"),
        pytest.param({"typ": "JWT"}, id="typ-JWT"),
        pytest.param({"kid": 7}, id="numeric-kid"),
    ],
)
def test_a_token_whose_header_is_not_ours_is_refused_before_any_key_is_looked_up(aws, monkeypatch, header):
    """No Secrets Manager call, cached or forced, for a header that cannot be ours: only the claims' part is read."""
    from apikit import auth

    claims_part = token().split(".")[1]
    header_part = base64.urlsafe_b64encode(json.dumps({"alg": "ES256", "kid": KID, "typ": "at+jwt", **header}).encode())
    forged = f"{header_part.decode().rstrip('=')}.{claims_part}.c2lnbmF0dXJl"
    monkeypatch.setattr(auth, "_last_refresh", 0.0)
    lookups: list[str] = []
    monkeypatch.setattr(auth, "get_secret", lambda variable, **_: lookups.append(variable) or PUBLIC_KEYS)

    assert_invalid_token(create(f"Bearer {forged}"))
    assert lookups == []


def test_an_unknown_kid_refetches_the_key_set_once_ten_seconds_have_passed_since_the_last_refetch(aws, monkeypatch):
    from apikit import auth

    assert create(f"Bearer {token()}").status == 201  # the set is now cached, without the new key
    new_kid, new_key = other_es256_key()
    publish({**keys.public_jwk(private_pem(new_key)), "kid": new_kid}, PUBLIC_JWK)
    now = [1009.999]
    monkeypatch.setattr(auth.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(auth, "_last_refresh", 1000.0)

    assert_invalid_token(create(f"Bearer {token(new_key, kid=new_kid)}"))  # 9.999 s since the last refetch
    now[0] = 1010.0
    assert create(f"Bearer {token(new_key, kid=new_kid)}").status == 201  # 10 s: refetched
    now[0] = 1019.999
    assert_invalid_token(create(f"Bearer {token(kid='made-up')}"))  # counted from that refetch: none now
    assert auth._last_refresh == 1010.0


@pytest.mark.parametrize(
    "document",
    [
        pytest.param({}, id="no-keys-member"),
        pytest.param({"keys": []}, id="no-keys"),
    ],
)
def test_a_key_set_without_keys_refuses_every_token(aws, document):
    from aws_lambda_powertools.utilities import parameters

    _client("secretsmanager").put_secret_value(SecretId="JwtPublicKeys", SecretString=json.dumps(document))
    parameters.clear_caches()

    assert_invalid_token(create(f"Bearer {token()}"))


def test_entries_of_the_key_set_that_are_not_keys_with_a_kid_are_skipped(aws):
    from aws_lambda_powertools.utilities import parameters

    publish("kid", ["kid"], {key: value for key, value in PUBLIC_JWK.items() if key != "kid"}, PUBLIC_JWK)
    parameters.clear_caches()

    assert create(f"Bearer {token()}").status == 201


def test_a_token_with_a_published_kid_never_forces_a_refetch_of_the_key_set(aws, monkeypatch):
    from apikit import auth

    monkeypatch.setattr(auth, "_last_refresh", 0.0)  # a refetch would be allowed
    lookups: list[dict[str, Any]] = []
    monkeypatch.setattr(auth, "get_secret", lambda variable, **options: lookups.append(options) or PUBLIC_KEYS)

    assert create(f"Bearer {token()}").status == 201
    assert lookups == [{}]  # the cached read only
