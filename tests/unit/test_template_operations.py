"""template.yaml's per-function operations, made by one Fn::ForEach: after expansion every function has its log
group (under the logical id it always had: a log group's replacement loses its logs) and one alarm on its errors,
throttles and duration, and a new function costs its own block and nothing else.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import boto3
import pytest

from devserver.template import load_app, load_template, read_template, resources_of_type, table_properties
from tests.conftest import ROOT

FUNCTION = "AWS::Serverless::Function"
MAX_LINES_PER_NEW_FUNCTION = 20  # issue 20: the block of a typical endpoint, plus nothing per function elsewhere


@pytest.fixture(scope="module")
def expanded() -> dict[str, Any]:
    resources: dict[str, Any] = load_template(ROOT / "template.yaml")["Resources"]
    return resources


def test_every_function_has_its_log_group_and_one_alarm_on_errors_throttles_and_duration(expanded):
    functions = resources_of_type({"Resources": expanded}, FUNCTION)
    assert len(functions) >= 25

    for function, resource in functions.items():
        name = function.removesuffix("Function")
        group, alarm = expanded[f"{name}LogGroup"], expanded[f"{name}Alarm"]
        assert resource["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": f"{name}LogGroup"}}
        assert group["Type"] == "AWS::Logs::LogGroup"
        assert group["Properties"] == {
            "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}/{function}"},
            "RetentionInDays": {"Ref": "LogRetentionDays"},
        }
        properties = alarm["Properties"]
        assert alarm["Type"] == "AWS::CloudWatch::Alarm"
        assert properties["AlarmName"] == {"Fn::Sub": f"${{AWS::StackName}} {function}"}
        read = {query["Id"]: query["MetricStat"] for query in properties["Metrics"] if "MetricStat" in query}
        assert {key: (stat["Metric"]["MetricName"], stat["Stat"]) for key, stat in read.items()} == {
            "errors": ("Errors", "Sum"),
            "throttles": ("Throttles", "Sum"),
            "slowest": ("Duration", "Maximum"),
        }
        for stat in read.values():
            assert stat["Metric"]["Namespace"] == "AWS/Lambda"
            assert stat["Metric"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]


def test_the_alarms_say_what_each_function_means_where_the_default_would_not(expanded):
    def described(name: str) -> str:
        description: str = expanded[f"{name}Alarm"]["Properties"]["AlarmDescription"]  # its Fn::FindInMap resolved
        return description

    assert described("Health").startswith("A timeout or crash")
    assert "Stripe retries" in described("StripeWebhook")
    assert "Secrets Manager retries" in described("JwtRotation")


def test_the_template_as_written_has_no_log_group_alarm_or_checkov_skip_of_its_own_per_function():
    written = read_template(ROOT / "template.yaml")["Resources"]
    functions = [
        key.removesuffix("Function") for key in resources_of_type(load_template(ROOT / "template.yaml"), FUNCTION)
    ]
    assert "Fn::ForEach::FunctionOperations" in written

    for name in functions:
        assert {f"{name}LogGroup", f"{name}Alarm"}.isdisjoint(written)
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


def test_each_index_projects_what_its_list_reads_and_a_post_carries_only_its_shard_besides_its_fields(create_post):
    """ByShard lists all posts over 16 partitions and reads each page's posts in one BatchGetItem: KEYS_ONLY, so a
    post's content is not copied into it. ByAuthor and ByUser give one partition's page whole: ALL, since an
    INCLUDE projection would copy the same bytes. Write an attribute a list does not return and this fails: then
    project that index INCLUDE, under a new name (DynamoDB cannot change an existing index's projection; one
    index added or removed per deploy)."""
    from apikit.repositories.orders import CheckoutSession, Order, OrdersRepository
    from apikit.repositories.posts import Post

    post = create_post()
    OrdersRepository().record(
        CheckoutSession(id="cs_1", client_reference_id="alice", customer_email="a@example.com", created=1796035800)
    )
    dynamodb = boto3.client("dynamodb")
    post_item = dynamodb.get_item(TableName="PostsTable", Key={"id": {"S": post["id"]}})["Item"]
    order_item = dynamodb.get_item(TableName="OrdersTable", Key={"id": {"S": "cs_1"}})["Item"]
    tables = table_properties(load_template(ROOT / "template.yaml"))

    assert set(post_item) == set(Post.model_fields) | {"list_shard"}  # ByShard's key, ~10 bytes a post
    assert set(order_item) == set(Order.model_fields) | {"user_id"}  # user_id: ByUser's key
    projections = {
        (table, index["IndexName"]): index["Projection"]["ProjectionType"]
        for table in ("PostsTable", "OrdersTable")
        for index in tables[table]["GlobalSecondaryIndexes"]
    }
    assert projections == {
        ("PostsTable", "ByShard"): "KEYS_ONLY",
        ("PostsTable", "ByAuthor"): "ALL",
        ("OrdersTable", "ByUser"): "ALL",
    }


def test_a_stack_migrating_to_byshard_keeps_its_old_index_beside_the_new_one():
    """PostsListIndex=ByCreatedAt (docs/scale.md, "Migrating"): the first of two deploys adds ByShard and keeps
    ByCreatedAt with its attribute, since a deploy adds or removes one index at most; the default removes it."""
    template = load_template(ROOT / "template.yaml")
    migrating = table_properties(template, {"PostsListIndex": "ByCreatedAt"})["PostsTable"]
    migrated = table_properties(template)["PostsTable"]

    assert [index["IndexName"] for index in migrating["GlobalSecondaryIndexes"]] == [
        "ByShard",
        "ByCreatedAt",
        "ByAuthor",
    ]
    assert [index["IndexName"] for index in migrated["GlobalSecondaryIndexes"]] == ["ByShard", "ByAuthor"]
    assert {"AttributeName": "entity", "AttributeType": "S"} in migrating["AttributeDefinitions"]
    assert "entity" not in [attribute["AttributeName"] for attribute in migrated["AttributeDefinitions"]]


def test_each_functions_alarm_fires_at_80_percent_of_its_own_timeout(expanded):
    for function in load_app(ROOT / "template.yaml").functions.values():
        name = function.logical_id.removesuffix("Function")
        [failing] = [query for query in expanded[f"{name}Alarm"]["Properties"]["Metrics"] if "Expression" in query]
        expression, variables = failing["Expression"]["Fn::Sub"]
        assert "FILL(slowest, 0) >= ${Limit}" in expression
        assert variables["Limit"] == 800 * function.timeout, (
            function.logical_id
        )  # milliseconds (Fn::FindInMap resolved)


def test_the_unhandled_errors_alarm_sums_the_metric_over_its_exact_dimensions(expanded):
    """apikit.metrics.unhandled_error's dimensions (tests/unit/test_aws_faults.py), in the alarm's query."""
    alarm = expanded["UnhandledErrorsAlarm"]["Properties"]
    [query] = alarm["Metrics"]

    assert query["Expression"] == {
        "Fn::Sub": 'SELECT SUM(UnhandledErrors) FROM SCHEMA("${AWS::StackName}", function, service)'
    }
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert "requests" not in str(alarm)  # no minimum of traffic
