"""Text in requests: email addresses (one account per address however it is written), control characters in every
string a request model reads, and titles and passwords that are only spaces. Each rule is pinned on the API and on
the OpenAPI document, so a client checking the document's patterns sends what the API accepts."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Annotated, Any

import jsonschema
import jsonschema_rs
import pytest
from pydantic import BaseModel, ValidationError

from apikit.validation import AllowControl, character_class, validate_request
from tests.conftest import ROOT, assert_problem, bearer, invoke, load_event

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads((ROOT / "docs" / "openapi.json").read_text())


def fits(document: dict[str, Any], schema: dict[str, Any], instance: Any) -> bool:
    """Whether `instance` fits `schema` for Python's `re` and ECMA-262's regexes alike (they must agree)."""
    rooted = {**schema, "components": document["components"]}
    python = jsonschema.Draft202012Validator(rooted).is_valid(instance)
    ecma = jsonschema_rs.validator_for(rooted).is_valid(instance)
    assert python == ecma, f"{instance!r}: Python says {python}, ECMA-262 says {ecma}"
    return python


def model(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def signup(email: str = "ada@example.com", password: str = PASSWORD, name: str = "Ada"):
    body = {"email": email, "password": password, "name": name}
    return invoke("auth_signup", load_event("auth_signup/post.json", body=body))


def login(email: str = "ada@example.com", password: str = PASSWORD):
    return invoke("auth_login", load_event("auth_login/post.json", body={"email": email, "password": password}))


def assert_field_error(result, loc: list[str], error_type: str) -> None:
    body = assert_problem(result, 422 if loc[0] == "body" else 400)
    assert {"loc": loc, "type": error_type} in [{"loc": e["loc"], "type": e["type"]} for e in body["errors"]], body


# Email addresses: one address, one account.

# Written differently, the same mailbox: case, full-width forms (NFKC), spaces around it, an IDNA domain.
SAME_ADDRESS = [
    ("Ada@Example.COM", "ada@example.com"),
    (" ada@example.com\u3000", "ada@example.com"),
    ("".join(chr(ord(c) + 0xFEE0) for c in "ada") + "@example.com", "ada@example.com"),
    ("ada@" + "".join(chr(ord(c) + 0xFEE0) for c in "example") + ".com", "ada@example.com"),
]


@pytest.mark.parametrize(("written", "stored"), SAME_ADDRESS)
def test_an_address_written_differently_reaches_the_same_account(aws, written, stored):
    assert signup(email="ada@example.com").status == 201

    assert_problem(signup(email=written), 409)
    logged_in = login(email=written)
    assert logged_in.status == 200, logged_in.body
    assert logged_in.json()["user"]["email"] == stored


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("J\u00f6rg@B\u00dcCHER.de", "j\u00f6rg@b\u00fccher.de"),  # the domain as IDNA maps it, in Unicode
        ("x@xn--bcher-kva.de", "x@b\u00fccher.de"),
        ("\u00df@STRASSE.de", "\u00df@strasse.de"),  # the local part is lowercased, not case-folded (ß stays)
        ("User+Tag@Mail.Example.co.uk", "user+tag@mail.example.co.uk"),
    ],
)
def test_the_stored_address_is_nfkc_with_the_local_part_lowercased_and_the_domain_as_idna_gives_it(
    aws, document, written, stored
):
    result = signup(email=written)

    assert result.status == 201, result.body
    assert result.json()["user"]["email"] == stored
    assert fits(document, model("SignupRequest"), {"email": written, "password": PASSWORD, "name": "A"})


INVISIBLE_OR_CONTROL = [
    "ada\x00@example.com",
    "ada@example.com\x00",
    "a\x07da@example.com",
    "ada@exa\x85mple.com",
    "ada\u200b@example.com",  # zero-width space
    "a\u00adda@example.com",  # soft hyphen
    "ad\ufeffa@example.com",  # byte order mark inside
    "ada@\u202eexample.com",  # right-to-left override
    "ada\u2060@example.com",  # word joiner
    "ada\u061c@example.com",  # Arabic letter mark
]
MALFORMED = [
    "a..da@example.com",
    ".ada@example.com",
    "ada.@example.com",
    '"ada"@example.com',
    "a(da)@example.com",
    "ada@-example.com",
    "ada@example-.com",
    "ada@ex_ample.com",
    "ada@example.123",
    "ada@[127.0.0.1]",
    "ada@example..com",
]


@pytest.mark.parametrize("email", INVISIBLE_OR_CONTROL + MALFORMED)
def test_an_address_with_invisible_characters_or_a_malformed_one_is_422_and_the_document_says_so(aws, document, email):
    # A control character is refused as in any string, unless it is a space (a tab, NEL), which only the ends of an
    # address may hold; the rest by the address's own rules.
    control = any(unicodedata.category(c) == "Cc" and not c.isspace() for c in email)
    error_type = "string_control_characters" if control else "value_error"
    assert_field_error(signup(email=email), ["body", "email"], error_type)
    assert_field_error(login(email=email), ["body", "email"], error_type)
    assert not fits(document, model("SignupRequest"), {"email": email, "password": PASSWORD, "name": "A"})
    assert not fits(document, model("LoginRequest"), {"email": email, "password": "x"})


@pytest.mark.parametrize("email", ["ada@example.test", "ada@localhost.localdomain.invalid", "ada@mail.onion"])
def test_what_only_the_validator_knows_is_a_422_with_its_reason(aws, document, email):
    """Special-use domains (RFC 6761): the document's pattern cannot say these."""
    assert fits(document, model("SignupRequest"), {"email": email, "password": PASSWORD, "name": "A"})
    result = signup(email=email)

    assert_field_error(result, ["body", "email"], "value_error")
    assert "@-sign" in result.json()["errors"][0]["msg"]


