"""Sessions that survive real browsers: a grace window for a just-rotated refresh token, reuse told apart from a
throttle, an absolute lifetime refresh never extends, and a login that reads what sign-up just wrote."""

from __future__ import annotations

import base64
import hmac
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.conftest import assert_problem, invoke, load_event
from tests.unit.test_auth import login, logout, refresh, refresh_cookie, signup

DAY = 24 * 3600


class Clock:
    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """time.time() under the test's control (the sessions repository's and the access token's clock)."""
    fake = Clock()
    monkeypatch.setattr(time, "time", lambda: fake.now)
    return fake


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set environment variables the settings read, and read them again."""
    from apikit.config import get_settings

    def change(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield change
    get_settings.cache_clear()


def session_items() -> list[dict[str, Any]]:
    from apikit.repositories import dynamodb

    return dynamodb().scan(TableName="SessionsTable", ConsistentRead=True)["Items"]


def families() -> list[dict[str, Any]]:
    return [item for item in session_items() if item["pk"]["S"].startswith("family#")]


def tokens() -> list[dict[str, Any]]:
    return [item for item in session_items() if item["pk"]["S"].startswith("token#")]


@contextmanager
def before(operation: str, run: Callable[..., Any]) -> Iterator[None]:
    """Run `run(params)` as the shared (moto-backed) DynamoDB client is about to send `operation`; a tuple it
    returns, (http response, parsed response), is the answer instead of moto's, as botocore's Stubber does."""
    from apikit.repositories import dynamodb

    events = dynamodb().meta.events
    event = f"before-call.dynamodb.{operation}"
    events.register(event, lambda params, **_: run(params), unique_id="test-sessions-before")
    try:
        yield
    finally:
        events.unregister(event, unique_id="test-sessions-before")


def once(run: Callable[..., Any]) -> Callable[..., Any]:
    done: list[bool] = []

    def first(params: dict[str, Any]) -> Any:
        if not done:
            done.append(True)
            return run(params)
        return None

    return first


def dynamodb_error(code: str, *reasons: str, message: str = "") -> tuple[Any, dict[str, Any]]:
    """DynamoDB's error answer as botocore parses it; for TransactionCanceledException, with CancellationReasons."""
    from botocore.awsrequest import AWSResponse

    parsed: dict[str, Any] = {"Error": {"Code": code, "Message": message or code}}
    parsed["ResponseMetadata"] = {"HTTPStatusCode": 400, "HTTPHeaders": {}}
    if reasons:
        parsed["Error"]["Message"] = (
            f"Transaction cancelled, please refer cancellation reasons for specific reasons [{', '.join(reasons)}]"
        )
        parsed["CancellationReasons"] = [
            {"Code": reason} if reason == "None" else {"Code": reason, "Message": reason} for reason in reasons
        ]
    return AWSResponse("https://dynamodb.us-east-1.amazonaws.com/", 400, {}, None), parsed


def me(access_token: str) -> int:
    return invoke("auth_me", load_event("auth_me/get.json", headers={"authorization": f"Bearer {access_token}"})).status


@pytest.fixture
def calls() -> Iterator[Callable[[str], list[dict[str, Any]]]]:
    """The parameters of every call the shared (moto-backed) DynamoDB client makes, by operation name."""
    from apikit.repositories import dynamodb

    seen: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        seen.append((model.name, dict(params)))

    events = dynamodb().meta.events
    events.register("before-parameter-build.dynamodb.*", record, unique_id="test-sessions-spy")
    try:
        yield lambda operation: [params for name, params in seen if name == operation]
    finally:
        events.unregister("before-parameter-build.dynamodb.*", unique_id="test-sessions-spy")


def test_login_reads_the_credentials_and_the_profile_strongly_consistently(aws, calls):
    """Right after sign-up an eventually consistent read may not see the new user yet: login must not fail."""
    user_id = signup().json()["user"]["id"]

    assert login().status == 200

    reads = [params for params in calls("GetItem") if params["TableName"] == "UsersTable"]
    assert {params["Key"]["pk"]["S"] for params in reads} == {"email#ada@example.com", f"user#{user_id}"}
    assert all(params.get("ConsistentRead") is True for params in reads), reads


