"""template.yaml's per-function operations, made by one Fn::ForEach: after expansion every function has its log
group and its alarms (errors, throttles, duration) under the logical ids the stack has always had (renaming one
would replace it, and a log group's replacement loses its logs), and a new function costs its own block and
nothing else.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import boto3
import pytest

from devserver.template import load_app, load_template, read_template, resources_of_type
from tests.conftest import ROOT

FUNCTION = "AWS::Serverless::Function"
MAX_LINES_PER_NEW_FUNCTION = 20  # issue 20: the block of a typical endpoint, plus nothing per function elsewhere


@pytest.fixture(scope="module")
def expanded() -> dict[str, Any]:
    resources: dict[str, Any] = load_template(ROOT / "template.yaml")["Resources"]
    return resources


def test_every_function_has_its_log_group_and_alarms_with_the_logical_ids_it_always_had(expanded):
    functions = resources_of_type({"Resources": expanded}, FUNCTION)
    assert len(functions) >= 25

    for function, resource in functions.items():
        name = function.removesuffix("Function")
        group, errors, throttles = (
            expanded[f"{name}{suffix}"] for suffix in ("LogGroup", "ErrorsAlarm", "ThrottlesAlarm")
        )
        assert resource["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": f"{name}LogGroup"}}
        assert group["Type"] == "AWS::Logs::LogGroup"
        assert group["Properties"] == {
            "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}/{function}"},
            "RetentionInDays": {"Ref": "LogRetentionDays"},
        }
        for alarm, metric in ((errors, "Errors"), (throttles, "Throttles")):
            properties = alarm["Properties"]
            assert (alarm["Type"], properties["Namespace"], properties["MetricName"]) == (
                "AWS::CloudWatch::Alarm",
                "AWS/Lambda",
                metric,
            )
            assert properties["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
            assert properties["AlarmName"] == {"Fn::Sub": f"${{AWS::StackName}} {function} {metric.lower()}"}
            assert isinstance(properties["AlarmDescription"], str)


def test_the_alarms_say_what_each_function_means_where_the_default_would_not(expanded):
    described = {
        name: expanded[name]["Properties"]["AlarmDescription"]
        for name in (
            "HealthErrorsAlarm",
            "StripeWebhookErrorsAlarm",
            "JwtRotationErrorsAlarm",
            "JwtRotationThrottlesAlarm",
        )
    }

    assert described["HealthErrorsAlarm"].startswith("Unhandled errors")
    assert "Stripe retries" in described["StripeWebhookErrorsAlarm"]
    assert "Secrets Manager retries" in described["JwtRotationErrorsAlarm"]
    assert "Secrets Manager retries" in described["JwtRotationThrottlesAlarm"]


def test_the_template_as_written_has_no_log_group_alarm_or_checkov_skip_of_its_own_per_function():
    written = read_template(ROOT / "template.yaml")["Resources"]
    functions = [
        key.removesuffix("Function") for key in resources_of_type(load_template(ROOT / "template.yaml"), FUNCTION)
    ]
    assert "Fn::ForEach::FunctionOperations" in written

    for name in functions:
        assert {f"{name}LogGroup", f"{name}ErrorsAlarm", f"{name}ThrottlesAlarm"}.isdisjoint(written)
    assert not re.search(r"#checkov:skip=CKV_AWS_(115|116|117|173|158):", (ROOT / "template.yaml").read_text())


def test_a_new_function_costs_its_block_and_at_most_one_more_line():
    """The block of a new endpoint like POST /api/posts, and its name in the loop's list (an existing line)."""
    lines = (ROOT / "template.yaml").read_text().splitlines()
    start = lines.index("  PostsCreateFunction:")
    end = next(index for index in range(start + 1, len(lines)) if not lines[index].startswith("   "))

    assert end - start + 1 <= MAX_LINES_PER_NEW_FUNCTION  # the block and the blank line after it


def test_checkov_reads_the_loops_written_out_with_everything_else_as_it_was(tmp_path):
    """scripts/expanded_template.py, what `make validate` runs checkov on: checkov skips a Fn::ForEach."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import expanded_template  # a script: found once its directory is on the path

    text = expanded_template.expanded_text(ROOT / "template.yaml")
    (tmp_path / "template.yaml").write_text(text)

    assert not re.search(r"^ +Fn::ForEach::\w+:", text, re.MULTILINE)
    assert "#checkov:skip=CKV_AWS_28:" in text  # a skip beside one resource still applies
    assert read_template(tmp_path / "template.yaml")["Resources"] == load_template(ROOT / "template.yaml")["Resources"]


def test_the_indexes_project_all_because_listing_returns_every_attribute_an_item_has(create_post):
    """ALL is what listing needs while lists show whole items: an INCLUDE projection would copy the same bytes.
    Write an attribute a list does not return and this fails: then project the index INCLUDE, under a new name
    (DynamoDB cannot change an existing index's projection; one index added or removed per deploy)."""
    from apikit.repositories.orders import CheckoutSession, Order, OrdersRepository
    from apikit.repositories.posts import Post

    post = create_post()
    OrdersRepository().record(
        CheckoutSession(id="cs_1", client_reference_id="alice", customer_email="a@example.com", created=1796035800)
    )
    dynamodb = boto3.client("dynamodb")
    post_item = dynamodb.get_item(TableName="PostsTable", Key={"id": {"S": post["id"]}})["Item"]
    order_item = dynamodb.get_item(TableName="OrdersTable", Key={"id": {"S": "cs_1"}})["Item"]
    tables = load_template(ROOT / "template.yaml")["Resources"]

    assert set(post_item) == set(Post.model_fields) | {"entity"}  # ByCreatedAt's key; ByAuthor: ~10 bytes a post
    assert set(order_item) == set(Order.model_fields) | {"user_id"}  # user_id: ByUser's key
    for table in ("PostsTable", "OrdersTable"):
        for index in tables[table]["Properties"]["GlobalSecondaryIndexes"]:
            assert index["Projection"] == {"ProjectionType": "ALL"}, index["IndexName"]


def test_each_functions_duration_alarm_fires_at_80_percent_of_its_own_timeout(expanded):
    functions = load_app(ROOT / "template.yaml").functions

    for function in functions.values():
        alarm = expanded[f"{function.logical_id.removesuffix('Function')}DurationAlarm"]["Properties"]
        assert (alarm["MetricName"], alarm["Statistic"]) == ("Duration", "Maximum")
        assert alarm["Threshold"] == 800 * function.timeout, function.logical_id  # milliseconds


def test_the_unhandled_errors_alarm_sums_the_metric_over_its_exact_dimensions(expanded):
    """apikit.metrics.unhandled_error's dimensions (tests/unit/test_aws_faults.py), in the alarm's query."""
    alarm = expanded["UnhandledErrorsAlarm"]["Properties"]
    [query] = alarm["Metrics"]

    assert query["Expression"] == {
        "Fn::Sub": 'SELECT SUM(UnhandledErrors) FROM SCHEMA("${AWS::StackName}", function, service)'
    }
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert "requests" not in str(alarm)  # no minimum of traffic
