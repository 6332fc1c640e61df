"""POST and GET /api/graphql through the real dev server, driven as a client app drives it: gql 4 with its requests
transport, and plain HTTP where the transport itself is under test (GET, Accept, sizes, persisted queries).

One dev server for the module, on a copy of template.yaml in a project directory of the module's own (secrets of its
own: the token keys, and a Stripe webhook secret so that an order can be delivered as Stripe would). A second one,
started only for the persisted-query tests, runs the same project with GRAPHQL_PERSISTED_ONLY=on in its env.json
(`--env-vars`, as `sam local start-api` takes it). Users sign up once per module, through the API.

Every answer is checked for Python internals (a traceback, a file path, an exception's name): see `no_internals`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError, TransportServerError
from gql.transport.requests import RequestsHTTPTransport
from graphql import GraphQLError, build_schema, print_schema

from apikit.auth import issue_access_token
from devserver.template import load_app
from tests.conftest import SIGNING_KEY, TOKEN_KEYS
from tests.integration.conftest import HIGH_LIMITS, ROOT, DevServer, assert_problem

pytestmark = pytest.mark.devserver_only(
    reason="dev servers of its own (one with GRAPHQL_PERSISTED_ONLY=on), and their log's aws_calls"
)

PASSWORD = "correct horse battery staple"
WEBHOOK_SECRET = "whsec_graphql_" + "g" * 32
GRAPHQL = "/api/graphql"
GRAPHQL_RESPONSE = "application/graphql-response+json"
CLIENT_OPERATIONS = ROOT / "clients" / "graphql"
FEED = (CLIENT_OPERATIONS / "Feed.graphql").read_text()
FEED_HASH = hashlib.sha256(FEED.encode()).hexdigest()
# A traceback, a source file, a module path or an exception's name: nothing of the kind may reach a client.
INTERNALS = re.compile(r"Traceback|File \"|\.py\b|site-packages|botocore|\b[A-Z][A-Za-z]*(?:Error|Exception)\b")
# What a query refused before it runs may still cost: the rate limiter's counter (an UpdateItem). No read.
READS = ("dynamodb.Query", "dynamodb.GetItem", "dynamodb.BatchGetItem")


# --- the servers --------------------------------------------------------------------------------------------------


def project_for_the_test(directory: Path) -> Path:
    """template.yaml, its code and layers, and secrets of the module's own."""
    directory.mkdir()
    (directory / "template.yaml").write_text((ROOT / "template.yaml").read_text())
    for folder in ("functions", "layers"):
        (directory / folder).symlink_to(ROOT / folder, target_is_directory=True)
    ours = {"StripeWebhookSecret": WEBHOOK_SECRET, **TOKEN_KEYS}
    secrets = {name: ours.get(name, uuid.uuid4().hex) for name in load_app(directory / "template.yaml").secrets}
    (directory / "secrets.local.json").write_text(json.dumps(secrets))
    return directory / "template.yaml"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return project_for_the_test(tmp_path_factory.mktemp("graphql") / "project")


def env_vars(directory: Path, graphql: dict[str, str]) -> Path:
    """conftest's high limits for sign-up, and `graphql` for the GraphQL function: one env.json."""
    high_limits = json.loads(Path(HIGH_LIMITS[HIGH_LIMITS.index("--env-vars") + 1]).read_text())
    path = directory / f"env-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps({**high_limits, "GraphqlFunction": graphql}))
    return path


def serve(project: Path, graphql: dict[str, str]) -> DevServer:
    directory = project.parent
    overrides = HIGH_LIMITS[: HIGH_LIMITS.index("--env-vars")]
    log = directory / f"devserver-{uuid.uuid4().hex[:8]}.log"
    return DevServer(project, log, *overrides, "--env-vars", str(env_vars(directory, graphql)), "--no-reload")


@pytest.fixture(scope="module")
def api(project: Path) -> Iterator[DevServer]:
    server = serve(project, {})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def persisted_only_api(project: Path) -> Iterator[DevServer]:
    server = serve(project, {"GRAPHQL_PERSISTED_ONLY": "on"})
    yield server
    server.stop()


# --- what a client sees -------------------------------------------------------------------------------------------


def no_internals(response: requests.Response, *_: Any, **__: Any) -> None:
    """A requests hook on every answer of this module: no Python internals in any body."""
    found = INTERNALS.search(response.text)
    assert found is None, (
        f"{found.group(0)!r} in the answer to {response.request.method} {response.url}: {response.text}"
    )


