"""apikit.routes: what a declaration does at run time (test_openapi*.py test the document it yields)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict, Field

from apikit import routes
from apikit.app import create_app, make_handler
from apikit.auth import Principal
from apikit.routes import BEARER_AUTH, DECLARED, REFRESH_COOKIE_AUTH, route
from devserver.worker import LambdaContext
from tests.conftest import Result, assert_problem, bearer, load_event


class Query(BaseModel):
    size: int = Field(default=1, ge=1, le=5)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1)


class ThingPath(BaseModel):
    NOT_FOUND: ClassVar[str] = "No thing has this id."
    thing_id: str = Field(pattern=r"^t\d+$")


received: list[dict[str, Any]] = []
app = create_app()


@route(
    app,
    "POST",
    "/api/things/{thing_id}",
    summary="Make",
    security=BEARER_AUTH,
    path_model=ThingPath,
    query=Query,
    body=Body,
)
def make_thing(**arguments: Any) -> dict[str, Any]:
    received.append(arguments)
    return {"ok": True}


@route(app, "GET", "/api/plain/{name}", summary="Plain", security=REFRESH_COOKIE_AUTH)
def plain(name: str) -> dict[str, str]:
    return {"name": name}


handler = make_handler(app)


def call(
    method: str, path: str, token: str | None = None, query: dict[str, str] | None = None, body: Any = None
) -> Result:
    headers = {"authorization": token, "content-type": "application/json"}
    event = load_event("health/get.json", method=method, path=path, headers=headers, query=query or {}, body=body)
    response = handler(event, LambdaContext("test-function", 512, 10))
    return Result(
        response["statusCode"], {k.lower(): v for k, v in response["headers"].items()}, response["body"], [], response
    )


@pytest.fixture(autouse=True)
def _clear() -> None:
    received.clear()


def test_the_handler_gets_what_the_declaration_asks_for_already_validated(aws):
    result = call("POST", "/api/things/t7", bearer("alice"), {"size": "3"}, {"name": "kettle"})

    assert result.status == 200, result.body
    assert received == [
        {
            "user": Principal("alice"),
            "path": ThingPath(thing_id="t7"),
            "query": Query(size=3),
            "body": Body(name="kettle"),
        }
    ]


@pytest.mark.parametrize(
    ("token", "path", "query", "body", "status"),
    [
        # Every check fails here, so the first one in order answers: authentication...
        (None, "/api/things/nope", {"size": "9"}, {"name": ""}, 401),
        # ...then the path (a path that fits no resource is a 404, with the model's own words)...
        ("alice", "/api/things/nope", {"size": "9"}, {"name": ""}, 404),
        # ...then the query string (400), then the body (422).
        ("alice", "/api/things/t1", {"size": "9"}, {"name": ""}, 400),
        ("alice", "/api/things/t1", {"size": "2"}, {"name": ""}, 422),
    ],
)
def test_checks_run_in_order_and_the_handler_never_sees_a_bad_request(aws, token, path, query, body, status):
    result = call("POST", path, bearer(token) if token else None, query, body)

    problem = assert_problem(result, status, instance=path)
    assert received == []
    if status == 404:
        assert problem["detail"] == "No thing has this id."
    if status == 401:
        assert result.headers["www-authenticate"] == 'Bearer realm="api"'


def test_a_documented_scheme_that_is_not_bearer_is_left_to_the_handler(aws):
    """A refresh-cookie route is not authenticated by the declaration: the handler reads its cookie itself."""
    result = call("GET", "/api/plain/kettle")

    assert (result.status, result.body) == (200, '{"name":"kettle"}')


def test_head_is_served_by_every_get_declaration_as_the_get_is(aws):
    """RFC 9110 section 9.3.2: HEAD answers what GET would, headers included. The function's answer is the GET's,
    body and all: the gateway frames it (Content-Length) and sends no body, as it does for any HEAD."""
    got, head = call("GET", "/api/plain/kettle"), call("HEAD", "/api/plain/kettle")

    assert (head.status, head.body) == (got.status, got.body) == (200, '{"name":"kettle"}')
    assert {name: value for name, value in head.headers.items() if name != "x-request-id"} == {
        name: value for name, value in got.headers.items() if name != "x-request-id"
    }


def test_head_is_never_declared_by_hand_as_every_get_route_has_it():
    with pytest.raises(ValueError, match="HEAD is added to every GET route"):
        route(create_app(), ("GET", "HEAD"), "/api/x", summary="x")
    with pytest.raises(ValueError, match="HEAD is added to every GET route"):
        route(create_app(), "HEAD", "/api/x", summary="x")


def test_a_method_api_gateway_cannot_route_is_refused_at_import():
    with pytest.raises(ValueError, match="unsupported methods"):
        route(create_app(), "FETCH", "/api/x", summary="x")


def test_the_declarations_are_recorded_for_make_openapi():
    mine = [declared for declared in DECLARED if declared.operation_id in {"make_thing", "plain"}]

    assert [(d.methods, d.path, d.tag, d.error_statuses) for d in mine] == [
        (("POST",), "/api/things/{thing_id}", "things", [400, 401, 413, 415, 422]),
        (("GET", "HEAD"), "/api/plain/{name}", "plain", []),
    ]


def test_make_handler_gives_each_invocations_context_to_on_context_before_the_route_runs(aws):
    seen: list[tuple[str, Any]] = []
    hooked = create_app()

    @route(hooked, "GET", "/api/hooked", summary="Hooked")
    def hooked_route() -> dict[str, str]:
        seen.append(("route", None))
        return {"ok": "yes"}

    handler = make_handler(hooked, on_context=[lambda context: seen.append(("context", context))])
    context = LambdaContext("test-function", 512, 10)

    response = handler(load_event("health/get.json", path="/api/hooked"), context)

    assert response["statusCode"] == 200
    assert seen == [("context", context), ("route", None)]


# The tests below declare their routes inside the test: what runs at import (the module's own routes above) runs once,
# when the tests are collected, so only a declaration made in a test shows what `route` does today.


def send(app: Any, method: str, path: str, token: str | None = None, body: str = "", **headers: str | None) -> Result:
    """`method path` through `make_handler(app)`; `content_type` and `source_ip` as keywords, for instance."""
    event = load_event(
        "health/get.json",
        method=method,
        path=path,
        headers={"authorization": token, "content-type": headers.pop("content_type", "application/json")},
        body=body,
    )
    event["requestContext"]["http"]["sourceIp"] = headers.pop("source_ip", None) or "198.51.100.7"
    response = make_handler(app)(event, LambdaContext("test-function", 512, 10))
    return Result(
        response["statusCode"], {k.lower(): v for k, v in response["headers"].items()}, response["body"], [], response
    )


def test_a_body_declared_as_a_json_schema_reaches_the_handler_as_bytes_in_its_media_type_only(aws):
    app = create_app()
    seen: list[Any] = []

    @route(app, "POST", "/api/raw", summary="Raw", body={"type": "string"}, body_media_types=("text/plain",))
    def take_raw(body: bytes) -> dict[str, int]:
        seen.append(body)
        return {"size": len(body)}

    taken = send(app, "POST", "/api/raw", body="line one", content_type="text/plain")
    refused = send(app, "POST", "/api/raw", body="line one", content_type="application/json")

    assert (taken.status, seen) == (200, [b"line one"])
    assert assert_problem(refused, 415)["detail"] == "Content-Type must be text/plain."


def test_a_model_body_is_read_in_every_media_type_its_declaration_names(aws):
    app = create_app()

    @route(app, "PATCH", "/api/named", summary="Name", body=Body, body_media_types=("application/merge-patch+json",))
    def rename(body: Body) -> dict[str, str]:
        return {"name": body.name}

    named = send(app, "PATCH", "/api/named", body='{"name":"kettle"}', content_type="application/merge-patch+json")

    assert (named.status, named.body) == (200, '{"name":"kettle"}')
    assert send(app, "PATCH", "/api/named", body='{"name":"kettle"}').status == 415


def test_every_route_is_counted_by_user_when_signed_in_else_by_address(aws, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT", "1/hour")
    app = create_app()

    @route(app, "GET", "/api/mine", summary="Mine", security=BEARER_AUTH)
    def mine(user: Principal) -> dict[str, str]:
        return {"user": user.user_id}

    @route(app, "GET", "/api/open", summary="Open")
    def open_to_all() -> dict[str, str]:
        return {"ok": "yes"}

    def status(path: str, user: str | None, address: str) -> int:
        return send(app, "GET", path, bearer(user) if user else None, source_ip=address).status

    assert status("/api/mine", "alice", "198.51.100.1") == 200
    assert status("/api/mine", "alice", "198.51.100.2") == 429  # another address, the same user
    assert status("/api/mine", "bob", "198.51.100.1") == 200  # the same address, another user
    assert status("/api/open", None, "198.51.100.3") == 200
    assert status("/api/open", None, "198.51.100.3") == 429
    assert status("/api/open", None, "198.51.100.4") == 200


def test_a_refused_token_is_counted_against_the_address_so_guessing_tokens_is_limited_too(aws, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT", "1/hour")
    app = create_app()

    @route(app, "GET", "/api/mine", summary="Mine", security=BEARER_AUTH)
    def mine(user: Principal) -> dict[str, str]:
        return {"user": user.user_id}

    assert send(app, "GET", "/api/mine", "Bearer forged").status == 401
    assert send(app, "GET", "/api/mine", "Bearer forged").status == 429
    assert send(app, "GET", "/api/mine", "Bearer forged", source_ip="198.51.100.9").status == 401


def test_a_declarations_methods_are_kept_in_one_order_whatever_order_they_are_given_in(monkeypatch):
    monkeypatch.setattr(routes, "DECLARED", [])

    route(None, ("DELETE", "PATCH", "PUT", "POST", "GET"), "/api/things/{id}", summary="Things")(make_thing)

    assert [declared.methods for declared in routes.DECLARED] == [("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")]
