"""AWS WAF in front of the load balancer: managed rule groups, a per-client rate limit, logs and metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aws_cdk import ArnFormat, Aws, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from stacks.settings import WafSettings

LOG_GROUP_PREFIX: Final = "aws-waf-logs-"
"""WAF delivers logs only to log groups whose name starts with this."""
RATE_WINDOW_SECONDS: Final = 300
REDACTED_HEADERS: Final = ("authorization", "cookie")
"""Never written to the WAF logs: callers' bearer tokens and any session cookie."""


@dataclass(frozen=True)
class ManagedGroup:
    """An AWS managed rule group: its name, the setting that turns it on, and rules only counted, not blocked."""

    name: str
    enabled_by: str
    count_only: tuple[str, ...] = ()


MANAGED_GROUPS: Final = (
    ManagedGroup("AWSManagedRulesAmazonIpReputationList", "ip_reputation"),
    ManagedGroup("AWSManagedRulesKnownBadInputsRuleSet", "known_bad_inputs"),
    # The API takes bodies up to API_MAX_BODY_BYTES (1 MiB) and answers larger ones with 413
    # itself; the group's 8 KB body limit would block legitimate item writes.
    ManagedGroup("AWSManagedRulesCommonRuleSet", "common_rules", count_only=("SizeRestrictions_BODY",)),
)
"""In evaluation order, after the rate rule: the cheapest verdicts (known bad addresses) first."""
RATE_RULE: Final = "RatePerClientIp"


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


class WebFirewall(Construct):
    """A regional WAF v2 web ACL associated with ``load_balancer_arn``; requests no rule blocks are allowed.

    Rules (each can be turned off in :class:`~stacks.settings.WafSettings`): a rate-based rule that
    blocks a client IP above ``rate_limit`` requests in any 5 minutes, then the AWS managed groups
    of :data:`MANAGED_GROUPS`. Logs go to a log group named ``aws-waf-logs-scaledref-<stage>-<stack
    UUID>`` (unique per stack, so a retained group never blocks a redeploy), with the
    ``Authorization`` and ``Cookie`` headers redacted. Every rule and the ACL publish CloudWatch
    metrics (namespace ``AWS/WAFV2``): see :meth:`metric`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: WafSettings,
        load_balancer_arn: str,
        stage: str,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        # A fixed name, as the fleets' group names: the metrics' WebACL dimension needs it, and a
        # name computed from the ACL's Ref would reach the observability stack as an expression.
        self.acl_name = f"ScaledRef-{stage}-web-acl"
        self.acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=self.acl_name,
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(self.acl_name),
            description=f"In front of the ScaledRef {stage} load balancer",
            rules=self._rules(),
        )
        self.association = wafv2.CfnWebACLAssociation(
            self, "Association", resource_arn=load_balancer_arn, web_acl_arn=self.acl.attr_arn
        )
        stack_uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"{LOG_GROUP_PREFIX}scaledref-{stage}-{stack_uuid}",
            retention=log_retention,
            removal_policy=removal_policy,
        )
        # WAF wants the log group's ARN without the trailing ":*" that LogGroup.log_group_arn has.
        log_group_arn = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name=self.log_group.log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.acl.attr_arn,
            log_destination_configs=[log_group_arn],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": header})
                for header in REDACTED_HEADERS
            ],
        )

    def _rules(self) -> list[wafv2.CfnWebACL.RuleProperty]:
        rules = []
        if self.settings.rate_rule:
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name=RATE_RULE,
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            aggregate_key_type="IP",
                            limit=self.settings.rate_limit,
                            evaluation_window_sec=RATE_WINDOW_SECONDS,
                        )
                    ),
                    visibility_config=_visibility(RATE_RULE),
                )
            )
        for priority, group in enumerate(MANAGED_GROUPS, start=1):
            if not getattr(self.settings, group.enabled_by):
                continue
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name=group.name,
                    priority=priority,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS",
                            name=group.name,
                            rule_action_overrides=[
                                wafv2.CfnWebACL.RuleActionOverrideProperty(
                                    name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                                )
                                for rule in group.count_only
                            ]
                            or None,
                        )
                    ),
                    visibility_config=_visibility(group.name),
                )
            )
        return rules

    def metric(self, name: str, rule: str = "ALL") -> cloudwatch.Metric:
        """An AWS/WAFV2 metric (``AllowedRequests``, ``BlockedRequests`` …) of ``rule``, summed per 5 minutes."""
        return cloudwatch.Metric(
            namespace="AWS/WAFV2",
            metric_name=name,
            dimensions_map={"WebACL": self.acl_name, "Region": Aws.REGION, "Rule": rule},
            statistic="Sum",
            period=Duration.minutes(5),
        )
