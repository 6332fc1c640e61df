from __future__ import annotations

from tests.conftest import invoke, load_event


def test_health_is_200_ok_without_auth_or_aws():
    # No `aws` fixture: liveness must not touch DynamoDB or Secrets Manager.
    event = load_event("health/get.json", headers={"authorization": None})

    result = invoke("health", event)

    assert result.status == 200
    assert result.headers["content-type"] == "application/json"
    assert result.json() == {"status": "ok"}
    assert result.headers["x-request-id"] == event["requestContext"]["requestId"]


def test_health_ignores_a_query_string():
    result = invoke("health", load_event("health/get.json", query={"verbose": "1"}))

    assert result.status == 200
    assert result.json() == {"status": "ok"}