class Gql:
    """A gql Client over HTTP to one server, as one user (or anonymous); every HTTP answer it got, in `responses`."""

    def __init__(
        self,
        server: DevServer,
        token: str | None = None,
        *,
        fetch_schema: bool = False,
    ) -> None:
        self.responses: list[requests.Response] = []
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = Client(
            transport=RequestsHTTPTransport(
                url=server.url + GRAPHQL, headers=headers, timeout=30, hooks={"response": [no_internals, self._seen]}
            ),
            fetch_schema_from_transport=fetch_schema,
        )

    def _seen(self, response: requests.Response, *_: Any, **__: Any) -> None:
        self.responses.append(response)

    @property
    def last(self) -> requests.Response:
        return self.responses[-1]

    def run(self, query: str, **variables: Any) -> dict[str, Any]:
        request = gql(query)
        request.variable_values = variables or None
        result: dict[str, Any] = self.client.execute(request)
        return result

    def refused(self, query: str, **variables: Any) -> TransportQueryError:
        """The errors of a query the API answers with errors (gql raises them)."""
        with pytest.raises(TransportQueryError) as caught:
            self.run(query, **variables)
        return caught.value


def codes(error: TransportQueryError) -> list[str]:
    return [entry["extensions"]["code"] for entry in error.errors or []]


def post_graphql(server: DevServer, body: Any, token: str | None = None, **headers: str) -> requests.Response:
    """A raw POST, for what gql cannot send (a hash alone, a body that is not GraphQL, an Accept of its own)."""
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    headers.setdefault("Content-Type", "application/json")
    return requests.post(server.url + GRAPHQL, data=data, headers=headers, timeout=30, hooks={"response": no_internals})


def get_graphql(
    server: DevServer, params: dict[str, str], token: str | None = None, **headers: str
) -> requests.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(
        server.url + GRAPHQL, params=params, headers=headers, timeout=30, hooks={"response": no_internals}
    )


def request_log(server: DevServer, response: requests.Response) -> dict[str, Any]:
    """The layer's "request" log line of the invocation that gave `response` (found by its request id)."""
    request_id = response.headers["X-Request-Id"]
    deadline = time.monotonic() + 10
    while True:
        for line in server.output().splitlines():
            if request_id in line and line.startswith("{"):
                entry = json.loads(line)
                if entry.get("message") == "request" and entry.get("correlation_id") == request_id:
                    return entry
        assert time.monotonic() < deadline, f"no request log line for {request_id}:\n{server.output()[-5000:]}"
        time.sleep(0.05)


def unhandled_errors_logged(server: DevServer, response: requests.Response) -> list[str]:
    request_id = response.headers["X-Request-Id"]
    request_log(server, response)  # written after any error line of the same invocation
    return [
        line
        for line in server.output().splitlines()
        if request_id in line and '"unhandled error' in line and line.startswith("{")
    ]


# --- users and data -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    id: str
    name: str
    email: str
    token: str


def sign_up(api: DevServer, name: str) -> User:
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    response = api.request("POST", "/api/auth/signup", json={"email": email, "password": PASSWORD, "name": name})
    assert response.status_code == 201, response.text
    token = response.json()["access_token"]
    me = Gql(api, token).run("{ me { id } }")["me"]
    return User(me["id"], name, email, token)


@pytest.fixture(scope="module")
def ada(api: DevServer) -> User:
    return sign_up(api, "Ada")


@pytest.fixture(scope="module")
def bob(api: DevServer) -> User:
    return sign_up(api, "Bob")


@pytest.fixture(scope="module")
def cy(api: DevServer) -> User:
    return sign_up(api, "Cy")


CREATE = """
mutation Create($input: PostInput!) {
  createPost(input: $input) { id title content etag createdAt updatedAt author { id name } }
}
"""
READ = "query Read($id: ID!) { post(id: $id) { id title content etag createdAt updatedAt author { id name } } }"
UPDATE = """
mutation Update($id: ID!, $input: PostPatch!, $ifMatch: String) {
  updatePost(id: $id, input: $input, ifMatch: $ifMatch) { id title content etag updatedAt }
}
"""
DELETE = "mutation Delete($id: ID!, $ifMatch: String) { deletePost(id: $id, ifMatch: $ifMatch) }"


def create_post(api: DevServer, user: User, title: str | None = None, content: str = "Hello.") -> dict[str, Any]:
    post: dict[str, Any] = Gql(api, user.token).run(
        CREATE, input={"title": title or f"post {uuid.uuid4().hex[:8]}", "content": content}
    )["createPost"]
    return post


