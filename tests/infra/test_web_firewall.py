"""WebFirewall: the AWS WAF web ACL on the load balancer, its rules, logs, alarm and dashboard graph."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template

from stacks.constructs.web_firewall import MANAGED_GROUPS, RATE_RULE, WebFirewall
from stacks.settings import WafSettings, load_settings
from tests.infra.conftest import Synthesized

ACL = "AWS::WAFv2::WebACL"
ALL_ON = load_settings({"stage": "dev"}).waf


def _isolated(settings: WafSettings) -> dict[str, Any]:
    """The web ACL's properties when the firewall is built alone, for ``settings``."""
    stack = cdk.Stack(cdk.App(), "Firewall")
    WebFirewall(
        stack,
        "Firewall",
        settings=settings,
        load_balancer_arn="arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/x/1",
        stage="dev",
        log_retention=logs.RetentionDays.ONE_WEEK,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    (acl,) = Template.from_stack(stack).find_resources(ACL).values()
    properties: dict[str, Any] = acl["Properties"]
    return properties


def _rules(properties: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["Name"]: rule for rule in properties["Rules"]}


def test_defaults_turn_on_the_managed_groups_and_the_rate_rule() -> None:
    assert (ALL_ON.common_rules, ALL_ON.known_bad_inputs, ALL_ON.ip_reputation, ALL_ON.rate_rule) == (
        True,
        True,
        True,
        True,
    )
    assert ALL_ON.rate_limit == 1000
    assert load_settings({"stage": "prod", "wafRateLimit": "250"}).waf.rate_limit == 250


@pytest.mark.parametrize(
    ("setting", "rule"),
    [
        ("common_rules", "AWSManagedRulesCommonRuleSet"),
        ("known_bad_inputs", "AWSManagedRulesKnownBadInputsRuleSet"),
        ("ip_reputation", "AWSManagedRulesAmazonIpReputationList"),
        ("rate_rule", RATE_RULE),
    ],
)
def test_each_rule_can_be_turned_off_alone(setting: str, rule: str) -> None:
    rules = _rules(_isolated(dataclasses.replace(ALL_ON, **{setting: False})))
    everything = {group.name for group in MANAGED_GROUPS} | {RATE_RULE}
    assert set(rules) == everything - {rule}


def test_the_context_keys_reach_the_settings() -> None:
    waf = load_settings(
        {"wafCommonRules": "false", "wafKnownBadInputs": "false", "wafIpReputation": "false", "wafRateRule": "false"}
    ).waf
    assert not (waf.common_rules)
    assert not (waf.known_bad_inputs)
    assert not (waf.ip_reputation)
    assert not (waf.rate_rule)
    assert _isolated(waf)["Rules"] == []


def test_the_web_acl_is_associated_with_the_load_balancer(config: Synthesized) -> None:
    acl = config.only("compute", ACL)
    assert acl["Scope"] == "REGIONAL"
    assert acl["DefaultAction"] == {"Allow": {}}
    (acl_id,) = config.resources("compute", ACL)
    (load_balancer_id,) = config.resources("compute", "AWS::ElasticLoadBalancingV2::LoadBalancer")
    association = config.only("compute", "AWS::WAFv2::WebACLAssociation")
    assert association == {"ResourceArn": {"Ref": load_balancer_id}, "WebACLArn": {"Fn::GetAtt": [acl_id, "Arn"]}}


def test_rate_rule_blocks_per_client_ip_and_managed_groups_are_present(prod: Synthesized) -> None:
    rules = _rules(prod.only("compute", ACL))
    rate = rules[RATE_RULE]
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "IP",
        "Limit": prod.deployment.settings.waf.rate_limit,
        "EvaluationWindowSec": 300,
    }
    for group in MANAGED_GROUPS:
        statement = rules[group.name]["Statement"]["ManagedRuleGroupStatement"]
        assert statement["VendorName"] == "AWS"
        assert statement["Name"] == group.name
        assert rules[group.name]["OverrideAction"] == {"None": {}}
    common = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert common["RuleActionOverrides"] == [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]
    priorities = [rule["Priority"] for rule in rules.values()]
    assert len(set(priorities)) == len(priorities)
    assert all(rule["VisibilityConfig"]["CloudWatchMetricsEnabled"] for rule in rules.values())


def test_logs_go_to_a_unique_aws_waf_logs_group_with_retention_and_redacted_tokens(
    dev: Synthesized, prod: Synthesized
) -> None:
    for config, days in ((dev, 7), (prod, 90)):
        groups = {
            logical_id: resource
            for logical_id, resource in config.resources("compute", "AWS::Logs::LogGroup").items()
            if logical_id.startswith("FirewallLogs")
        }
        ((group_id, group),) = groups.items()
        name = json.dumps(group["Properties"]["LogGroupName"])
        assert "aws-waf-logs-scaledref-" in name
        assert "AWS::StackId" in name, "unique per stack"
        assert group["Properties"]["RetentionInDays"] == days
        logging = config.only("compute", "AWS::WAFv2::LoggingConfiguration")
        assert group_id in json.dumps(logging["LogDestinationConfigs"])
        assert ":*" not in json.dumps(logging["LogDestinationConfigs"])
        assert logging["RedactedFields"] == [
            {"SingleHeader": {"Name": "authorization"}},
            {"SingleHeader": {"Name": "cookie"}},
        ]


def test_blocked_request_spikes_alarm_and_are_on_the_dashboard(prod: Synthesized) -> None:
    alarms = prod.resources("observability", "AWS::CloudWatch::Alarm")
    (blocked,) = [
        alarm["Properties"] for alarm in alarms.values() if alarm["Properties"].get("MetricName") == "BlockedRequests"
    ]
    assert blocked["Namespace"] == "AWS/WAFV2"
    assert blocked["Threshold"] == prod.deployment.settings.waf.blocked_alarm_requests
    assert blocked["Period"] == 300
    assert blocked["Statistic"] == "Sum"
    assert blocked["AlarmActions"], "notifies the alarm topic"
    body = json.dumps(prod.only("observability", "AWS::CloudWatch::Dashboard")["DashboardBody"])
    assert "WAF requests" in body
    assert "BlockedRequests" in body
    assert "AllowedRequests" in body
