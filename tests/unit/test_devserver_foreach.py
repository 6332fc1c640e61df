"""Fn::ForEach as the AWS::LanguageExtensions transform expands it, so the dev server, the tests and the scripts read
the resources CloudFormation will create. Each case follows the documented semantics:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-foreach.html
"""

from __future__ import annotations

from typing import Any

import pytest

from devserver.template import TemplateError, expand_foreach, load_app, load_template


def template(resources: dict[str, Any], **sections: Any) -> dict[str, Any]:
    return {"Transform": ["AWS::LanguageExtensions"], "Resources": resources, **sections}


def test_a_list_collection_repeats_the_body_with_the_identifier_in_keys_strings_and_sub():
    loop = {
        "Fn::ForEach::Groups": [
            "Name",
            ["Health", "Docs"],
            {
                "${Name}LogGroup": {
                    "Type": "AWS::Logs::LogGroup",
                    "Properties": {
                        "LogGroupName": {"Fn::Sub": "/aws/lambda/${AWS::StackName}/${Name}Function"},
                        "Tags": [{"Key": "function", "Value": {"Ref": "Name"}}],
                    },
                }
            },
        ]
    }

    resources = expand_foreach(template(loop))["Resources"]

    assert list(resources) == ["HealthLogGroup", "DocsLogGroup"]
    assert resources["DocsLogGroup"]["Properties"] == {
        "LogGroupName": {"Fn::Sub": "/aws/lambda/${AWS::StackName}/DocsFunction"},
        "Tags": [{"Key": "function", "Value": "Docs"}],
    }


def test_a_logical_id_built_with_sub_inside_ref_or_getatt_becomes_a_plain_reference():
    body = {
        "${Name}Alarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": {"Fn::Sub": "${Name}Function"}}}],
                "AlarmActions": [{"Fn::GetAtt": [{"Fn::Sub": "${Name}Topic"}, "TopicArn"]}],
                "AlarmName": {"Fn::Sub": "${AWS::StackName} ${Name}"},  # still a Sub: it has more to substitute
            },
        }
    }

    alarm = expand_foreach(template({"Fn::ForEach::Alarms": ["Name", ["Health"], body]}))["Resources"]["HealthAlarm"]

    assert alarm["Properties"] == {
        "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": "HealthFunction"}}],
        "AlarmActions": [{"Fn::GetAtt": ["HealthTopic", "TopicArn"]}],
        "AlarmName": {"Fn::Sub": "${AWS::StackName} Health"},
    }


def test_ampersand_strips_what_a_logical_id_cannot_hold():
    loop = [
        "Origin",
        ["https://a.example", "10.0.0.1"],
        {"Rule&{Origin}": {"Type": "T", "Properties": {"V": "${Origin}"}}},
    ]

    resources = expand_foreach(template({"Fn::ForEach::Rules": loop}))["Resources"]

    assert resources == {
        "Rulehttpsaexample": {"Type": "T", "Properties": {"V": "https://a.example"}},
        "Rule10001": {"Type": "T", "Properties": {"V": "10.0.0.1"}},
    }


def test_a_ref_to_a_comma_delimited_list_parameter_takes_its_override_or_default():
    loaded = template(
        {"Fn::ForEach::Queues": ["Name", {"Ref": "QueueNames"}, {"${Name}Queue": {"Type": "AWS::SQS::Queue"}}]},
        Parameters={"QueueNames": {"Type": "CommaDelimitedList", "Default": "Orders, Mail"}},
    )

    assert list(expand_foreach(loaded)["Resources"]) == ["OrdersQueue", "MailQueue"]
    assert list(expand_foreach(loaded, {"QueueNames": "Audit"})["Resources"]) == ["AuditQueue"]


def test_nested_loops_and_loops_in_conditions_outputs_and_properties():
    inner = {"Fn::ForEach::Metrics": ["Metric", ["Errors", "Throttles"], {"${Name}${Metric}Alarm": {"Type": "A"}}]}
    loaded = template(
        {
            "Fn::ForEach::Functions": ["Name", ["Health", "Docs"], inner],
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"Fn::ForEach::Tags": ["Key", ["A"], {"Tag${Key}": {"Ref": "Key"}}]},
            },
        },
        Conditions={"Fn::ForEach::Is": ["Env", ["dev", "prod"], {"Is${Env}": {"Fn::Equals": ["${Env}", "x"]}}]},
        Outputs={"Fn::ForEach::Out": ["Name", ["Health"], {"${Name}Out": {"Value": {"Ref": "${Name}Function"}}}]},
    )

    expanded = expand_foreach(loaded)

    assert list(expanded["Resources"]) == [
        "HealthErrorsAlarm",
        "HealthThrottlesAlarm",
        "DocsErrorsAlarm",
        "DocsThrottlesAlarm",
        "Bucket",
    ]
    assert expanded["Resources"]["Bucket"]["Properties"] == {"TagA": "A"}
    assert expanded["Conditions"] == {"Isdev": {"Fn::Equals": ["dev", "x"]}, "Isprod": {"Fn::Equals": ["prod", "x"]}}
    assert expanded["Outputs"] == {"HealthOut": {"Value": {"Ref": "HealthFunction"}}}


def test_a_template_without_loops_is_returned_as_it_is():
    plain = template({"Table": {"Type": "AWS::DynamoDB::Table"}})

    assert expand_foreach(plain) is plain