def read_post(api: DevServer, post_id: str) -> dict[str, Any]:
    post: dict[str, Any] = Gql(api).run(READ, id=post_id)["post"]
    return post


# --- queries ------------------------------------------------------------------------------------------------------


def test_me_is_the_signed_in_user_with_their_email_and_posts(api, ada):
    post = create_post(api, ada, "Mine")

    me = Gql(api, ada.token).run("{ me { id name email createdAt posts(first: 5) { nodes { id title } } } }")["me"]

    assert (me["id"], me["name"], me["email"]) == (ada.id, "Ada", ada.email)
    assert me["createdAt"].endswith("Z")
    assert me["posts"]["nodes"][0] == {"id": post["id"], "title": "Mine"}


def test_post_is_what_rest_answers_for_the_same_post(api, ada):
    created = create_post(api, ada, "Same on both", "Line one\nline two")

    post = read_post(api, created["id"])

    assert post == created
    assert post["author"] == {"id": ada.id, "name": "Ada"}
    rest = api.get(f"/api/posts/{created['id']}")
    assert rest.status_code == 200
    assert rest.headers["ETag"] == post["etag"] == '"v1"'
    assert rest.json() == {
        "id": post["id"],
        "title": "Same on both",
        "content": "Line one\nline two",
        "author_id": ada.id,
        "created_at": post["createdAt"],
        "updated_at": post["updatedAt"],
    }


def test_the_client_operations_run_as_written(api, ada):
    """clients/graphql's own operations (the persisted allow-list), through gql with their variables."""
    post = create_post(api, ada, "For the screens")
    client = Gql(api, ada.token)

    feed = client.run(FEED, first=3)["posts"]
    with_author = client.run((CLIENT_OPERATIONS / "PostWithAuthor.graphql").read_text(), id=post["id"])["post"]
    screen = client.run((CLIENT_OPERATIONS / "MyScreen.graphql").read_text(), first=2)

    assert feed["nodes"][0] == {
        "id": post["id"],
        "title": "For the screens",
        "createdAt": post["createdAt"],
        "author": {"id": ada.id, "name": "Ada"},
    }
    assert with_author["author"] == {"id": ada.id, "name": "Ada"}
    assert screen["me"]["email"] == ada.email
    assert screen["me"]["posts"]["nodes"][0] == {"id": post["id"], "title": "For the screens", "etag": '"v1"'}
    assert screen["orders"] == {"nodes": []}


def test_posts_with_and_without_their_authors(api, ada, bob):
    mine, theirs = create_post(api, ada), create_post(api, bob)
    client = Gql(api)

    plain = client.run("{ posts(first: 2) { nodes { id title } } }")["posts"]["nodes"]
    with_authors = client.run("{ posts(first: 2) { nodes { id author { id name } } } }")["posts"]["nodes"]
    only_ada = client.run("query($a: ID) { posts(first: 100, author: $a) { nodes { id } } }", a=ada.id)["posts"]

    assert plain == [{"id": theirs["id"], "title": theirs["title"]}, {"id": mine["id"], "title": mine["title"]}]
    assert with_authors == [
        {"id": theirs["id"], "author": {"id": bob.id, "name": "Bob"}},
        {"id": mine["id"], "author": {"id": ada.id, "name": "Ada"}},
    ]
    assert mine["id"] in {node["id"] for node in only_ada["nodes"]}
    assert theirs["id"] not in {node["id"] for node in only_ada["nodes"]}


def test_a_post_whose_author_has_no_account_has_a_null_author(api):
    ghost = issue_access_token(str(uuid.uuid4()), signing_key=SIGNING_KEY)  # a valid token, no account behind it
    post = Gql(api, ghost).run(CREATE, input={"title": "Orphan", "content": ""})["createPost"]

    assert post["author"] is None
    assert read_post(api, post["id"])["author"] is None


# --- orders -------------------------------------------------------------------------------------------------------


def deliver_paid_checkout(api: DevServer, user: User, amount: int, created: int) -> str:
    """What Stripe sends once `user` has paid: the sample checkout.session.completed, signed with our secret."""
    sample = json.loads((ROOT / "events" / "stripe_webhook" / "checkout.session.completed.json").read_text())
    event = json.loads(sample["body"])
    session = f"cs_test_{uuid.uuid4().hex}"
    event["id"] = f"evt_{uuid.uuid4().hex}"
    event["data"]["object"].update(id=session, client_reference_id=user.id, amount_total=amount, created=created)
    body = json.dumps(event, separators=(",", ":"))
    signature = stripe.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET)
    delivered = api.request(
        "POST",
        "/api/webhooks/stripe",
        data=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": signature},
    )
    assert delivered.status_code == 200, delivered.text
    return session


