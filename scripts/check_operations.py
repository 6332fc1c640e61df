"""Check that template.yaml keeps its operational promises as functions and tables are added.

Every function logs to its own log group with the LogRetentionDays retention and has an errors and a throttles
alarm (Fn::ForEach::FunctionOperations makes them: a function missing from its list has neither); every function is
invoked synchronously, as .checkov.yaml's reason for skipping the dead-letter-queue check says; every table has a
throttles alarm, is retained and protected from deletion in prod only; every alarm notifies the alarm topic.
It reads the template as CloudFormation expands it (devserver/template.py), and says each problem as
`template.yaml:<line>: <what to change>`. tests/unit/test_check_operations.py runs it in `make test`, `make validate`
with the tools venv.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from devserver.template import (
    FOREACH_PREFIX,
    expand_foreach,
    load_template,
    read_template,
    resources_of_type,
    template_lines,
)

OPERATIONS = "Fn::ForEach::FunctionOperations"  # every function's log group and alarm

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


class Lines:
    """Where to change a resource of the expanded template: its own block, or the Fn::ForEach body that made it."""

    def __init__(self, path: str | Path, written: dict[str, Any]) -> None:
        self.path = path
        self.lines = template_lines(path)
        self.origins: dict[str, tuple[str | int, ...]] = {}  # output key pattern -> its path in the loop
        for key, loop in (written.get("Resources") or {}).items():
            if str(key).startswith(FOREACH_PREFIX) and isinstance(loop, list) and len(loop) == 3:
                identifier, _, body = loop
                for output_key in body if isinstance(body, dict) else {}:
                    placeholder = re.escape(f"${{{identifier}}}") + "|" + re.escape(f"&{{{identifier}}}")
                    pattern = "".join(
                        "[A-Za-z0-9]+" if re.fullmatch(placeholder, part) else re.escape(part)
                        for part in re.split(f"({placeholder})", output_key)
                    )
                    self.origins[pattern] = ("Resources", key, 2, output_key)

    def origin(self, logical_id: str) -> tuple[str | int, ...]:
        for pattern, where in self.origins.items():
            if re.fullmatch(pattern, logical_id):
                return where
        return ("Resources", logical_id)

    def name(self, logical_id: str) -> str:
        """The logical id, or the loop's output key (`${Name}Alarm`) for what a loop made: one problem, one line."""
        return str(self.origin(logical_id)[-1])

    def at(self, where: tuple[str | int, ...], message: str) -> str:
        """`<file>:<line>: message`, at `where` or, when that key is not written, the nearest key that is."""
        while where and where not in self.lines:
            where = where[:-1]
        return f"{self.path}:{self.lines.get(where, 1)}: {message}"

    def of(self, logical_id: str, *keys: str | int) -> tuple[str | int, ...]:
        return (*self.origin(logical_id), *keys)


def check(path: str | Path) -> list[str]:
    """The problems of the template at path, each naming the line to change."""
    written = read_template(path)
    template = expand_foreach(written)
    lines = Lines(path, written)
    resources: dict[str, Any] = template["Resources"]
    by_type: dict[str, dict[str, Any]] = {}
    for logical_id, resource in resources.items():
        by_type.setdefault(resource["Type"], {})[logical_id] = resource
    alarms = {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in by_type.get("AWS::CloudWatch::Alarm", {}).items()
    }
    watched = [(metric, targets) for alarm in alarms.values() for metric, targets in alarmed_metrics(alarm)]
    operations = (written.get("Resources") or {}).get(OPERATIONS)
    listed = operations[1] if isinstance(operations, list) and len(operations) == 3 else []
    problems = []

    for logical_id, alarm in alarms.items():
        if "AlarmTopic" not in refs(alarm.get("AlarmActions", [])):
            problems.append(
                lines.at(
                    lines.of(logical_id, "Properties", "AlarmActions"),
                    f"{lines.name(logical_id)}: AlarmActions does not notify AlarmTopic",
                )
            )

    for function, resource in by_type.get("AWS::Serverless::Function", {}).items():
        properties = resource.get("Properties", {})
        for event, spec in properties.get("Events", {}).items():
            if spec.get("Type") not in SYNCHRONOUS_EVENTS:
                problems.append(
                    lines.at(
                        lines.of(function, "Properties", "Events", event),
                        f"{function}: event {event} ({spec.get('Type')}) invokes it asynchronously; .checkov.yaml"
                        " skips the dead-letter-queue check for every function because none is",
                    )
                )
        name = function.removesuffix("Function")
        if isinstance(listed, list) and name not in listed:
            problems.append(
                lines.at(
                    ("Resources", OPERATIONS, 1), f"add {name} to the list of {OPERATIONS} (its log group and alarms)"
                )
            )
            continue
        log_group = refs(properties.get("LoggingConfig", {}).get("LogGroup"))
        group_id = next(iter(log_group), "")
        group = resources.get(group_id, {})
        if group.get("Type") != "AWS::Logs::LogGroup":
            problems.append(
                lines.at(
                    lines.of(function, "Properties", "LoggingConfig"),
                    f"{function}: LoggingConfig.LogGroup is not a !Ref to a log group of this template"
                    f" (LoggingConfig: {{LogGroup: !Ref {name}LogGroup}})",
                )
            )
        elif refs(group.get("Properties", {}).get("RetentionInDays")) != {"LogRetentionDays"}:
            problems.append(
                lines.at(
                    lines.of(group_id, "Properties", "RetentionInDays"),
                    f"{lines.name(group_id)}: RetentionInDays is not !Ref LogRetentionDays",
                )
            )
        for metric in ("Errors", "Throttles", "Duration"):
            if not any(watched_name == metric and function in targets for watched_name, targets in watched):
                alarm = f"{name}Alarm" if f"{name}Alarm" in resources else function
                problems.append(
                    lines.at(
                        lines.of(alarm, "Properties", "Metrics"),
                        f"{lines.name(alarm)}: no alarm on {function}'s {metric} metric",
                    )
                )

    for table, resource in by_type.get("AWS::DynamoDB::Table", {}).items():
        if not any(metric.endswith("ThrottleEvents") and table in targets for metric, targets in watched):
            problems.append(
                lines.at(
                    lines.of(table),
                    f"{table}: no alarm on its ReadThrottleEvents/WriteThrottleEvents: add {table}ThrottlesAlarm",
                )
            )
        for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
            if resource.get(policy) != {"Fn::If": ["IsProd", "Retain", "Delete"]}:
                problems.append(
                    lines.at(lines.of(table, policy), f"{table}: {policy} is not !If [IsProd, Retain, Delete]")
                )
        if resource.get("Properties", {}).get("DeletionProtectionEnabled") != {"Fn::If": ["IsProd", True, False]}:
            problems.append(
                lines.at(
                    lines.of(table, "Properties", "DeletionProtectionEnabled"),
                    f"{table}: DeletionProtectionEnabled is not !If [IsProd, true, false]",
                )
            )
    return list(dict.fromkeys(problems))  # a loop's body read once per item says each of its problems once


def main(path: str) -> int:
    try:  # the tools venv (make validate): cfn-lint's reader says where a YAML error is, duplicate keys included
        from cfnlint.decode import decode
    except ImportError:  # .venv (make test): PyYAML's error names the line too
        pass
    else:
        _, matches = decode(path)
        if matches:
            print(*matches, sep="\n")
            return 1
    problems = check(path)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        functions = len(resources_of_type(load_template(path), "AWS::Serverless::Function"))
        print(
            f"{path}: {functions} functions with log groups and alarms, tables alarmed, retained and protected in prod"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