def test_me_reads_the_profile_eventually_consistently(aws, calls):
    """Half the read cost: the profile /me reads was written long before, unlike at a login right after sign-up."""
    body = signup().json()

    assert me(body["access_token"]) == 200

    [read] = [params for params in calls("GetItem") if params["TableName"] == "UsersTable"]
    assert read["Key"] == {"pk": {"S": f"user#{body['user']['id']}"}}
    assert read["ConsistentRead"] is False


def test_refresh_and_a_replay_read_the_sessions_table_strongly_consistently(aws, calls):
    """A token spent, or a family revoked, a moment ago must be seen as such: no stale read hands out a session;
    and the profile of a user who just signed up is found."""
    first = refresh_cookie(signup())
    assert refresh(first).status == 200

    assert refresh(first).status == 200  # inside the grace window: the token and then its family are read

    reads = [params for params in calls("GetItem") if params["TableName"] in {"SessionsTable", "UsersTable"}]
    assert {params["Key"]["pk"]["S"].split("#")[0] for params in reads} == {"token", "family", "user"}
    assert all(params.get("ConsistentRead") is True for params in reads), reads


def test_refresh_never_extends_a_session_past_its_absolute_lifetime(aws, clock):
    login_at = int(clock.now)
    first = refresh_cookie(signup())

    clock.advance(20 * DAY)
    rotated = refresh(first)
    assert rotated.status == 200
    second = refresh_cookie(rotated)

    [family] = families()
    assert int(family["login_at"]["N"]) == login_at
    assert int(family["expires_at"]["N"]) == login_at + 30 * DAY  # not 20 + 30 days
    for item in tokens():
        assert int(item["expires_at"]["N"]) <= login_at + 30 * DAY

    clock.advance(10 * DAY - 1)
    third = refresh(second)
    assert third.status == 200  # inside the 30 days
    clock.advance(1)
    assert refresh(refresh_cookie(third)).status == 401  # 30 days after login, however young the token


def test_the_absolute_lifetime_is_configurable_and_caps_the_first_token_too(aws, clock, settings):
    settings(SESSION_MAX_SECONDS="3600")
    login_at = int(clock.now)
    token = refresh_cookie(signup())

    [family], [item] = families(), tokens()
    assert int(family["expires_at"]["N"]) == int(item["expires_at"]["N"]) == login_at + 3600

    clock.advance(3599)
    token = refresh_cookie(refresh(token))
    clock.advance(1)
    assert refresh(token).status == 401


def test_a_refresh_token_works_in_its_last_second_and_not_at_its_expiry(aws, clock, settings):
    """`expires_at` is the first second a token no longer works. A spent token presented then is only expired: no
    reuse, so its family (and the successor it gave) lives on."""
    from apikit.accounts import sessions

    settings(REFRESH_TOKEN_TTL_SECONDS="3600")  # under the session's 30 days: the token's own expiry is what ends it
    user_id = signup().json()["user"]["id"]
    last_second, idle, spent = (sessions.start(user_id) for _ in range(3))  # three logins at once
    clock.advance(1)
    [cookie] = refresh(spent).cookies  # Max-Age=3600: not the contract's cookie that refresh_cookie() reads
    successor = cookie.split(";")[0].removeprefix("refresh_token=")

    clock.advance(3598)
    assert refresh(last_second).status == 200

    clock.advance(1)  # issued + 3600: every first token's expires_at
    for token in (idle, spent):
        expired = refresh(token)
        assert expired.status == 401
        assert 'error="invalid_token"' in expired.headers["www-authenticate"]
    assert refresh(successor).status == 200  # expires at issued + 3601


def test_an_expired_session_is_401_even_with_a_fresh_token(aws, clock):
    token = refresh_cookie(signup())
    for _ in range(3):  # each refresh two weeks apart: every token is young, the session is not
        clock.advance(14 * DAY)
        result = refresh(token)
        if result.status != 200:
            break
        token = refresh_cookie(result)

    assert result.status == 401
    assert 'error="invalid_token"' in result.headers["www-authenticate"]


def test_logout_of_a_session_whose_family_is_gone_writes_no_item_without_an_expiry(aws):
    from apikit.repositories import dynamodb

    token = refresh_cookie(signup())
    [family] = families()
    dynamodb().delete_item(TableName="SessionsTable", Key={"pk": family["pk"]})  # expired by TTL, say

    assert logout(token).status == 204
    assert refresh(token).status == 401

    assert families() == []
    assert all("expires_at" in item for item in session_items())


