"""scripts/check_operations.py in `make test`: template.yaml's per-function log groups and alarms, synchronous events
and tables' alarms and policies, checked with the .venv alone (no cfn-lint), each problem at the line to change.

Before, only `make validate` ran it, so a function added without its name in Fn::ForEach::FunctionOperations passed
`make test` and failed CI later.
"""

from __future__ import annotations

import sys

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import check_operations  # a script: found once its directory is on the path

# One function, one table and the loop, shaped as template.yaml's: the line numbers below are this text's.
TEMPLATE = """\
Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]
Parameters:
  LogRetentionDays: {Type: Number, Default: 30}
Conditions:
  IsProd: !Equals [!Ref AWS::StackName, prod]
Resources:
  AlarmTopic:
    Type: AWS::SNS::Topic
  GreetFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/greet/
      LoggingConfig: {LogGroup: !Ref GreetLogGroup}
      Events:
        Get: {Type: HttpApi, Properties: {Path: /api/greet, Method: GET}}
  ItemsTable:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: !If [IsProd, Retain, Delete]
    UpdateReplacePolicy: !If [IsProd, Retain, Delete]
    Properties:
      DeletionProtectionEnabled: !If [IsProd, true, false]
  ItemsTableThrottlesAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmActions: [!Ref AlarmTopic]
      MetricName: ReadThrottleEvents
      Dimensions: [{Name: TableName, Value: !Ref ItemsTable}]
  Fn::ForEach::FunctionOperations:
    - Name
    - [Greet]
    - ${Name}LogGroup:
        Type: AWS::Logs::LogGroup
        Properties:
          RetentionInDays: !Ref LogRetentionDays
      ${Name}Alarm:
        Type: AWS::CloudWatch::Alarm
        Properties:
          AlarmActions: [!Ref AlarmTopic]
          Metrics:
            - MetricStat: {Metric: {MetricName: Errors, Dimensions: [{Value: {Ref: !Sub "${Name}Function"}}]}}
            - MetricStat: {Metric: {MetricName: Throttles, Dimensions: [{Value: {Ref: !Sub "${Name}Function"}}]}}
            - MetricStat: {Metric: {MetricName: Duration, Dimensions: [{Value: {Ref: !Sub "${Name}Function"}}]}}
"""

NEW_FUNCTION = """\
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/hello/
      LoggingConfig: {LogGroup: !Ref HelloLogGroup}
"""


def problems(tmp_path, monkeypatch, old: str = "", new: str = "") -> list[str]:
    """check_operations.check on TEMPLATE with `old` replaced by `new`, named template.yaml as `make validate` does."""
    assert old in TEMPLATE
    (tmp_path / "template.yaml").write_text(TEMPLATE.replace(old, new, 1))
    monkeypatch.chdir(tmp_path)
    return check_operations.check("template.yaml")


def test_template_yaml_keeps_its_operational_promises():
    assert check_operations.check(ROOT / "template.yaml") == []


def test_the_template_as_written_passes(tmp_path, monkeypatch):
    assert problems(tmp_path, monkeypatch) == []


def test_a_function_missing_from_the_loops_list_is_one_problem_at_the_list(tmp_path, monkeypatch):
    """The issue's case: the function's block alone; its log group and alarm are not made, and that is one fix."""
    found = problems(tmp_path, monkeypatch, "  ItemsTable:\n", NEW_FUNCTION + "  ItemsTable:\n")

    assert found == [
        "template.yaml:35: add Hello to the list of Fn::ForEach::FunctionOperations (its log group and alarms)"
    ]


def test_a_function_missing_from_template_yamls_own_list_is_found_at_that_list(tmp_path, monkeypatch):
    text = (ROOT / "template.yaml").read_text()
    [line] = [number for number, row in enumerate(text.splitlines(), 1) if "Health, Docs, " in row]
    (tmp_path / "template.yaml").write_text(text.replace("Health, Docs, ", "Docs, ", 1))
    monkeypatch.chdir(tmp_path)

    assert check_operations.check("template.yaml") == [
        f"template.yaml:{line}: add Health to the list of Fn::ForEach::FunctionOperations (its log group and alarms)"
    ]


def test_a_function_without_its_log_group_is_found_at_its_logging_config(tmp_path, monkeypatch):
    found = problems(tmp_path, monkeypatch, "      LoggingConfig: {LogGroup: !Ref GreetLogGroup}\n")

    assert found == [
        "template.yaml:11: GreetFunction: LoggingConfig.LogGroup is not a !Ref to a log group of this template"
        " (LoggingConfig: {LogGroup: !Ref GreetLogGroup})"
    ]


def test_an_asynchronous_event_is_found_at_the_event(tmp_path, monkeypatch):
    found = problems(
        tmp_path,
        monkeypatch,
        "        Get: {",
        "        Nightly: {Type: Schedule, Properties: {Schedule: rate(1 day)}}\n        Get: {",
    )

    assert found == [
        "template.yaml:15: GreetFunction: event Nightly (Schedule) invokes it asynchronously; .checkov.yaml skips"
        " the dead-letter-queue check for every function because none is"
    ]


def test_a_problem_in_the_loops_body_is_said_once_at_its_line(tmp_path, monkeypatch):
    found = problems(tmp_path, monkeypatch, "          AlarmActions: [!Ref AlarmTopic]\n", "")
    found += problems(tmp_path, monkeypatch, "RetentionInDays: !Ref LogRetentionDays", "RetentionInDays: 7")
    found += problems(tmp_path, monkeypatch, "MetricName: Throttles", "MetricName: ConcurrentExecutions")

    assert found == [
        "template.yaml:37: ${Name}Alarm: AlarmActions does not notify AlarmTopic",
        "template.yaml:34: ${Name}LogGroup: RetentionInDays is not !Ref LogRetentionDays",
        "template.yaml:39: ${Name}Alarm: no alarm on GreetFunction's Throttles metric",
    ]


def test_a_tables_missing_alarm_and_policies_are_found_at_the_table(tmp_path, monkeypatch):
    found = problems(tmp_path, monkeypatch, "Value: !Ref ItemsTable", "Value: !Ref Other")
    found += problems(tmp_path, monkeypatch, "    UpdateReplacePolicy: !If [IsProd, Retain, Delete]\n")
    found += problems(tmp_path, monkeypatch, "[IsProd, true, false]", "true")

    assert found == [
        "template.yaml:16: ItemsTable: no alarm on its ReadThrottleEvents/WriteThrottleEvents: add"
        " ItemsTableThrottlesAlarm",
        "template.yaml:16: ItemsTable: UpdateReplacePolicy is not !If [IsProd, Retain, Delete]",
        "template.yaml:21: ItemsTable: DeletionProtectionEnabled is not !If [IsProd, true, false]",
    ]


def test_the_script_runs_without_cfn_lint_and_exits_1_with_its_problems(tmp_path, monkeypatch, capsys):
    """`make test` has no cfn-lint: its reader is only for `make validate`, which runs cfn-lint first anyway."""
    problems(tmp_path, monkeypatch, "    - [Greet]", "    - [Greeter]")
    monkeypatch.setitem(sys.modules, "cfnlint", None)  # as in a .venv without it

    assert check_operations.main("template.yaml") == 1
    assert capsys.readouterr().err == (
        "template.yaml:30: add Greet to the list of Fn::ForEach::FunctionOperations (its log group and alarms)\n"
    )
