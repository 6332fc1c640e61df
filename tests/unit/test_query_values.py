"""apikit.validation.query_all and query_first, Next.js's `searchParams.getAll` and `searchParams.get`: a repeated
parameter's values apart, decoded as URLSearchParams decodes them."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from apikit.validation import query_all, query_first
from devserver.worker import LambdaContext
from tests.conftest import Result, load_event


def event(raw_query: str | None, joined: dict[str, str] | None = None) -> APIGatewayProxyEventV2:
    """A GET event whose rawQueryString is `raw_query` (None: no such key) and queryStringParameters `joined`."""
    data = load_event("posts_list/get.json")
    data.pop("rawQueryString")
    if raw_query is not None:
        data["rawQueryString"] = raw_query
    data["queryStringParameters"] = joined
    return APIGatewayProxyEventV2(data)


# `new URLSearchParams(query).getAll("tag")` and `.get("tag")`, as Node 20 answers them.
URL_SEARCH_PARAMS = [
    ("tag=a&tag=b", ["a", "b"]),
    ("tag=a,b", ["a,b"]),
    ("tag=a%2Cb&tag=c", ["a,b", "c"]),
    ("tag=a+b%2Bc", ["a b+c"]),
    ("tag=%E6%9D%B1%E4%BA%AC&tag=S%C3%A3o+Paulo", ["東京", "São Paulo"]),
    ("tag", [""]),
    ("tag=&tag=x", ["", "x"]),
    ("tag=%FF", ["\ufffd"]),
    ("tag=%zz&tag=100%", ["%zz", "100%"]),
    ("Tag=x&tag=y", ["y"]),
    ("&&tag=1&", ["1"]),
    ("tag=a=b", ["a=b"]),
    ("t%61g=q", ["q"]),
    ("tag=a;tag=b", ["a;tag=b"]),
    ("tag=%00", ["\x00"]),
    ("other=1", []),
    ("", []),
]


@pytest.mark.parametrize(("raw_query", "values"), URL_SEARCH_PARAMS)
def test_values_are_those_of_url_search_params(raw_query, values):
    assert query_all(event(raw_query), "tag") == values
    assert query_first(event(raw_query), "tag") == (values[0] if values else None)


def test_a_repeated_parameter_is_read_apart_where_api_gateway_joins_it():
    # As API Gateway sends ?tag=a&tag=b,c: queryStringParameters cannot tell the three values from two.
    request = event("tag=a&tag=b%2Cc", {"tag": "a,b,c"})

    assert query_all(request, "tag") == ["a", "b,c"]
    assert query_first(request, "tag") == "a"


def test_the_raw_query_string_wins_over_query_string_parameters():
    request = event("tag=raw", {"tag": "joined", "other": "joined"})

    assert query_all(request, "tag") == ["raw"]
    assert query_first(request, "other") is None


def test_an_event_without_a_raw_query_string_has_no_values():
    assert query_all(event(None), "tag") == []
    assert query_first(event(None), "tag") is None


def test_a_handler_reads_them_from_the_current_event():
    from apikit.app import create_app, make_handler

    app = create_app()

    @app.get("/api/tags")
    def tags() -> dict[str, Any]:
        return {"all": query_all(app.current_event, "tag"), "first": query_first(app.current_event, "tag")}

    data = load_event("health/get.json", path="/api/tags", rawQueryString="tag=b&tag=a+b&tag=b")
    data["routeKey"] = "GET /api/tags"
    result = Result.of(make_handler(app)(data, LambdaContext("tags", 512, 10)))

    assert result.json() == {"all": ["b", "a b", "b"], "first": "b"}