def test_a_rotated_token_presented_again_within_the_grace_window_gets_the_same_successor(aws, clock):
    """Two tabs refreshing at once, or a retry after a lost response: the same new session, not a logout."""
    first = refresh_cookie(signup())
    rotated = refresh(first)
    successor = refresh_cookie(rotated)

    again = refresh(first)

    assert again.status == 200
    assert refresh_cookie(again) == successor
    assert again.json()["access_token"] != rotated.json()["access_token"]  # a fresh one...
    assert me(again.json()["access_token"]) == 200  # ...that works
    clock.advance(9)
    late = refresh(first)  # as often as it comes inside the window
    assert late.status == 200
    assert refresh_cookie(late) == successor
    assert len(tokens()) == 2  # nothing new was issued

    assert refresh(successor).status == 200  # the family lives on


def test_reuse_after_the_grace_window_revokes_the_family(aws, clock):
    first = refresh_cookie(signup())
    successor = refresh_cookie(refresh(first))

    clock.advance(10)
    replay = refresh(first)

    assert replay.status == 401
    assert 'error="invalid_token"' in replay.headers["www-authenticate"]
    assert refresh(successor).status == 401  # RFC 9700 4.14.2: the legitimate client is logged out too
    [family] = families()
    assert family["revoked"] == {"BOOL": True}


def test_a_revoked_family_gives_no_successor_even_inside_the_window(aws, clock):
    first = refresh_cookie(signup())
    successor = refresh_cookie(refresh(first))
    assert logout(successor).status == 204

    assert refresh(first).status == 401


def test_a_replay_inside_the_grace_window_gets_nothing_once_the_family_has_ended(aws, clock, settings):
    """A deploy shortened the token lifetime: the rotation ends the family in 5 s, while the spent token, issued
    before, lives on. At the family's last second the replay still gets the successor; at its end, nothing."""
    first = refresh_cookie(signup())
    settings(REFRESH_TOKEN_TTL_SECONDS="5")
    rotated = refresh(first)

    clock.advance(4)
    again = refresh(first)
    assert again.status == 200
    assert again.cookies == rotated.cookies  # the same successor (Max-Age=5: not the contract's cookie)
    clock.advance(1)  # the family's expires_at; the spent token's own is 30 days away, its window 10 s
    replay = refresh(first)

    assert replay.status == 401
    assert 'error="invalid_token"' in replay.headers["www-authenticate"]


def test_the_grace_window_is_configurable(aws, clock, settings):
    settings(REFRESH_REUSE_GRACE_SECONDS="0")
    first = refresh_cookie(signup())
    successor = refresh_cookie(refresh(first))

    assert refresh(first).status == 401
    assert refresh(successor).status == 401


def test_a_new_session_records_its_user_and_its_login_time(aws, clock):
    """What an operator reads to end one user's sessions, and what caps the session's lifetime."""
    user_id = signup().json()["user"]["id"]

    [family], [token] = families(), tokens()
    assert family["user_id"] == token["user_id"] == {"S": user_id}
    assert family["login_at"] == token["login_at"] == {"N": str(int(clock.now))}
    assert family["revoked"] == {"BOOL": False}


def test_the_table_holds_no_usable_refresh_token(aws):
    """Only hashes, and each successor wrapped under a key only the token before it gives."""
    issued = [refresh_cookie(signup())]
    for _ in range(3):
        issued.append(refresh_cookie(refresh(issued[-1])))
    assert refresh(issued[-2]).status == 200  # the grace path unwrapped a successor from the table...

    stored = json.dumps(session_items(), default=str)
    for token in issued:  # ...which holds none of them, in any encoding
        raw = base64.urlsafe_b64decode(token + "=")
        assert token not in stored
        assert raw.hex() not in stored
        assert base64.b64encode(raw).decode().rstrip("=") not in stored
        assert all(raw not in value.get("B", b"") for item in session_items() for value in item.values())


