"""The internet-facing Application Load Balancer in front of the web fleet."""

from __future__ import annotations

import json
from typing import Final

from aws_cdk import Aws, CfnCondition, CfnMapping, Duration, Fn, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.region_info import RegionInfo
from constructs import Construct

from stacks.constructs.security_group import closed_security_group
from stacks.nag import acknowledge

ACCESS_LOG_DAYS: Final = 90
LOG_DELIVERY_SERVICE: Final = "logdelivery.elasticloadbalancing.amazonaws.com"
NO_ACCOUNT: Final = "none"
TLS_POLICY: Final = elbv2.SslPolicy.RECOMMENDED_TLS
"""ELBSecurityPolicy-TLS13-1-2-2021-06: TLS 1.3, and TLS 1.2 with forward-secret AEAD ciphers only."""
PUBLIC_PATHS: Final = ("/items/*", "/jobs", "/jobs/*", "/healthz")
"""What the load balancer forwards to the web fleet (one rule: at most five values per condition)."""
PUBLIC_PATHS_PRIORITY: Final = 10
NOT_FOUND_BODY: Final = json.dumps(
    {"error": {"code": "not_found", "message": "no such endpoint"}}, separators=(",", ":")
)
"""The API's error envelope (services/api/errors.py), answered by the load balancer for every other path."""


