"""ObservabilityStack: the alarm set, where alarms go, and the dashboard."""

from __future__ import annotations

import json
from typing import Any, cast

from aws_cdk import CfnElement
from aws_cdk.assertions import Match

from tests.infra.conftest import Synthesized


def _alarms(config: Synthesized) -> dict[str, dict[str, Any]]:
    """Alarm properties by the alarm's name in ``Alarms.alarms`` (``Alb5xxRate``, ``CacheMemory1``, …)."""
    stack = config.deployment.observability
    resources = config.resources("observability", "AWS::CloudWatch::Alarm")
    named = {
        name: resources[stack.get_logical_id(cast(CfnElement, alarm.node.default_child))]["Properties"]
        for name, alarm in stack.alarms.alarms.items()
    }
    assert len(named) == len(resources), "every alarm in the template is one of Alarms.alarms"
    return named


def _metric_names(alarm: dict[str, Any]) -> set[str]:
    if "MetricName" in alarm:
        return {alarm["MetricName"]}
    return {query["MetricStat"]["Metric"]["MetricName"] for query in alarm["Metrics"] if "MetricStat" in query}


def test_the_alarm_set_covers_every_tier(config: Synthesized) -> None:
    alarms = _alarms(config)
    assert set(alarms) == {
        "Alb5xxRate",
        "UnhealthyHosts",
        "WafBlockedRequests",
        "OldestMessageAge",
        "DeadLettersNotEmpty",
        "DatabaseCpu",
        "DatabaseConnections",
        "CacheMemory1",
        "CacheEvictions1",
        "CacheMemory2",
        "CacheEvictions2",
    }
    assert _metric_names(alarms["Alb5xxRate"]) == {
        "RequestCount",
        "HTTPCode_ELB_5XX_Count",
        "HTTPCode_Target_5XX_Count",
    }
    assert _metric_names(alarms["UnhealthyHosts"]) == {"UnHealthyHostCount"}
    assert _metric_names(alarms["WafBlockedRequests"]) == {"BlockedRequests"}
    assert _metric_names(alarms["OldestMessageAge"]) == {"ApproximateAgeOfOldestMessage"}
    assert _metric_names(alarms["DatabaseCpu"]) == {"CPUUtilization"}
    assert _metric_names(alarms["DatabaseConnections"]) == {"DatabaseConnections"}
    assert _metric_names(alarms["CacheMemory1"]) == {"DatabaseMemoryUsagePercentage"}
    assert _metric_names(alarms["CacheEvictions2"]) == {"Evictions"}


def test_dead_letters_alarm_on_the_first_message(dev: Synthesized) -> None:
    alarm = _alarms(dev)["DeadLettersNotEmpty"]
    assert (alarm["MetricName"], alarm["Threshold"], alarm["EvaluationPeriods"]) == (
        "ApproximateNumberOfMessagesVisible",
        1,
        1,
    )
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert "JobQueueDeadLetters" in json.dumps(alarm["Dimensions"])


def test_five_xx_rate_is_a_percentage_of_requests(dev: Synthesized) -> None:
    alarm = _alarms(dev)["Alb5xxRate"]
    expression = next(query for query in alarm["Metrics"] if "Expression" in query)
    assert expression["Expression"] == "IF(requests > 0, 100 * (FILL(elb, 0) + FILL(targets, 0)) / requests, 0)"
    assert expression["ReturnData"] is True
    assert alarm["Threshold"] == 5


def test_thresholds_follow_the_settings(dev: Synthesized, prod: Synthesized) -> None:
    assert (
        _alarms(dev)["DatabaseConnections"]["Threshold"] == dev.deployment.settings.observability.db_connections_alarm
    )
    assert _alarms(prod)["DatabaseConnections"]["Threshold"] > _alarms(dev)["DatabaseConnections"]["Threshold"]
    assert _alarms(dev)["OldestMessageAge"]["Threshold"] == 600


def test_cache_alarms_watch_each_member(dev: Synthesized) -> None:
    alarms = _alarms(dev)
    members = [json.dumps(alarms[f"CacheMemory{number}"]["Dimensions"]) for number in (1, 2)]
    assert '"-", ' in members[0]
    assert '"001"' in members[0]
    assert '"002"' in members[1]


def test_every_alarm_notifies_the_topic_on_alarm_and_ok(config: Synthesized) -> None:
    topic = next(iter(config.resources("observability", "AWS::SNS::Topic")))
    for name, alarm in _alarms(config).items():
        assert alarm["AlarmActions"] == [{"Ref": topic}], name
        assert alarm["OKActions"] == [{"Ref": topic}], name
        assert alarm["TreatMissingData"] == "notBreaching", name


def test_alarm_topic_is_encrypted_tls_only_and_usable_by_cloudwatch(config: Synthesized) -> None:
    template = config.template("observability")
    key = next(iter(config.resources("observability", "AWS::KMS::Key")))
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key, "Arn"]}})
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    key_policy = json.dumps(config.only("observability", "AWS::KMS::Key")["KeyPolicy"])
    assert "cloudwatch.amazonaws.com" in key_policy
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": Match.object_like(
                {
                    "Statement": Match.array_with(
                        [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                    )
                }
            )
        },
    )


def test_alarm_email_is_subscribed_when_given(dev: Synthesized, mysql: Synthesized) -> None:
    dev.template("observability").resource_count_is("AWS::SNS::Subscription", 0)
    mysql.template("observability").has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )


def test_dashboard_shows_traffic_fleets_queue_and_data(dev: Synthesized) -> None:
    body = json.dumps(dev.only("observability", "AWS::CloudWatch::Dashboard")["DashboardBody"])
    for metric in (
        "RequestCount",
        "TargetResponseTime",
        "HTTPCode_ELB_5XX_Count",
        "HTTPCode_Target_5XX_Count",
        "HealthyHostCount",
        "GroupInServiceInstances",
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
        "CPUUtilization",
        "DatabaseConnections",
        "ServerlessDatabaseCapacity",
        "DatabaseMemoryUsagePercentage",
        "Evictions",
    ):
        assert metric in body, metric
    for title in ("Alarms", "ALB latency", "Fleet sizes", "Dead-letter queue depth", "Aurora", "Cache"):
        assert title in body, title
