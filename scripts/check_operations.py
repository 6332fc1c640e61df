"""Check that template.yaml keeps its operational promises as functions and tables are added.

Every function logs to its own log group with the LogRetentionDays retention and has an errors and a throttles
alarm; every table has a throttles alarm and is retained in prod only; every alarm notifies the alarm topic.
Run with the tools venv (cfn-lint reads the template, short tags and all).
"""

from __future__ import annotations

import sys
from typing import Any

from cfnlint.decode import decode


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
        log_group = refs(resource.get("Properties", {}).get("LoggingConfig", {}).get("LogGroup"))
        group = resources.get(next(iter(log_group), ""), {})
        if group.get("Type") != "AWS::Logs::LogGroup":
            problems.append(f"{function}: LoggingConfig.LogGroup is not a !Ref to a log group of this template")
        elif refs(group.get("Properties", {}).get("RetentionInDays")) != {"LogRetentionDays"}:
            problems.append(f"{function}: its log group's RetentionInDays is not !Ref LogRetentionDays")
        for metric in ("Errors", "Throttles"):
            if not any(name == metric and function in targets for name, targets in watched):
                problems.append(f"{function}: no alarm on its {metric} metric")

    for table, resource in by_type.get("AWS::DynamoDB::Table", {}).items():
        if not any(name.endswith("ThrottleEvents") and table in targets for name, targets in watched):
            problems.append(f"{table}: no alarm on its ReadThrottleEvents/WriteThrottleEvents")
        for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
            if resource.get(policy) != {"Fn::If": ["IsProd", "Retain", "Delete"]}:
                problems.append(f"{table}: {policy} is not !If [IsProd, Retain, Delete]")
    return problems


def main(path: str) -> int:
    template, matches = decode(path)
    if matches or template is None:
        print(*matches, sep="\n")
        return 1
    problems = check(template)
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if not problems:
        functions = len([r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"])
        print(f"{path}: {functions} functions with log groups and alarms, tables alarmed and retained in prod")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
