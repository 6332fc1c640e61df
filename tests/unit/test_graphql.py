"""POST and GET /api/graphql in-process (functions/graphql): what needs a look inside the function.

The DynamoDB calls a query makes, the limits' edges, errors no client should see the inside of, and the media types.
Every query and mutation is driven over HTTP with a GraphQL client in tests/integration/test_graphql.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Result, assert_problem, bearer, invoke, load_event

FEED = "{ posts(first: 20) { nodes { id title author { id name } } pageInfo { hasNextPage endCursor } } }"


def call(query: str, variables: dict[str, Any] | None = None, **headers: str) -> Result:
    """The sample POST (events/graphql/post.json) with this query and headers (accept=..., authorization=...)."""
    body: dict[str, Any] = {"query": query, **({"variables": variables} if variables else {})}
    return invoke("graphql", load_event("graphql/post.json", body=body, headers=headers))


def create(author: str, title: str) -> dict[str, Any]:
    created = call(
        "mutation($input: PostInput!) { createPost(input: $input) { id etag author { name } } }",
        {"input": {"title": title, "content": "..."}},
        authorization=bearer(author),
    )
    post: dict[str, Any] = created.json()["data"]["createPost"]
    return post


def signed_up(name: str) -> str:
    from apikit.repositories.users import UsersRepository

    return UsersRepository().create(f"{name}@example.com", name, "not-a-real-hash").id


def aws_calls() -> dict[str, int]:
    from apikit import aws

    return dict(aws.calls)


def test_the_sample_requests_are_answered(aws):
    post = invoke("graphql", load_event("graphql/post.json"))
    get = invoke("graphql", load_event("graphql/get.json"))

    assert post.status == get.status == 200, post.body + get.body
    assert post.headers["content-type"] == "application/graphql-response+json"
    assert post.json() == {"data": {"posts": {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}}}
    assert get.json() == {"data": {"posts": {"nodes": []}}}


def test_a_page_of_posts_by_three_authors_reads_the_authors_in_one_batch(aws):
    authors = [signed_up(name) for name in ("ada", "grace", "edsger")]
    for number in range(12):
        create(authors[number % 3], f"post {number}")

    page = call(FEED)
    with_authors = aws_calls()
    call(FEED.replace("author { id name }", ""))
    without_authors = aws_calls()

    nodes = page.json()["data"]["posts"]["nodes"]
    assert [node["title"] for node in nodes] == [f"post {number}" for number in reversed(range(12))]
    assert {node["author"]["name"] for node in nodes} == {"ada", "grace", "edsger"}
    # One BatchGetItem for the page's posts, one more for all their authors: never one call per post.
    assert with_authors["dynamodb.BatchGetItem"] == without_authors["dynamodb.BatchGetItem"] + 1 == 2
    assert "dynamodb.GetItem" not in with_authors


def test_authors_are_read_once_per_level_however_deep_the_query_goes(aws):
    ada, grace = signed_up("ada"), signed_up("grace")
    for author in (ada, grace, ada):
        create(author, "hello")
    nested = "{ posts { nodes { author { posts { nodes { author { name } } } } } } }"

    answer = call(nested)

    assert "errors" not in answer.json()
    # Posts (1 batch), their authors (1), each author's posts (read by Query: none), those posts' authors (none:
    # every one was read at the level above).
    assert aws_calls()["dynamodb.BatchGetItem"] == 2


def test_an_author_whose_account_is_gone_is_null_and_the_post_still_answers(aws):
    post = create("no-such-user", "orphan")

    answer = call("query($id: ID!) { post(id: $id) { title author { name } } }", {"id": post["id"]})

    assert answer.json() == {"data": {"post": {"title": "orphan", "author": None}}}


def test_an_unexpected_error_in_a_resolver_is_a_generic_error_with_no_internals(aws, monkeypatch, caplog):
    from apikit.repositories import dynamodb

    def fail(**_: Any) -> Any:
        raise RuntimeError("secret internals: table posts-xyz")

    monkeypatch.setattr(dynamodb(), "query", fail)

    answer = call("{ posts { nodes { id } } }")

    body = answer.json()
    assert answer.status == 200
    assert body["data"] is None
    assert body["errors"] == [
        {
            "message": "An unexpected error occurred.",
            "locations": [{"line": 1, "column": 3}],
            "path": ["posts"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
        }
    ]
    assert "secret internals" not in answer.body
    assert "secret internals" in caplog.text  # for the operator, in the logs


def test_a_throttled_table_is_service_unavailable_not_an_internal_error(aws, monkeypatch):
    from apikit.repositories import dynamodb

    def throttled(**_: Any) -> Any:
        error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
        raise ClientError(error, "Query")  # type: ignore[arg-type]

    monkeypatch.setattr(dynamodb(), "query", throttled)

    answer = call("{ posts { nodes { id } } }")

    assert answer.json()["errors"][0]["extensions"] == {"code": "SERVICE_UNAVAILABLE"}


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "application/json"),  # no Accept: application/json, as the specification says
        ("application/json", "application/json"),
        ("application/graphql-response+json", "application/graphql-response+json"),
        ("application/json;q=0.9, application/graphql-response+json", "application/graphql-response+json"),
        ("application/graphql-response+json;q=0.5, application/json", "application/json"),
        ("*/*", "application/json"),
        ("text/html, application/*;q=0.8", "application/json"),
    ],
)
def test_the_answer_takes_the_media_type_the_client_prefers(aws, accept, media_type):
    answer = call("{ nope }", accept=accept)  # type: ignore[arg-type]

    assert answer.headers["content-type"] == media_type
    # A query that fails validation never ran: 400 where the client can tell (graphql-response+json), else 200.
    assert answer.status == (400 if media_type == "application/graphql-response+json" else 200)
    assert answer.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


@pytest.mark.parametrize("accept", ["text/csv", "application/json;q=0", "application/xml, text/html"])
def test_a_client_that_takes_neither_json_type_gets_406(aws, accept):
    answer = call("{ posts { nodes { id } } }", accept=accept)

    assert answer.status == 406
    assert answer.headers["content-type"] == "application/problem+json"


# 8 fields deep (me > posts > nodes > author > posts > nodes > author > id), and 9.
EIGHT_DEEP = "{ me { posts(first: 2) { nodes { author { posts(first: 2) { nodes { author { id } } } } } } } }"
NINE_DEEP = (
    "{ posts(first: 2) { nodes { author { posts(first: 2) { nodes { author {"
    " posts(first: 2) { nodes { id } } } } } } } } }"
)


def test_eight_fields_deep_runs_and_nine_are_refused_before_any_call(aws):
    allowed = call(EIGHT_DEEP, authorization=bearer(signed_up("ada")))
    calls_allowed = aws_calls()
    refused = call(NINE_DEEP)

    assert "errors" not in allowed.json(), allowed.body
    assert calls_allowed
    assert refused.json() == {
        "errors": [
            {
                "message": "The operation is 9 fields deep; at most 8 are allowed.",
                "locations": [{"line": 1, "column": 1}],
                "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
            }
        ]
    }
    assert aws_calls() == {}  # refused before any resolver ran


def test_fragments_count_towards_the_depth_and_a_fragment_cycle_is_refused_without_looping(aws):
    through_fragments = """
        query { posts { ...Deep } }
        fragment Deep on PostConnection { nodes { author { posts { nodes { author { posts { ...Ids } } } } } } }
        fragment Ids on PostConnection { nodes { id } }
    """
    cycle = "query { posts { ...A } } fragment A on PostConnection { nodes { author { posts { ...A } } } }"

    deep = call(through_fragments)
    looping = call(cycle)

    assert "9 fields deep" in deep.json()["errors"][0]["message"]
    assert [error["message"] for error in looping.json()["errors"]] == ["Cannot spread fragment 'A' within itself."]


def test_the_cost_follows_first_given_in_the_query_or_its_variables(aws):
    costly = "query($n: Int) { posts(first: $n) { nodes { author { posts(first: $n) { nodes { id } } } } } }"

    cheap = call(costly, {"n": 10})
    refused = call(costly, {"n": 100})
    literal = call("{ posts(first: 100) { nodes { author { posts(first: 100) { nodes { id } } } } } }")

    assert "errors" not in cheap.json(), cheap.body
    for answer in (refused, literal):
        error = answer.json()["errors"][0]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert error["message"].startswith("The query exceeds the maximum cost of 5000.")


def test_a_query_of_too_many_tokens_is_refused_while_parsing(aws):
    padded = "{ " + "__typename " * 2000 + "}"

    answer = call(padded)

    error = answer.json()["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert "2000 tokens" in error["message"]


def test_introspection_is_on_in_dev_and_off_on_aws_unless_configured(aws, monkeypatch):
    schema_query = "{ __schema { queryType { name } } }"
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    in_dev = call(schema_query)
    monkeypatch.delenv("AWS_SAM_LOCAL")
    on_aws = call(schema_query)
    monkeypatch.setenv("GRAPHQL_INTROSPECTION", "on")
    configured = call(schema_query)

    assert in_dev.json() == configured.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    assert "introspection has been disabled" in on_aws.json()["errors"][0]["message"]
    assert call("{ __typename }").json() == {"data": {"__typename": "Query"}}  # not introspection of the schema


def test_a_persisted_query_runs_by_its_hash_and_an_unknown_hash_asks_for_the_query(aws):
    from protection import persisted_queries

    digest = next(digest for digest, text in persisted_queries().items() if text.startswith("query Feed"))
    by_hash = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    unknown = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}}

    ran = invoke("graphql", load_event("graphql/post.json", body=by_hash))
    asked = invoke("graphql", load_event("graphql/post.json", body=unknown))

    assert "data" in ran.json(), ran.body
    assert asked.json() == {
        "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
    }


def test_with_persisted_queries_enforced_only_the_allow_list_runs(aws, monkeypatch):
    from protection import persisted_queries

    monkeypatch.setenv("GRAPHQL_PERSISTED_ONLY", "on")
    listed = next(text for text in persisted_queries().values() if text.startswith("query Feed"))

    allowed = invoke("graphql", load_event("graphql/post.json", body={"query": listed}))
    refused = call("{ posts { nodes { id } } }")

    assert "data" in allowed.json(), allowed.body
    assert refused.status == 400
    assert refused.json()["errors"][0]["extensions"] == {"code": "PERSISTED_QUERY_NOT_ALLOWED"}


@pytest.mark.parametrize(
    "extensions",
    [
        {"persistedQuery": {"version": 2, "sha256Hash": "ab"}},
        {"persistedQuery": {"version": 1}},
        {"persistedQuery": {"version": 1, "sha256Hash": ["not", "a", "string"]}},
        {"persistedQuery": "yes"},
    ],
)
def test_a_malformed_persisted_query_extension_is_a_bad_request(aws, extensions):
    answer = invoke("graphql", load_event("graphql/post.json", body={"extensions": extensions}))

    assert answer.status == 400
    assert answer.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


def test_a_query_sent_with_the_hash_of_another_is_refused(aws):
    body = {
        "query": "{ posts { nodes { id } } }",
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}},
    }

    answer = invoke("graphql", load_event("graphql/post.json", body=body))

    assert answer.status == 400
    assert "not the sha256Hash" in answer.json()["errors"][0]["message"]


def test_the_request_log_line_names_the_operation_and_its_aws_calls(aws, log_lines):
    call("query Feed { posts { nodes { id } } }")

    request = next(line for line in map(json.loads, log_lines.getvalue().splitlines()) if line["message"] == "request")
    assert request["graphql_operation"] == "Feed"
    assert request["aws_calls"] == {"dynamodb.Query": 16}


def test_if_match_writes_over_the_version_read_and_refuses_a_stale_one(aws):
    post = create("ada", "first")
    update = "mutation($id: ID!, $tag: String) { updatePost(id: $id, input: {title: $title}, ifMatch: $tag) { etag } }"
    update = update.replace("$title", '"second"')
    delete = "mutation($id: ID!, $tag: String) { deletePost(id: $id, ifMatch: $tag) }"

    written = call(update, {"id": post["id"], "tag": post["etag"]}, authorization=bearer("ada"))
    stale = call(update, {"id": post["id"], "tag": post["etag"]}, authorization=bearer("ada"))
    stale_delete = call(delete, {"id": post["id"], "tag": post["etag"]}, authorization=bearer("ada"))
    deleted = call(delete, {"id": post["id"], "tag": '"v2"'}, authorization=bearer("ada"))

    assert written.json() == {"data": {"updatePost": {"etag": '"v2"'}}}
    for refused in (stale, stale_delete):
        assert refused.json()["errors"][0]["extensions"] == {"code": "CONFLICT"}
        assert refused.json()["errors"][0]["message"] == "The post has changed since the given If-Match version."
    assert deleted.json() == {"data": {"deletePost": post["id"]}}


def test_an_answer_varies_with_accept(aws):
    assert call("{ __typename }").headers["vary"] == "Accept"


@pytest.mark.parametrize(
    "accept",
    [
        "application/graphql-response+json;q=0, application/json;q=0, */*",
        "application/graphql-response+json;q=0, application/json;q=0, application/*",
    ],
)
def test_a_media_type_refused_by_name_is_refused_whatever_the_wildcards(aws, accept):
    assert call("{ __typename }", accept=accept).status == 406
    # JSON refused by name, anything else welcome: the other JSON type.
    other = call("{ __typename }", accept="application/json;q=0, */*")
    assert other.headers["content-type"] == "application/graphql-response+json"


@pytest.mark.parametrize("name", ["GRAPHQL_INTROSPECTION", "GRAPHIQL"])
def test_a_switch_set_to_another_value_fails_loudly(monkeypatch, name):
    from protection import switch

    monkeypatch.setenv(name, "yes")

    with pytest.raises(ValueError, match=f'{name} is "yes"'):
        switch(name)


def test_a_document_of_more_than_300_fields_is_refused_before_the_costly_rules(aws):
    allowed = call("{ " + "__typename " * 300 + "}")
    refused = call("{ " + "__typename " * 301 + "}")
    aliased = call("{ posts { nodes { " + " ".join(f"a{number}: id" for number in range(300)) + " } } }")

    assert allowed.json() == {"data": {"__typename": "Query"}}
    assert refused.json()["errors"] == [
        {
            "message": "The document selects 301 fields; at most 300 are allowed.",
            "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
        }
    ]
    assert "300 are allowed" in aliased.json()["errors"][0]["message"]  # 302 with posts and nodes


@pytest.mark.parametrize("name", ["variables", "extensions"])
def test_a_get_whose_json_parameter_is_not_json_says_which(aws, name):
    event = load_event("graphql/get.json")
    event["queryStringParameters"][name] = "{not json"

    answer = invoke("graphql", event)

    assert answer.status == 400
    assert answer.json()["detail"] == f"The `{name}` parameter is not valid JSON."


def test_requests_are_rate_limited_per_user_when_signed_in_and_per_address_otherwise(aws, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT", "2/hour")
    query = "{ __typename }"

    anonymous = [call(query) for _ in range(3)]
    ada = [call(query, authorization=bearer("ada")) for _ in range(3)]
    grace = call(query, authorization=bearer("grace"))

    assert [answer.status for answer in anonymous] == [200, 200, 429]
    assert [answer.status for answer in ada] == [200, 200, 429]  # her own count, not the address's
    assert grace.status == 200
    assert assert_problem(ada[2], 429)["detail"] == "The limit is 2 requests per 3600 seconds. Try again later."
