"""template.yaml's rate limits, throttles and CORS: configured in one place, granted once, and consistent.

A new function gets the default limit from Globals without writing code; these checks make sure it also gets
the one permission that limit needs (or says `off`), so a forgotten policy fails here, not as a silent
fail-open warning in production.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from apikit.ratelimit import parse_limit
from devserver.template import load_template, resources_of_type
from tests.conftest import ROOT

DEV_SERVER_PORT = 3000  # `make dev`, like `sam local start-api`


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = load_template(ROOT / "template.yaml")
    return loaded


def effective_limit(template: dict[str, Any], function: dict[str, Any]) -> str:
    own = function["Properties"].get("Environment", {}).get("Variables", {})
    value = own.get("RATE_LIMIT", template["Globals"]["Function"]["Environment"]["Variables"]["RATE_LIMIT"])
    if value == {"Ref": "RateLimit"}:
        return str(template["Parameters"]["RateLimit"]["Default"])
    return str(value)


def test_every_limit_in_the_template_parses(template):
    functions = resources_of_type(template, "AWS::Serverless::Function")
    values = [effective_limit(template, function) for function in functions.values()]
    values += [
        str(function["Properties"]["Environment"]["Variables"]["RATE_LIMIT_PER_EMAIL"])
        for function in functions.values()
        if "RATE_LIMIT_PER_EMAIL" in function["Properties"].get("Environment", {}).get("Variables", {})
    ]

    assert len(values) > len(functions)
    for value in values:
        parse_limit(value)  # raises on a limit that means nothing


def test_exactly_the_limited_functions_may_count_and_only_with_one_update_item(template):
    functions = resources_of_type(template, "AWS::Serverless::Function")
    limited = {name for name, function in functions.items() if parse_limit(effective_limit(template, function))}
    granted = {
        name
        for name, function in functions.items()
        if {"Ref": "RateLimitPolicy"} in function["Properties"].get("Policies", [])
    }

    assert limited == granted
    assert {"HealthFunction", "HelloFunction", "DocsFunction", "NotFoundFunction", "StripeWebhookFunction"}.isdisjoint(
        limited
    )
    policy = template["Resources"]["RateLimitPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert policy == [
        {"Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": {"Fn::GetAtt": ["RateLimitTable", "Arn"]}}
    ]


def test_login_and_signup_are_stricter_per_address_and_per_email_and_fail_closed(template):
    default = parse_limit(str(template["Parameters"]["RateLimit"]["Default"]))
    assert default is not None
    for name in ("AuthLoginFunction", "AuthSignupFunction"):
        variables = template["Resources"][name]["Properties"]["Environment"]["Variables"]
        per_address, per_email = parse_limit(variables["RATE_LIMIT"]), parse_limit(variables["RATE_LIMIT_PER_EMAIL"])
        assert per_address is not None
        assert per_email is not None
        assert per_address.requests / per_address.window_seconds < default.requests / default.window_seconds / 5
        assert per_email.requests / per_email.window_seconds < per_address.requests / per_address.window_seconds
        assert variables["RATE_LIMIT_FAIL_CLOSED"] == "true"


def test_the_counter_table_expires_its_items(template):
    table = template["Resources"]["RateLimitTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]


def test_the_stage_throttles_the_password_routes_harder_and_names_only_real_routes(template):
    """API Gateway refuses a deployment whose RouteSettings name a route key that does not exist."""
    api = template["Resources"]["HttpApi"]["Properties"]
    route_keys = {
        f"{event['Properties']['Method']} {event['Properties']['Path']}"
        for function in resources_of_type(template, "AWS::Serverless::Function").values()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    }
    parameters = template["Parameters"]

    assert set(api["RouteSettings"]) == {"POST /api/auth/login", "POST /api/auth/signup"}
    assert set(api["RouteSettings"]) <= route_keys
    assert parameters["AuthThrottlingRateLimit"]["Default"] < parameters["ThrottlingRateLimit"]["Default"]
    assert parameters["AuthThrottlingBurstLimit"]["Default"] < parameters["ThrottlingBurstLimit"]["Default"]


def test_the_default_front_end_origin_is_not_the_dev_servers_own_address(template):
    origins = template["Parameters"]["CorsAllowedOrigins"]["Default"].split(",")

    assert "*" not in origins  # credentials are allowed
    for origin in origins:
        assert not origin.endswith(f":{DEV_SERVER_PORT}")
    for name in ("CheckoutSuccessUrl", "CheckoutCancelUrl"):
        assert template["Parameters"][name]["Default"].startswith(f"{origins[0]}/")


def test_browsers_may_read_the_rate_limit_fields(template):
    cors = template["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"]
    exposed = set(cors["ExposeHeaders"])

    assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "ratelimit-policy", "retry-after"} <= exposed
    assert cors["AllowCredentials"] is True


def test_cloudfront_vouches_for_the_viewer_address_with_the_token_the_functions_expect(template):
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    origins = template["Resources"]["Cdn"]["Properties"]["DistributionConfig"]["Origins"]
    api_origin = next(origin for origin in origins if origin["Id"] == "api")

    condition, token, without_cdn = variables["CDN_ORIGIN_VERIFY"]["Fn::If"]
    assert (condition, without_cdn) == ("UseCdn", "")
    assert api_origin["OriginCustomHeaders"] == [{"HeaderName": "X-Origin-Verify", "HeaderValue": token}]


@pytest.mark.parametrize("value", ["0/minute", "5/0m", "60", "60/fortnight", "ten/minute"])
def test_the_parameter_refuses_at_deploy_what_the_functions_would_refuse_at_every_request(template, value):
    """CloudFormation checks AllowedPattern before anything is created; parse_limit would fail each request."""
    pattern = template["Parameters"]["RateLimit"]["AllowedPattern"]

    assert re.fullmatch(pattern, value) is None
    with pytest.raises(ValueError, match="expected"):
        parse_limit(value)


@pytest.mark.parametrize("value", ["off", "60/minute", "10/15m", "5 / 30s", "1000/hours", "3/2h"])
def test_the_parameter_allows_what_the_functions_understand(template, value):
    assert re.fullmatch(template["Parameters"]["RateLimit"]["AllowedPattern"], value)
    parse_limit(value)