def test_the_validator_never_asks_dns(aws, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("no DNS lookup")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "gethostbyname", refuse)

    assert signup(email="nobody@no-such-domain-for-sure.example").status == 201


# Control characters (Unicode category Cc): refused in every string field of every request model.

CONTROL = ["\x00", "\x08", "\x1b", "\x7f", "\x85", "\x9f", "\n", "\t"]


def post(body: dict[str, Any], method: str = "POST", post_id: str = ""):
    if method == "POST":
        return invoke(
            "posts_create", load_event("posts_create/post.json", headers={"authorization": bearer("alice")}, body=body)
        )
    sample = {"PUT": "posts_replace/put.json", "PATCH": "posts_patch/patch.json"}[method]
    function = {"PUT": "posts_replace", "PATCH": "posts_patch"}[method]
    headers = {"authorization": bearer("alice"), "if-match": None}
    return invoke(function, load_event(sample, path=f"/api/posts/{post_id}", headers=headers, body=body))


@pytest.mark.parametrize("character", CONTROL)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_a_title_with_a_control_character_is_422(create_post, method, character):
    post_id = create_post(author="alice")["id"]

    result = post({"title": f"Hello{character}there", "content": "x"}, method, post_id)

    assert_field_error(result, ["body", "title"], "string_control_characters")


