"""EnableCdn in template.yaml: one origin for the front end and the API, cached only where the API says so.

cfn-lint and `sam validate --lint` check it is valid (make validate, with EnableCdn true and false); this checks
it does what docs/deploy.md says.
"""

from __future__ import annotations

from typing import Any

import pytest

from devserver.template import load_template
from tests.conftest import ROOT

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    template: dict[str, Any] = load_template(ROOT / "template.yaml")
    return template["Resources"]


def behaviours(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    config = resources["Cdn"]["Properties"]["DistributionConfig"]
    return {"default": config["DefaultCacheBehavior"], **{b["PathPattern"]: b for b in config["CacheBehaviors"]}}


def test_everything_for_the_cdn_exists_only_when_enabled(resources):
    cdn = {"FrontendBucket", "FrontendBucketPolicy", "CdnOriginAccessControl", "CdnWeatherCachePolicy"}
    cdn |= {"CdnStaticPaths", "Cdn"}

    assert {name for name, resource in resources.items() if resource.get("Condition") == "UseCdn"} == cdn


def test_the_api_is_never_cached_nor_compressed_but_hello_and_weather_are_cached(resources):
    by_path = behaviours(resources)

    api = by_path["/api/*"]
    assert (api["CachePolicyId"], api["OriginRequestPolicyId"]) == (CACHING_DISABLED, ALL_VIEWER_EXCEPT_HOST)
    assert api["Compress"] is False  # compressing weakens strong ETags, and If-Match compares strongly
    assert set(api["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    assert by_path["/api/hello"]["CachePolicyId"] == CACHING_OPTIMIZED  # no query string in the key
    assert by_path["/api/weather"]["CachePolicyId"] == {"Ref": "CdnWeatherCachePolicy"}
    assert {by_path[path]["TargetOriginId"] for path in ("/api/*", "/api/hello", "/api/weather")} == {"api"}
    assert by_path["default"]["TargetOriginId"] == "frontend"


def test_the_weather_cache_is_keyed_on_city_and_units_only_and_follows_the_functions_cache_control(resources):
    config = resources["CdnWeatherCachePolicy"]["Properties"]["CachePolicyConfig"]
    key = config["ParametersInCacheKeyAndForwardedToOrigin"]

    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "whitelist", "QueryStrings": ["city", "units"]}
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    assert key["HeadersConfig"] == {"HeaderBehavior": "none"}
    assert (config["MinTTL"], config["DefaultTTL"]) == (0, 0)


def test_only_the_distribution_reads_the_front_end_bucket(resources):
    bucket = resources["FrontendBucket"]["Properties"]
    statements = resources["FrontendBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]

    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert {statement["Action"] for statement in statements} == {"s3:GetObject", "s3:ListBucket"}
    for statement in statements:
        assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
        assert "distribution/${Cdn}" in statement["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