def test_a_double_submit_racing_on_one_token_gets_one_session_for_both(aws):
    """Both requests read the token unused; the second's write then finds it spent: same successor, no revoke."""
    first = refresh_cookie(signup())
    racing: list[Any] = []

    with before("TransactWriteItems", once(lambda params: racing.append(refresh(first)))):
        losing = refresh(first)

    [winning] = racing
    assert winning.status == losing.status == 200, losing.body
    assert refresh_cookie(winning) == refresh_cookie(losing)
    [family] = families()
    assert family["revoked"] == {"BOOL": False}
    assert refresh(refresh_cookie(losing)).status == 200


def test_moto_names_a_failed_condition_in_cancellation_reasons(aws):
    """What the repository reads, from moto itself: the reason per item, and the item as it stood."""
    from botocore.exceptions import ClientError

    from apikit.repositories import dynamodb

    dynamodb().put_item(TableName="SessionsTable", Item={"pk": {"S": "x"}, "used": {"BOOL": True}})
    with pytest.raises(ClientError) as raised:
        dynamodb().transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "SessionsTable",
                        "Key": {"pk": {"S": "x"}},
                        "UpdateExpression": "SET used = :true",
                        "ConditionExpression": "used = :false",
                        "ExpressionAttributeValues": {":true": {"BOOL": True}, ":false": {"BOOL": False}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
                {"Put": {"TableName": "SessionsTable", "Item": {"pk": {"S": "y"}}}},
            ]
        )
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert raised.value.response["CancellationReasons"] == [
        {
            "Code": "ConditionalCheckFailed",
            "Message": "The conditional request failed",
            "Item": {"pk": {"S": "x"}, "used": {"BOOL": True}},
        },
        {"Code": "None"},
    ]


@pytest.mark.parametrize(
    "reasons",
    [
        ("None", "ThrottlingError", "None"),
        ("ThrottlingError", "None", "None"),
        ("None", "None", "ProvisionedThroughputExceeded"),
        ("TransactionConflict", "None", "None"),
        ("None", "TransactionConflict", "None"),
    ],
)
def test_a_throttled_or_conflicting_rotation_is_503_and_the_session_lives_on(aws, reasons):
    first = refresh_cookie(signup())

    with before("TransactWriteItems", lambda params: dynamodb_error("TransactionCanceledException", *reasons)):
        busy = refresh(first)

    assert_problem(busy, 503, "/api/auth/refresh")
    assert busy.headers["retry-after"] == "1"
    assert busy.cookies == []
    [family] = families()
    assert family["revoked"] == {"BOOL": False}
    retried = refresh(first)  # nothing was spent: the same token rotates now
    assert retried.status == 200
    assert refresh(refresh_cookie(retried)).status == 200


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("GetItem", "ProvisionedThroughputExceededException"),
        ("GetItem", "ThrottlingException"),
        ("GetItem", "RequestLimitExceeded"),
        # The rotation's write throttled as a whole, not cancelled item by item: nothing was written either.
        ("TransactWriteItems", "ThrottlingException"),
        ("TransactWriteItems", "ProvisionedThroughputExceededException"),
    ],
)
def test_a_throttled_read_or_write_is_503_and_the_session_lives_on(aws, operation, code):
    first = refresh_cookie(signup())

    with before(operation, lambda params: dynamodb_error(code)):
        busy = refresh(first)

    assert_problem(busy, 503)
    assert busy.headers["retry-after"] == "1"
    assert busy.cookies == []
    assert families()[0]["revoked"] == {"BOOL": False}
    assert refresh(first).status == 200


def test_a_response_lost_after_the_rotation_is_retried_into_the_same_session(aws):
    """The rotation is written, then the profile read is throttled: 503, and the retry gets the successor."""
    first = refresh_cookie(signup())
    throttled = once(lambda params: dynamodb_error("ProvisionedThroughputExceededException"))

    with before("GetItem", lambda params: throttled(params) if b"UsersTable" in params["body"] else None):
        busy = refresh(first)

    assert busy.status == 503
    retried = refresh(first)
    assert retried.status == 200
    assert refresh(refresh_cookie(retried)).status == 200
    assert len(tokens()) == 3  # one rotation, written once