ORDERS = """
query Orders($first: Int, $after: String) {
  orders(first: $first, after: $after) {
    edges { cursor node { id customerEmail amountTotal currency paymentStatus createdAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


def test_orders_are_the_callers_own_newest_first_paged(api, bob, cy):
    assert Gql(api, cy.token).run(ORDERS, first=5)["orders"] == {
        "edges": [],
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None},
    }
    now = int(time.time())
    first = deliver_paid_checkout(api, cy, 2000, now - 60)
    second = deliver_paid_checkout(api, cy, 4500, now)
    deliver_paid_checkout(api, bob, 999, now)

    page = Gql(api, cy.token).run(ORDERS, first=1)["orders"]
    rest = Gql(api, cy.token).run(ORDERS, first=5, after=page["pageInfo"]["endCursor"])["orders"]

    [edge] = page["edges"]
    assert edge["node"] == {
        "id": second,
        "customerEmail": "ada@example.com",  # the sample's customer
        "amountTotal": 4500,
        "currency": "eur",
        "paymentStatus": "paid",
        "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
    }
    assert edge["cursor"] == page["pageInfo"]["endCursor"] is not None
    assert page["pageInfo"]["hasNextPage"] is True
    assert [edge["node"]["id"] for edge in rest["edges"]] == [first]
    assert rest["pageInfo"]["hasNextPage"] is False
    rest_orders = api.get("/api/orders", headers={"Authorization": f"Bearer {cy.token}"}).json()["items"]
    assert [order["id"] for order in rest_orders] == [second, first]


# --- mutations ----------------------------------------------------------------------------------------------------


def test_create_update_and_delete_a_post(api, ada):
    client = Gql(api, ada.token)

    created = client.run(CREATE, input={"title": "Draft", "content": "First words."})["createPost"]
    updated = client.run(UPDATE, id=created["id"], input={"title": "Published"})["updatePost"]
    deleted = client.run(DELETE, id=created["id"])["deletePost"]

    assert created["etag"] == '"v1"'
    assert created["author"] == {"id": ada.id, "name": "Ada"}
    assert created["createdAt"] == created["updatedAt"]
    assert updated["title"] == "Published"
    assert updated["content"] == "First words."  # a field left out keeps its value
    assert updated["etag"] == '"v2"'
    assert updated["updatedAt"] > created["updatedAt"]
    assert deleted == created["id"]
    assert api.get(f"/api/posts/{created['id']}").status_code == 404
    gone = client.refused(READ, id=created["id"])
    assert codes(gone) == ["NOT_FOUND"]


def test_a_post_of_20000_characters_fits_in_the_body_limit(api, ada):
    content = "x" * 20_000

    post = create_post(api, ada, "Long", content)

    assert read_post(api, post["id"])["content"] == content


def test_another_users_update_and_delete_are_forbidden_and_change_nothing(api, ada, bob):
    post = create_post(api, bob, "Bob's")
    mallory = Gql(api, ada.token)

    update = mallory.refused(UPDATE, id=post["id"], input={"title": "Ada's now"})
    delete = mallory.refused(DELETE, id=post["id"])

    for refused in (update, delete):
        assert codes(refused) == ["FORBIDDEN"]
        assert refused.errors[0]["message"] == "Only the author may change this post."
        assert refused.data is None
    assert read_post(api, post["id"]) == post


def test_a_stale_if_match_is_a_conflict_and_changes_nothing(api, ada):
    client = Gql(api, ada.token)
    post = create_post(api, ada, "Version one")
    stale = read_post(api, post["id"])["etag"]
    current = client.run(UPDATE, id=post["id"], input={"title": "Version two"})["updatePost"]  # by another tab

    update = client.refused(UPDATE, id=post["id"], input={"title": "Lost update"}, ifMatch=stale)
    delete = client.refused(DELETE, id=post["id"], ifMatch=stale)

    for refused in (update, delete):
        assert codes(refused) == ["CONFLICT"]
        assert refused.errors[0]["message"] == "The post has changed since the given If-Match version."
    after = read_post(api, post["id"])
    assert (after["title"], after["etag"], after["updatedAt"]) == ("Version two", current["etag"], current["updatedAt"])


def test_the_current_if_match_writes(api, ada):
    client = Gql(api, ada.token)
    post = create_post(api, ada, "Version one")
    etag = read_post(api, post["id"])["etag"]

    updated = client.run(UPDATE, id=post["id"], input={"title": "Version two"}, ifMatch=etag)["updatePost"]
    deleted = client.run(DELETE, id=post["id"], ifMatch=updated["etag"])["deletePost"]

    assert (updated["title"], updated["etag"]) == ("Version two", '"v2"')
    assert deleted == post["id"]
    assert api.get(f"/api/posts/{post['id']}").status_code == 404


def test_an_explicit_null_if_match_is_no_condition(api):
    """The fuzzer's smallest case: no token, an id that is no post, `ifMatch: null`."""
    refused = Gql(api).refused('mutation { deletePost(id: "", ifMatch: null) }')

    assert codes(refused) == ["UNAUTHENTICATED"]


