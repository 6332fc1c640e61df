"""Check that template.yaml keeps its operational promises as functions and tables are added.

Every function logs to its own log group with the LogRetentionDays retention and has an errors and a throttles
alarm (Fn::ForEach::FunctionOperations makes them: a function missing from its list has neither); every function is
invoked synchronously, as .checkov.yaml's reason for skipping the dead-letter-queue check says; every table has a
throttles alarm, is retained and protected from deletion in prod only; every alarm notifies the alarm topic.
Run with the tools venv. It reads the template as CloudFormation expands it (devserver/template.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from devserver.template import load_template

# Who calls a function and waits for its answer: a failure reaches the caller, so a dead-letter queue (CKV_AWS_116,
# skipped for every function in .checkov.yaml) would receive nothing. HttpApi events; no event is Secrets Manager's
# rotation (it invokes the function itself). Any other source (SQS, S3, a schedule...) invokes asynchronously.
SYNCHRONOUS_EVENTS = {"HttpApi", "Api"}


def refs(value: Any) -> set[str]:
    """Every logical id or parameter named by Ref (or !Ref) anywhere inside value."""
    if isinstance(value, dict):
        found = {value["Ref"]} if isinstance(value.get("Ref"), str) else set()
        for item in value.values():
            found |= refs(item)
        return found
    if isinstance(value, list):
        return set().union(*(refs(item) for item in value)) if value else set()
    return set()


def alarmed_metrics(alarm: dict[str, Any]) -> list[tuple[str, set[str]]]:
    """(metric name, what its dimensions reference) for a plain alarm and for each metric of a metric-math alarm."""
    if "MetricName" in alarm:
        return [(alarm["MetricName"], refs(alarm.get("Dimensions", [])))]
    return [
        (query["MetricStat"]["Metric"]["MetricName"], refs(query["MetricStat"]["Metric"].get("Dimensions", [])))
        for query in alarm.get("Metrics", [])
        if "MetricStat" in query
    ]


def check(template: dict[str, Any]) -> list[str]:
    resources: dict[str, Any] = template["Resources"]
    by_type: dict[str, dict[str, Any]] = {}
    for logical_id, resource in resources.items():
        by_type.setdefault(resource["Type"], {})[logical_id] = resource
    alarms = {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in by_type.get("AWS::CloudWatch::Alarm", {}).items()
    }
    watched = [(name, targets) for alarm in alarms.values() for name, targets in alarmed_metrics(alarm)]
    problems = []

    for logical_id, alarm in alarms.items():
        if "AlarmTopic" not in refs(alarm.get("AlarmActions", [])):
            problems.append(f"{logical_id}: AlarmActions does not notify AlarmTopic")

    for function, resource in by_type.get("AWS::Serverless::Function", {}).items():
        events = resource.get("Properties", {}).get("Events", {})
        for event, spec in events.items():
            if spec.get("Type") not in SYNCHRONOUS_EVENTS:
                problems.append(
                    f"{function}: event {event} ({spec.get('Type')}) invokes it asynchronously; .checkov.yaml skips"
                    " the dead-letter-queue check for every function because none is"
                )
        log_group = refs(resource.get("Properties", {}).get("LoggingConfig", {}).get("LogGroup"))
        group = resources.get(next(iter(log_group), ""), {})
        if group.get("Type") != "AWS::Logs::LogGroup":
            problems.append(
                f"{function}: LoggingConfig.LogGroup is not a !Ref to a log group of this template"
                f" (is {function.removesuffix('Function')} in the list of Fn::ForEach::FunctionOperations?)"
            )
        elif refs(group.get("Properties", {}).get("RetentionInDays")) != {"LogRetentionDays"}:
            problems.append(f"{function}: its log group's RetentionInDays is not !Ref LogRetentionDays")
        for metric in ("Errors", "Throttles", "Duration"):
            if not any(name == metric and function in targets for name, targets in watched):
                problems.append(f"{function}: no alarm on its {metric} metric")

    for table, resource in by_type.get("AWS::DynamoDB::Table", {}).items():
        if not any(name.endswith("ThrottleEvents") and table in targets for name, targets in watched):
            problems.append(f"{table}: no alarm on its ReadThrottleEvents/WriteThrottleEvents")
        for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
            if resource.get(policy) != {"Fn::If": ["IsProd", "Retain", "Delete"]}:
                problems.append(f"{table}: {policy} is not !If [IsProd, Retain, Delete]")
        if resource.get("Properties", {}).get("DeletionProtectionEnabled") != {"Fn::If": ["IsProd", True, False]}:
            problems.append(f"{table}: DeletionProtectionEnabled is not !If [IsProd, true, false]")
    return problems


def main(path: str) -> int:
    _, matches = decode(path)  # cfn-lint's reader: says where a YAML error is
    if matches:
        print(*matches, sep="\n")
        return 1
    template = load_template(path)
    problems = check(template)
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if not problems:
        functions = len([r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"])
        print(
            f"{path}: {functions} functions with log groups and alarms, tables alarmed, retained and protected in prod"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