@pytest.mark.parametrize(
    "reasons",
    [
        ("TransactionConflict", "None", "None"),
        ("TransactionConflict", "TransactionConflict", "None"),
        ("None", "ThrottlingError", "None"),  # cancelled for a throttle while the other tab spent the token
    ],
)
def test_a_cancelled_rotation_while_another_request_spent_the_token_gets_its_successor(aws, reasons):
    """DynamoDB cancels one of two transactions on one item (TransactionConflict), or this one for a throttle, as
    the other spends the token: if the other won, share its successor rather than answering 503."""
    first = refresh_cookie(signup())
    racing: list[Any] = []

    def other_tab_wins(params: dict[str, Any]) -> Any:
        racing.append(refresh(first))
        return dynamodb_error("TransactionCanceledException", *reasons)

    with before("TransactWriteItems", once(other_tab_wins)):
        losing = refresh(first)

    [winning] = racing
    assert winning.status == losing.status == 200, losing.body
    assert refresh_cookie(winning) == refresh_cookie(losing)
    assert families()[0]["revoked"] == {"BOOL": False}


@pytest.mark.parametrize(
    ("error", "reasons", "status"),
    [
        ("TransactionCanceledException", ("ValidationError", "None", "None"), 500),
        ("TransactionCanceledException", ("None", "ItemCollectionSizeLimitExceeded", "None"), 500),
        ("TransactionCanceledException", (), 500),  # no reasons at all
        ("InternalServerError", (), 503),  # DynamoDB's own fault, after botocore's retries: retry shortly
        ("ValidationException", (), 500),  # a request DynamoDB refuses outright, not a cancelled transaction
    ],
)
def test_any_other_dynamodb_failure_logs_nobody_out(aws, error, reasons, status):
    first = refresh_cookie(signup())

    with before("TransactWriteItems", lambda params: dynamodb_error(error, *reasons)):
        failed = refresh(first)

    assert_problem(failed, status)
    assert families()[0]["revoked"] == {"BOOL": False}
    assert refresh(first).status == 200


def test_a_token_from_before_login_at_was_recorded_counts_its_session_from_its_first_refresh(aws, clock):
    """Sessions written before the absolute lifetime existed have no login_at: they refresh, and start counting."""
    from apikit.repositories import dynamodb

    first = refresh_cookie(signup())
    for item in session_items():  # as an older version wrote them
        dynamodb().update_item(TableName="SessionsTable", Key={"pk": item["pk"]}, UpdateExpression="REMOVE login_at")
    clock.advance(DAY)

    rotated = refresh(first)

    assert rotated.status == 200
    [family] = families()
    assert int(family["login_at"]["N"]) == int(clock.now)
    assert int(family["expires_at"]["N"]) == int(clock.now) + 30 * DAY
    assert refresh(refresh_cookie(rotated)).status == 200


def test_a_spent_tokens_successor_is_stored_as_every_version_reads_it(aws):
    """The successor is kept XOR HMAC-SHA256(spent token, "refresh-token-successor"): a token spent before a deploy
    and presented again after it must still get its successor, so this layout is fixed."""
    first = refresh_cookie(signup())
    second = refresh_cookie(refresh(first))

    spent = next(item for item in tokens() if item["used"]["BOOL"])
    pad = hmac.digest(first.encode(), b"refresh-token-successor", "sha256")
    unwrapped = bytes(a ^ b for a, b in zip(spent["successor"]["B"], pad, strict=True))
    assert base64.urlsafe_b64encode(unwrapped).decode().rstrip("=") == second


def test_a_token_deleted_by_ttl_while_rotating_is_401_without_more_writes(aws):
    """Read unspent, then gone when the rotation is written (DynamoDB's TTL deleted it): the caller must log in."""
    from apikit.repositories import dynamodb

    first = refresh_cookie(signup())
    [token] = tokens()

    def expire(params: dict[str, Any]) -> None:
        dynamodb().delete_item(TableName="SessionsTable", Key={"pk": token["pk"]})

    with before("TransactWriteItems", once(expire)):
        result = refresh(first)

    assert result.status == 401
    assert 'error="invalid_token"' in result.headers["www-authenticate"]
    assert tokens() == []
    assert families()[0]["revoked"] == {"BOOL": False}


def test_a_family_revoked_while_rotating_is_401_without_more_writes(aws):
    first = refresh_cookie(signup())

    with before("TransactWriteItems", once(lambda params: logout(first) and None)):
        result = refresh(first)

    assert result.status == 401
    assert 'error="invalid_token"' in result.headers["www-authenticate"]
    assert len(tokens()) == 1