# --- pagination ---------------------------------------------------------------------------------------------------

PAGE = """
query Page($first: Int, $after: String, $author: ID) {
  posts(first: $first, after: $after, author: $author) {
    edges { cursor node { id createdAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


def walk(client: Gql, first: int, author: str | None = None) -> list[dict[str, Any]]:
    """Every page from the first to the one without a next page."""
    pages, after = [], None
    while True:
        page = client.run(PAGE, first=first, after=after, author=author)["posts"]
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]
        assert len(pages) < 100, "the pages never end"


def test_paging_through_every_post_with_first_and_after(api):
    writer = sign_up(api, "Pager")
    created = [create_post(api, writer, f"page test {number}")["id"] for number in range(25)]
    client = Gql(api)

    for author in (None, writer.id):  # all posts (the sharded index), and one author's (ByAuthor)
        pages = walk(client, 10, author)

        nodes = [edge["node"] for page in pages for edge in page["edges"]]
        ids = [node["id"] for node in nodes]
        assert len(ids) == len(set(ids)), "a post on two pages"
        assert set(created) <= set(ids)
        assert [node["createdAt"] for node in nodes] == sorted((node["createdAt"] for node in nodes), reverse=True)
        assert [i for i in ids if i in created] == created[::-1]  # newest first
        for page in pages[:-1]:
            assert len(page["edges"]) == 10
            assert page["pageInfo"]["hasNextPage"] is True
            assert page["edges"][-1]["cursor"] == page["pageInfo"]["endCursor"] is not None
            assert all(edge["cursor"] is None for edge in page["edges"][:-1])
        last = pages[-1]["pageInfo"]
        assert (last["hasNextPage"], last["endCursor"]) == (False, None)
        assert all(page["pageInfo"]["hasPreviousPage"] is False for page in pages)
        assert all(page["pageInfo"]["startCursor"] is None for page in pages)
    assert [len(page["edges"]) for page in walk(client, 10, writer.id)] == [10, 10, 5]


# --- authentication -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("{ me { id } }", "me"),
        ("{ orders { nodes { id } } }", "orders"),
        ('mutation { createPost(input: {title: "Anonymous", content: "?"}) { id } }', "createPost"),
        ('mutation { updatePost(id: "%s", input: {title: "Anonymous"}) { id } }', "updatePost"),
        ('mutation { deletePost(id: "%s") }', "deletePost"),
    ],
)
def test_signed_in_fields_without_a_token_are_unauthenticated(api, bob, query, field):
    post = create_post(api, bob, "Not yours")

    refused = Gql(api).refused(query.replace("%s", post["id"]))

    assert codes(refused) == ["UNAUTHENTICATED"]
    assert refused.errors[0]["path"] == [field]
    assert refused.data is None
    assert read_post(api, post["id"]) == post
    assert Gql(api).run("{ posts(first: 1) { nodes { id } } }")["posts"]["nodes"] == [{"id": post["id"]}]


@pytest.mark.parametrize("query", ["{ posts(first: 1) { nodes { id } } }", "{ me { id } }"])
def test_an_invalid_token_is_a_401_problem_for_the_whole_request(api, query):
    client = Gql(api, "not-a-token")

    with pytest.raises(TransportServerError) as caught:
        client.run(query)

    assert caught.value.code == 401
    body = assert_problem(client.last, 401)
    assert body["detail"] == "The access token is invalid or expired."
    assert client.last.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


# --- errors, as REST words them -----------------------------------------------------------------------------------


def test_a_missing_post_is_not_found_with_rests_words(api):
    missing = str(uuid.uuid4())

    refused = Gql(api).refused(READ, id=missing)

    assert codes(refused) == ["NOT_FOUND"]
    assert refused.data == {"post": None}
    assert refused.errors[0]["path"] == ["post"]
    assert refused.errors[0]["message"] == assert_problem(api.get(f"/api/posts/{missing}"), 404)["detail"]


def test_a_blank_title_is_bad_user_input_with_rests_422_messages(api, ada):
    body = {"title": "   ", "content": "Nothing to see."}

    refused = Gql(api, ada.token).refused(CREATE, input=body)

    rest = assert_problem(
        api.request("POST", "/api/posts", json=body, headers={"Authorization": f"Bearer {ada.token}"}), 422
    )
    assert codes(refused) == ["BAD_USER_INPUT"]
    ours = refused.errors[0]["extensions"]["errors"]
    assert [error["msg"] for error in ours] == [error["msg"] for error in rest["errors"]]
    assert [error["loc"] for error in ours] == [["input", *error["loc"][1:]] for error in rest["errors"]]
    assert [error["loc"] for error in ours] == [["input", "title"]]


def test_first_over_100_is_bad_user_input_with_rests_messages(api):
    refused = Gql(api).refused("{ posts(first: 101) { nodes { id } } }")

    rest = assert_problem(api.get("/api/posts", params={"limit": 101}), 400)
    assert codes(refused) == ["BAD_USER_INPUT"]
    ours = refused.errors[0]["extensions"]["errors"]
    assert [error["msg"] for error in ours] == [error["msg"] for error in rest["errors"]]
    assert [error["loc"] for error in ours] == [["first"]]  # the argument, as ["input", "title"] names one
    assert [error["loc"] for error in rest["errors"]] == [["query", "limit"]]


# --- limits -------------------------------------------------------------------------------------------------------


# Depth counts the fields from the root to the deepest leaf, the leaf included.
EIGHT_DEEP = "{ posts(first: 1) { edges { node { author { posts(first: 1) { edges { node { id } } } } } } } }"
NINE_DEEP = (
    "{ posts(first: 1) { edges { node { author { posts(first: 1) { edges { node { author { name } } } } } } } } }"
)


def assert_refused_before_running(api: DevServer, client: Gql, code: str, message: str) -> None:
    body = client.last.json()
    assert "data" not in body, body  # refused, not run: no `data` at all
    assert [entry["extensions"]["code"] for entry in body["errors"]] == [code]
    assert message in body["errors"][0]["message"]
    calls = request_log(api, client.last)["aws_calls"]
    assert not any(read in calls for read in READS), calls


def test_a_query_nested_deeper_than_8_fields_is_refused_before_it_runs(api):
    client = Gql(api)

    assert client.run(EIGHT_DEEP)["posts"] is not None
    refused = client.refused(NINE_DEEP)

    assert refused.data is None
    assert_refused_before_running(
        api, client, "GRAPHQL_VALIDATION_FAILED", "The operation is 9 fields deep; at most 8 are allowed."
    )


def test_a_query_that_costs_too_much_is_refused_before_it_runs(api):
    client = Gql(api)

    client.run("{ posts(first: 20) { nodes { author { posts(first: 20) { nodes { id } } } } } }")  # about 1,300
    client.refused("{ posts(first: 100) { nodes { author { posts(first: 100) { nodes { id } } } } } }")

    assert_refused_before_running(
        api, client, "GRAPHQL_VALIDATION_FAILED", "The query exceeds the maximum cost of 5000"
    )


def commented(comments: int) -> str:
    """A query of 14 tokens, and a comment line each (graphql-core's token limit counts comments too). Sent raw:
    gql prints a document again before sending it, without its comments."""
    return "{ posts(first: 1) { nodes { id } } }" + "\n# a comment" * comments


def test_a_query_of_more_than_2000_tokens_is_refused_before_it_runs(api):
    allowed = post_graphql(api, {"query": commented(1986)})  # 2,000 tokens
    refused = post_graphql(api, {"query": commented(1987)})  # 2,001

    assert allowed.json()["data"]["posts"] is not None
    body = refused.json()
    assert "data" not in body, body
    assert [entry["extensions"]["code"] for entry in body["errors"]] == ["GRAPHQL_PARSE_FAILED"]
    assert "Document contains more than 2000 tokens" in body["errors"][0]["message"]
    assert not any(read in request_log(api, refused)["aws_calls"] for read in READS)


def test_a_document_of_more_than_300_fields_is_refused_before_it_runs(api):
    client = Gql(api)
    aliases = " ".join(f"a{number}: id" for number in range(298))
    client.run("{ posts(first: 1) { nodes { " + aliases + " } } }")  # 300 fields

    client.refused("{ posts(first: 1) { nodes { " + aliases + " a298: id } } }")

    assert_refused_before_running(api, client, "GRAPHQL_VALIDATION_FAILED", "at most 300 are allowed")


# --- HTTP: GET, Accept, sizes, bodies -----------------------------------------------------------------------------


def test_a_query_by_get_runs_with_its_variables(api, ada):
    post = create_post(api, ada, "By GET")
    params = {"query": "query($n: Int) { posts(first: $n) { nodes { id } } }", "variables": json.dumps({"n": 1})}

    response = get_graphql(api, params)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"data": {"posts": {"nodes": [{"id": post["id"]}]}}}


def test_a_mutation_by_get_is_a_405_that_changes_nothing(api, ada):
    post = create_post(api, ada, "Still here")

    response = get_graphql(api, {"query": f'mutation {{ deletePost(id: "{post["id"]}") }}'}, ada.token)

    assert_problem(response, 405)
    assert response.headers["Allow"] == "POST"
    assert read_post(api, post["id"]) == post


def test_graphql_response_json_makes_a_request_that_cannot_run_a_400(api):
    invalid = {"query": "{ posts { nodes { nope } } }"}

    strict = post_graphql(api, invalid, Accept=GRAPHQL_RESPONSE)
    plain = post_graphql(api, invalid, Accept="application/json")
    runs = post_graphql(api, {"query": "{ posts(first: 1) { nodes { id } } }"}, Accept=GRAPHQL_RESPONSE)

    assert strict.status_code == 400
    assert strict.headers["Content-Type"] == GRAPHQL_RESPONSE
    assert plain.status_code == 200
    assert plain.headers["Content-Type"] == "application/json"
    assert strict.json() == plain.json()
    assert [entry["extensions"]["code"] for entry in strict.json()["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
    assert "data" not in strict.json()
    assert (runs.status_code, runs.headers["Content-Type"]) == (200, GRAPHQL_RESPONSE)
    assert "data" in runs.json()


def test_an_accept_of_neither_json_type_is_a_406(api):
    response = post_graphql(api, {"query": "{ posts { nodes { id } } }"}, Accept="text/csv")

    body = assert_problem(response, 406)
    assert GRAPHQL_RESPONSE in body["detail"]


def test_a_body_over_32768_bytes_is_a_413(api):
    body = json.dumps({"query": "{ posts { nodes { id } } }", "variables": {"padding": "x" * 32_768}})

    assert_problem(post_graphql(api, body), 413)


def test_a_body_that_is_not_json_is_a_400_problem(api):
    body = assert_problem(post_graphql(api, "{ posts { nodes { id } } }"), 400)

    assert body["detail"] == "The request body is not valid JSON."


def test_a_query_on_several_lines_runs(api, ada):
    """gql's own transport, as a client app uses it: it sends the document as graphql-core prints it."""
    client = Gql(api, ada.token)

    me = client.run("{ me { id posts(first: 1) { nodes { id } } } }")

    assert "\n" in json.loads(client.last.request.body)["query"]
    assert me["me"]["id"] == ada.id
    assert get_graphql(api, {"query": "{\n  posts(first: 1) {\n    nodes { id }\n  }\n}\n"}).status_code == 200


# --- persisted queries --------------------------------------------------------------------------------------------


def by_hash(digest: str, **variables: Any) -> dict[str, Any]:
    return {"variables": variables, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}


def test_the_hash_of_an_allow_listed_query_runs_it(api, ada):
    post = create_post(api, ada, "Persisted")

    posted = post_graphql(api, by_hash(FEED_HASH, first=1))
    fetched = get_graphql(
        api, {"extensions": json.dumps(by_hash(FEED_HASH)["extensions"]), "variables": json.dumps({"first": 1})}
    )

    for response in (posted, fetched):
        assert response.status_code == 200, response.text
        [node] = response.json()["data"]["posts"]["nodes"]
        assert (node["id"], node["author"]) == (post["id"], {"id": ada.id, "name": "Ada"})


def test_an_unknown_hash_is_persisted_query_not_found(api):
    response = post_graphql(api, by_hash(hashlib.sha256(b"{ posts { nodes { id } } }").hexdigest()))

    assert response.status_code == 200
    assert response.json() == {
        "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
    }


def test_a_query_sent_with_another_querys_hash_is_refused(api):
    response = post_graphql(api, {"query": "{ posts(first: 1) { nodes { id } } }", **by_hash(FEED_HASH)})

    body = response.json()
    assert "data" not in body
    assert [entry["extensions"]["code"] for entry in body["errors"]] == ["BAD_REQUEST"]
    assert body["errors"][0]["message"] == "The query's SHA-256 is not the sha256Hash sent with it."
    assert not any(read in request_log(api, response)["aws_calls"] for read in READS)


def test_persisted_only_refuses_other_queries_and_runs_the_allow_listed_hash(persisted_only_api):
    other = Gql(persisted_only_api)

    refused = other.refused("{ posts(first: 1) { nodes { id } } }")
    allowed = post_graphql(persisted_only_api, by_hash(FEED_HASH, first=1))

    assert codes(refused) == ["PERSISTED_QUERY_NOT_ALLOWED"]
    assert "data" not in other.last.json()
    assert allowed.status_code == 200
    assert "errors" not in allowed.json()
    assert allowed.json() == {"data": {"posts": {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}}}


def test_persisted_only_runs_an_allow_listed_query_sent_whole(persisted_only_api):
    response = post_graphql(persisted_only_api, {"query": FEED, "variables": {"first": 1}})

    assert response.status_code == 200, response.text
    assert "errors" not in response.json()


# --- introspection ------------------------------------------------------------------------------------------------


def test_introspection_in_dev_gives_gql_the_documented_schema_to_validate_queries(api):
    client = Gql(api, fetch_schema=True)

    client.run("{ posts(first: 1) { nodes { id } } }")
    sent = len(client.responses)
    with pytest.raises(GraphQLError, match="Cannot query field 'body' on type 'Post'"):
        client.run("{ posts(first: 1) { nodes { body } } }")  # refused by gql, from the fetched schema

    assert len(client.responses) == sent  # never sent
    assert client.client.schema is not None
    documented = build_schema((ROOT / "docs" / "schema.graphql").read_text())
    assert print_schema(client.client.schema) == print_schema(documented)


# --- batching -----------------------------------------------------------------------------------------------------


def test_a_page_of_posts_reads_all_its_authors_in_one_batch(api, ada, bob, cy):
    for writer in (ada, bob, cy, ada, bob, cy, ada, bob):
        create_post(api, writer)
    client = Gql(api)

    client.run("{ posts(first: 8) { nodes { id } } }")
    without = request_log(api, client.last)["aws_calls"]
    page = client.run("{ posts(first: 8) { nodes { id author { name } } } }")["posts"]["nodes"]
    with_authors = request_log(api, client.last)["aws_calls"]

    assert [post["author"]["name"] for post in page] == ["Bob", "Ada", "Cy", "Bob", "Ada", "Cy", "Bob", "Ada"]
    # The posts' own BatchGetItem is in both; the authors', all three of them, is one more.
    assert with_authors["dynamodb.BatchGetItem"] == without["dynamodb.BatchGetItem"] + 1
    assert with_authors.get("dynamodb.GetItem", 0) == without.get("dynamodb.GetItem", 0) == 0
    assert with_authors["dynamodb.Query"] == without["dynamodb.Query"]


# --- found by the GraphQL fuzzer (tests/contract/test_graphql_contract.py) ----------------------------------------


def test_a_missing_argument_is_a_validation_error_not_an_unexpected_one(api):
    response = post_graphql(api, {"query": "{ post { id } }"})

    body = response.json()
    assert "data" not in body
    assert {entry["extensions"]["code"] for entry in body["errors"]} == {"GRAPHQL_VALIDATION_FAILED"}
    messages = [entry["message"] for entry in body["errors"]]
    assert "Argument 'Query.post(id:)' of type 'ID!' is required, but it was not provided." in messages
    assert "An unexpected error occurred." not in messages
    assert unhandled_errors_logged(api, response) == []


def test_a_variable_of_the_wrong_type_says_which_and_why(api):
    response = post_graphql(
        api, {"query": "query($n: Int) { posts(first: $n) { nodes { id } } }", "variables": {"n": "x"}}
    )

    body = response.json()
    assert "data" not in body
    assert [entry["extensions"]["code"] for entry in body["errors"]] == ["BAD_USER_INPUT"]
    assert "$n" in body["errors"][0]["message"]
    assert unhandled_errors_logged(api, response) == []