class PublicLoadBalancer(Construct):
    """An ALB that spreads requests with least-outstanding-requests routing over one target group.

    Without ``certificate_arn`` it listens on HTTP (80); with one, on HTTPS (443, a TLS 1.3
    policy) and redirects HTTP to HTTPS. Either listener forwards :data:`PUBLIC_PATHS` only and
    answers everything else with a fixed 404 in the API's error envelope. Its security group
    admits the internet on those listener ports only, it drops invalid header fields, it can be
    protected from deletion, and its access logs go to an encrypted, private, TLS-only bucket
    (S3-managed keys: ALB log delivery does not support KMS). Targets are checked with
    ``GET health_check_path`` on ``target_port``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        target_port: int,
        health_check_path: str,
        certificate_arn: str | None,
        removal_policy: RemovalPolicy,
        deletion_protection: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(ACCESS_LOG_DAYS))],
            removal_policy=removal_policy,
            auto_delete_objects=removal_policy == RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This bucket holds the load balancer's access logs; logging access to the logs would recurse.",
        )
        self.security_group = closed_security_group(
            self, vpc, "Load balancer: the internet on the listener ports, out to the web fleet only"
        )
        acknowledge(
            self.security_group,
            "AwsSolutions-EC23",
            "An internet-facing load balancer accepts any client address, on its listener ports only.",
        )
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            vpc_subnets=subnets,
            internet_facing=True,
            security_group=self.security_group,
            drop_invalid_header_fields=True,
            deletion_protection=deletion_protection,
        )
        self._log_to(self.access_logs)
        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "Targets",
            vpc=vpc,
            port=target_port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.INSTANCE,
            load_balancing_algorithm_type=elbv2.TargetGroupLoadBalancingAlgorithmType.LEAST_OUTSTANDING_REQUESTS,
            deregistration_delay=Duration.seconds(30),
            health_check=elbv2.HealthCheck(
                path=health_check_path,
                healthy_http_codes="200",
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        listener = (
            self._https_listener(certificate_arn)
            if certificate_arn
            else self.load_balancer.add_listener("Http", port=80, protocol=elbv2.ApplicationProtocol.HTTP)
        )
        self.listener = listener
        self._forward_public_paths(listener)

    def _https_listener(self, certificate_arn: str) -> elbv2.ApplicationListener:
        """HTTPS on 443 with the TLS 1.3 policy; port 80 answers only with a redirect to it."""
        listener = self.load_balancer.add_listener(
            "Https",
            port=443,
            protocol=elbv2.ApplicationProtocol.HTTPS,
            certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)],
            ssl_policy=TLS_POLICY,
        )
        self.load_balancer.add_redirect(source_port=80, target_port=443)
        return listener

    def _forward_public_paths(self, listener: elbv2.ApplicationListener) -> None:
        """Forward :data:`PUBLIC_PATHS` to the web fleet; anything else gets a fixed 404 from the ALB itself.

        Operations endpoints (``/metrics``, ``/ring``, ``/docs``, ``/readyz``) stay reachable on the
        instances only, where the CloudWatch agent and operators on Session Manager use them.
        """
        listener.add_action(
            "NotFound",
            action=elbv2.ListenerAction.fixed_response(
                404, content_type="application/json", message_body=NOT_FOUND_BODY
            ),
        )
        listener.add_action(
            "PublicPaths",
            priority=PUBLIC_PATHS_PRIORITY,
            conditions=[elbv2.ListenerCondition.path_patterns(list(PUBLIC_PATHS))],
            action=elbv2.ListenerAction.forward([self.target_group]),
        )

    def _log_to(self, bucket: s3.Bucket) -> None:
        """Turn on access logs without knowing the region at synth time.

        The L2 ``log_access_logs`` needs a concrete region to pick who writes the logs: the
        regional ELB account in regions older than August 2022, the log-delivery service in
        newer ones. Here a mapping of every known region's ELB account and a condition let
        CloudFormation pick at deploy time (in newer regions the account statement names the
        bucket owner itself, which grants nothing new).
        """
        stack = Stack.of(self)
        accounts = CfnMapping(
            self,
            "ElbAccounts",
            mapping={info.name: {"account": info.elbv2_account or NO_ACCOUNT} for info in RegionInfo.regions},
        )
        elb_account = accounts.find_in_map(Aws.REGION, "account")
        has_account = CfnCondition(
            self, "RegionHasElbAccount", expression=Fn.condition_not(Fn.condition_equals(elb_account, NO_ACCOUNT))
        )
        writer = Token.as_string(
            Fn.condition_if(
                has_account.logical_id,
                f"arn:{Aws.PARTITION}:iam::{elb_account}:root",
                f"arn:{Aws.PARTITION}:iam::{stack.account}:root",
            )
        )
        logs_prefix = bucket.arn_for_objects(f"AWSLogs/{stack.account}/*")
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], principals=[iam.ArnPrincipal(writer)], resources=[logs_prefix]
            )
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                principals=[iam.ServicePrincipal(LOG_DELIVERY_SERVICE)],
                resources=[logs_prefix],
            )
        )
        self.load_balancer.set_attribute("access_logs.s3.enabled", "true")
        self.load_balancer.set_attribute("access_logs.s3.bucket", bucket.bucket_name)
        # The load balancer checks that it may write when logging is turned on: policy first.
        policy = bucket.policy
        assert policy is not None, "enforce_ssl and the statements above create the bucket policy"
        self.load_balancer.node.add_dependency(policy)

    @property
    def dns_name(self) -> str:
        """Where clients send their requests."""
        return self.load_balancer.load_balancer_dns_name

    def metric(self, name: str, statistic: str = "Sum") -> cloudwatch.Metric:
        """An AWS/ApplicationELB metric of the load balancer, such as ``RequestCount``."""
        return self.load_balancer.metrics.custom(name, statistic=statistic, period=Duration.minutes(1))

    def target_metric(self, name: str, statistic: str = "Maximum") -> cloudwatch.Metric:
        """An AWS/ApplicationELB metric of the web target group, such as ``UnHealthyHostCount``."""
        # Both dimensions from attributes: the L2 ``metrics`` derives the load balancer's name
        # by splitting the listener ARN, which another stack would have to split as well.
        return cloudwatch.Metric(
            namespace="AWS/ApplicationELB",
            metric_name=name,
            dimensions_map={
                "LoadBalancer": self.load_balancer.load_balancer_full_name,
                "TargetGroup": self.target_group.target_group_full_name,
            },
            statistic=statistic,
            period=Duration.minutes(1),
        )