@pytest.mark.parametrize(
    ("loop", "message"),
    [
        ({"Fn::ForEach::L": ["Name", ["A"]]}, r"Fn::ForEach::L: takes a list of three"),
        (
            {"Fn::ForEach::L": ["Name", {"Fn::FindInMap": ["M", "K", "V"]}, {"${Name}X": {}}]},
            r"Fn::ForEach::L: a collection given by Fn::FindInMap is not supported",
        ),
        (
            {"Fn::ForEach::L": ["Name", {"Fn::GetAtt": ["R", "A"]}, {"${Name}X": {}}]},
            r"a collection given by Fn::GetAtt is not supported",
        ),
        ({"Fn::ForEach::L": ["Name", {"Ref": "Nope"}, {"${Name}X": {}}]}, r"must Ref a CommaDelimitedList"),
        ({"Fn::ForEach::L": ["Name", [{"a": 1}], {"${Name}X": {}}]}, r"items must be strings"),
        ({"Fn::ForEach::L": ["Name", ["A", "B"], {"Fixed": {}}]}, r"output key 'Fixed' must contain \$\{Name\}"),
        ({"Fn::ForEach::L": ["Name", ["A", "A"], {"${Name}X": {}}]}, r"produces 'AX' twice"),
        ({"Fn::ForEach::L": ["Name", ["A"], {"${Name}X": {}}], "AX": {}}, r"'AX'.* already in the template"),
        ({"Fn::ForEach::L": ["my-id", ["A"], {"${my-id}X": {}}]}, r"identifier must be an alphanumeric string"),
    ],
)
def test_what_cannot_be_expanded_is_an_error_naming_the_loop(loop, message):
    with pytest.raises(TemplateError, match=message):
        expand_foreach(template(loop))


def test_a_loop_outside_conditions_resources_and_outputs_is_refused():
    with pytest.raises(TemplateError, match="not allowed in Mappings"):
        expand_foreach(template({}, Mappings={"Fn::ForEach::M": ["X", ["a"], {"${X}": {}}]}))


def test_the_dev_server_reports_an_unsupported_loop_as_a_template_error(tmp_path):
    (tmp_path / "template.yaml").write_text(
        "Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]\n"
        "Resources:\n"
        "  Fn::ForEach::Functions:\n"
        "    - Name\n"
        "    - !Split [',', 'a,b']\n"
        "    - ${Name}Function: {Type: AWS::Serverless::Function, Properties: {CodeUri: fn/}}\n"
    )

    with pytest.raises(TemplateError, match="Fn::ForEach::Functions: a collection given by Fn::Split is not supported"):
        load_app(tmp_path / "template.yaml")


def test_functions_made_by_a_loop_are_served(tmp_path):
    (tmp_path / "template.yaml").write_text(
        "Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]\n"
        "Parameters: {Names: {Type: CommaDelimitedList, Default: 'hello,bye'}}\n"
        "Resources:\n"
        "  Fn::ForEach::Functions:\n"
        "    - Name\n"
        "    - !Ref Names\n"
        "    - Fn&{Name}:\n"
        "        Type: AWS::Serverless::Function\n"
        "        Properties:\n"
        "          CodeUri: functions/${Name}/\n"
        "          Handler: app.handler\n"
        "          Runtime: python3.13\n"
        "          Events: {Get: {Type: HttpApi, Properties: {Path: '/${Name}', Method: GET}}}\n"
    )

    app = load_app(tmp_path / "template.yaml", {"Names": "hello"})

    assert list(app.functions) == ["Fnhello"]
    assert app.functions["Fnhello"].code_dir == tmp_path / "functions/hello"
    assert [(route.method, route.path, route.function) for route in app.routes] == [("GET", "/hello", "Fnhello")]
    assert set(load_template(tmp_path / "template.yaml")["Resources"]) == {"Fnhello", "Fnbye"}


def test_find_in_map_in_a_loop_takes_the_entry_or_its_default_value():
    """The DefaultValue enhancement, which AWS::LanguageExtensions resolves:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-findinmap-enhancements.html
    """
    lookup = {"Fn::FindInMap": ["Descriptions", "${Name}", "Errors", {"DefaultValue": "usual"}]}
    keyed_by_parameter = {"Fn::FindInMap": ["Descriptions", {"Ref": "Stage"}, "Errors"]}
    loaded = template(
        {"Fn::ForEach::A": ["Name", ["Health", "Stripe"], {"${Name}A": {"D": lookup, "P": keyed_by_parameter}}]},
        Mappings={"Descriptions": {"Stripe": {"Errors": "Stripe retries"}}},
    )

    resources = expand_foreach(loaded)["Resources"]

    assert (resources["HealthA"]["D"], resources["StripeA"]["D"]) == ("usual", "Stripe retries")
    assert resources["HealthA"]["P"] == keyed_by_parameter  # known only at deploy time: left to CloudFormation


def test_find_in_map_without_an_entry_or_a_default_is_an_error():
    loop = ["Name", ["Health"], {"${Name}A": {"D": {"Fn::FindInMap": ["M", "${Name}", "Errors"]}}}]

    with pytest.raises(TemplateError, match=r"Fn::FindInMap \['M', 'Health', 'Errors'\]: no such entry"):
        expand_foreach(template({"Fn::ForEach::A": loop}, Mappings={"M": {}}))