@pytest.mark.parametrize("character", [c for c in CONTROL if c not in "\t\n"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_content_refuses_control_characters_but_tab_line_feed_and_carriage_return(create_post, method, character):
    post_id = create_post(author="alice")["id"]

    refused = post({"title": "T", "content": f"a{character}b"}, method, post_id)
    kept = post({"title": "T", "content": "line\r\nline\n\tindented"}, method, post_id)

    assert_field_error(refused, ["body", "content"], "string_control_characters")
    assert kept.status in {200, 201}, kept.body
    assert kept.json()["content"] == "line\r\nline\n\tindented"


@pytest.mark.parametrize("character", CONTROL)
def test_a_name_or_a_signup_password_with_a_control_character_is_422(aws, character):
    assert_field_error(signup(name=f"A{character}da"), ["body", "name"], "string_control_characters")
    assert_field_error(
        signup(email="other@example.com", password=PASSWORD + character),
        ["body", "password"],
        "string_control_characters",
    )


def test_a_login_password_is_compared_as_sent_so_older_passwords_still_work(aws):
    """A login stores and shows nothing: its password is refused nothing, so an account made before these rules
    (a password with a tab, or of only spaces) can still log in; a wrong one is the usual 401."""
    assert_problem(login(password="tab\there and there"), 401)
    assert_problem(login(password=" " * 12), 401)


def test_a_filename_with_a_control_character_is_422_not_silently_cleaned(aws):
    body = {"filename": "report\x00.pdf", "content_type": "application/pdf", "size": 10}
    event = load_event("uploads_presign/post.json", headers={"authorization": bearer("alice")}, body=body)

    assert_field_error(invoke("uploads_presign", event), ["body", "filename"], "string_control_characters")


def test_a_query_parameter_with_a_control_character_is_400(aws):
    result = invoke("posts_list", load_event("posts_list/get.json", query={"author": "al\x00ice"}))

    assert_field_error(result, ["query", "author"], "string_control_characters")


def request_strings(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(model, field, schema) of every string property of every JSON request body model in the document."""
    found = []
    for item in document["paths"].values():
        for operation in item.values():
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                ref = media["schema"].get("$ref")
                if ref is None:
                    continue
                name = ref.rsplit("/", 1)[-1]
                for field, schema in document["components"]["schemas"][name]["properties"].items():
                    options = schema.get("anyOf", [schema])
                    if any(option.get("type") == "string" for option in options):
                        found.append((name, field, schema))
    return sorted({(n, f): (n, f, s) for n, f, s in found}.values(), key=lambda entry: entry[:2])


def test_every_string_of_every_request_model_documents_the_rule(document):
    strings = request_strings(document)
    assert {(name, field) for name, field, _ in strings} >= {
        ("PostInput", "title"),
        ("PostInput", "content"),
        ("PostPatch", "title"),
        ("SignupRequest", "name"),
        ("SignupRequest", "email"),
        ("PresignRequest", "filename"),
        ("CheckoutRequest", "price_id"),
    }
    for name, field, schema in strings:
        if (name, field) == ("LoginRequest", "password"):
            assert "pattern" not in schema  # compared as sent, see above
            continue
        for character in CONTROL:
            # Text in lines: a post's content, and a GraphQL document.
            in_lines = field == "content" or (name, field) == ("GraphqlRequest", "query")
            allowed = in_lines and character in "\t\n"
            value = f"ab{character}cd" if field != "email" else f"ab{character}cd@example.com"
            assert fits(document, schema, value) is allowed, (name, field, character)


# Titles and passwords of only spaces.

SPACES_ONLY = [" ", "   ", "\u3000", "\u00a0 \u2003", "\ufeff "]


@pytest.mark.parametrize("title", SPACES_ONLY)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_a_title_of_only_spaces_is_422(create_post, document, method, title):
    post_id = create_post(author="alice")["id"]

    result = post({"title": title, "content": "x"}, method, post_id)

    assert_field_error(result, ["body", "title"], "string_blank")
    assert result.json()["errors"][0]["msg"] == "String should have a character that is not a space"
    assert not fits(document, model("PostInput"), {"title": title, "content": "x"})


def test_a_title_with_spaces_around_a_character_is_kept_as_sent(aws, document):
    result = post({"title": "  Hi  ", "content": "x"})

    assert result.status == 201
    assert result.json()["title"] == "  Hi  "
    assert fits(document, model("PostInput"), {"title": "  Hi  ", "content": "x"})


@pytest.mark.parametrize("password", [" " * 12, "\u3000" * 12, " \u00a0" * 8])
def test_a_signup_password_of_only_spaces_is_422(aws, document, password):
    assert_field_error(signup(password=password), ["body", "password"], "string_blank")
    assert not fits(document, model("SignupRequest"), {"email": "a@example.com", "password": password, "name": "A"})


def test_a_password_with_spaces_and_one_character_is_fine(aws):
    assert signup(password=" " * 11 + "x").status == 201


# The rule's building blocks, on request models of the tests' own. Each test declares its model itself: the checks
# are built once per model, on its first validation, so a model shared by tests would be checked by the first only.

ALL_CONTROL = [*range(0x00, 0x20), *range(0x7F, 0xA0)]


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        pytest.param([], "", id="none"),
        pytest.param([0x41], "\\u0041", id="one"),
        pytest.param([0x43, 0x41, 0x42, 0x41], "\\u0041-\\u0043", id="a-run-unsorted-and-repeated"),
        pytest.param([0x41, 0x43], "\\u0041\\u0043", id="a-gap-of-one"),
        pytest.param(
            [0x09, 0x0A, 0x0D, 0x20, 0x2028, 0x2029], "\\u0009-\\u000a\\u000d\\u0020\\u2028-\\u2029", id="mixed"
        ),
    ],
)
def test_character_class_spells_code_points_as_u_escapes_and_ranges(codes, expected):
    spelled = character_class(codes)

    assert spelled == expected
    if codes:  # as a regex class, it matches exactly those code points, in Python's `re` as in ECMA-262
        matched = [code for code in range(0x2100) if re.fullmatch(f"[{spelled}]", chr(code))]
        assert matched == sorted(set(codes))


def test_allow_control_refuses_every_control_character_but_the_ones_it_names():
    marker = AllowControl("\t\x85")

    assert marker.refused is not None
    assert [code for code in ALL_CONTROL if marker.refused.search(chr(code))] == [
        code for code in ALL_CONTROL if code not in (0x09, 0x85)
    ]
    assert not marker.refused.search("tab\there, NEL\x85 there, spaces\u2028\u00a0 and text \u00e9")


def test_allow_control_of_every_control_character_refuses_nothing():
    assert AllowControl("".join(chr(code) for code in ALL_CONTROL)).refused is None


def test_every_string_a_request_model_reads_is_checked_unless_its_type_allows_some_control_characters():
    tabs = AllowControl("\t")

    class Note(BaseModel):
        plain: str = ""
        tabbed: Annotated[str, tabs] = ""
        optional_tabbed: Annotated[str, tabs] | None = None  # the marker inside the union, as PostPatch's content
        anything: Annotated[str, AllowControl("".join(chr(code) for code in ALL_CONTROL))] = ""
        tags: list[str] = []
        count: int = 0

    accepted = validate_request(
        Note,
        {"tabbed": "a\tb", "optional_tabbed": "c\td", "anything": "\x00\x1b\x7f", "tags": ["x", "y"], "count": 3},
    )
    assert type(accepted) is Note
    assert accepted == Note(tabbed="a\tb", optional_tabbed="c\td", anything="\x00\x1b\x7f", tags=["x", "y"], count=3)

    with pytest.raises(ValidationError) as refused:
        validate_request(
            Note,
            {
                "plain": "a\tb",
                "tabbed": "a\nb",
                "optional_tabbed": "c\x00d",
                "anything": "fine",
                "tags": ["x", "y\x1b"],
            },
        )
    assert [(error["loc"], error["type"], error["msg"]) for error in refused.value.errors()] == [
        ((field,), "string_control_characters", "String should not contain control characters")
        for field in ("plain", "tabbed", "optional_tabbed", "tags")
    ]


def test_validate_request_answers_the_declared_model_as_model_validate_would():
    class Query(BaseModel, extra="allow"):
        page: int = 1
        sort: str = "new"

    answer = validate_request(Query, {"sort": "old", "utm": "x"})

    assert type(answer) is Query
    assert answer == Query.model_validate({"sort": "old", "utm": "x"})
    assert answer.model_fields_set == {"sort", "utm"}  # what a merge patch reads: the fields sent
    assert answer.model_extra == {"utm": "x"}
