"""Resource types the estimate does not price, each with the reason: free, or priced on another resource's line.

A type found in neither :data:`FREE` nor :data:`PRICED_WITH` nor the pricers (:mod:`cost.pricers`)
is reported as unpriced, and the coverage test (tests/infra/test_cost.py) fails: a new
kind of resource gets a price or a reason before it lands.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

_NETWORK_PLUMBING = "VPC plumbing has no charge of its own"
_IAM = "IAM is free"

FREE: Final[Mapping[str, str]] = MappingProxyType(
    {
        "AWS::CDK::Metadata": "CDK's version report, not a resource",
        "AWS::CloudFormation::CustomResource": "a deploy-time hook; its Lambda function is listed on its own",
        "AWS::CloudFormation::WaitConditionHandle": "CloudFormation bookkeeping",
        "AWS::IAM::Role": _IAM,
        "AWS::IAM::Policy": _IAM,
        "AWS::IAM::ManagedPolicy": _IAM,
        "AWS::IAM::InstanceProfile": _IAM,
        "AWS::EC2::VPC": _NETWORK_PLUMBING,
        "AWS::EC2::Subnet": _NETWORK_PLUMBING,
        "AWS::EC2::RouteTable": _NETWORK_PLUMBING,
        "AWS::EC2::Route": _NETWORK_PLUMBING,
        "AWS::EC2::SubnetRouteTableAssociation": _NETWORK_PLUMBING,
        "AWS::EC2::InternetGateway": "an internet gateway is free; data out is priced on the load balancer",
        "AWS::EC2::VPCGatewayAttachment": _NETWORK_PLUMBING,
        "AWS::EC2::NetworkAcl": _NETWORK_PLUMBING,
        "AWS::EC2::NetworkAclEntry": _NETWORK_PLUMBING,
        "AWS::EC2::SubnetNetworkAclAssociation": _NETWORK_PLUMBING,
        "AWS::EC2::SecurityGroup": "security groups are free",
        "AWS::EC2::SecurityGroupIngress": "security group rules are free",
        "AWS::EC2::SecurityGroupEgress": "security group rules are free",
        "AWS::AutoScaling::LifecycleHook": "Auto Scaling itself is free",
        "AWS::AutoScaling::ScalingPolicy": "Auto Scaling itself is free (its alarms are CloudWatch's, created by AWS)",
        "AWS::ElasticLoadBalancingV2::Listener": "listeners are part of the load balancer's hourly price",
        "AWS::ElasticLoadBalancingV2::TargetGroup": "target groups are part of the load balancer's hourly price",
        "AWS::ElasticLoadBalancingV2::ListenerRule": (
            "rules are free; beyond 10 per listener they add LCUs (priced there)"
        ),
        "AWS::WAFv2::WebACLAssociation": "associating a web ACL is free",
        "AWS::RDS::DBSubnetGroup": "database plumbing is free",
        "AWS::RDS::DBClusterParameterGroup": "parameter groups are free",
        "AWS::RDS::DBParameterGroup": "parameter groups are free",
        "AWS::ElastiCache::SubnetGroup": "cache plumbing is free",
        "AWS::ElastiCache::ParameterGroup": "parameter groups are free",
        "AWS::ElastiCache::User": "RBAC users are free",
        "AWS::ElastiCache::UserGroup": "RBAC user groups are free",
        "AWS::SecretsManager::RotationSchedule": (
            "rotation runs a Lambda function a few times a month (always-free tier)"
        ),
        "AWS::SecretsManager::SecretTargetAttachment": "attaching a secret is free",
        "AWS::SecretsManager::ResourcePolicy": "resource policies are free",
        "AWS::Serverless::Application": "the hosted rotation function: a Lambda function invoked on each rotation",
        "AWS::KMS::Alias": "aliases are free",
        "AWS::Lambda::Function": (
            "custom resources and rotation: invoked on deploys and rotations only, within Lambda's always-free "
            "tier (1M requests and 400,000 GB-seconds a month)"
        ),
        "AWS::Lambda::Permission": "permissions are free",
        "AWS::Lambda::LayerVersion": "a deploy-time layer; its storage is negligible",
        "AWS::Logs::ResourcePolicy": "resource policies are free",
        "AWS::SNS::Topic": (
            "alarm notifications: a few hundred publishes a month, inside SNS's always-free 1M publishes "
            "and 1,000 e-mails"
        ),
        "AWS::SNS::TopicPolicy": "topic policies are free",
        "AWS::SNS::Subscription": "e-mail subscriptions are free up to 1,000 e-mails a month (always-free tier)",
        "AWS::SQS::QueuePolicy": "queue policies are free",
        "AWS::S3::BucketPolicy": "bucket policies are free",
        "AWS::Scheduler::ScheduleGroup": "schedule groups are free",
        "AWS::Events::Rule": "rules are free; events from AWS services and schedules cost nothing",
        "AWS::Cognito::UserPool": (
            "no user ever signs in (machine-to-machine only): monthly active users are what a pool costs, "
            "and there are none; the app clients are priced"
        ),
        "AWS::Cognito::UserPoolResourceServer": "resource servers (scopes) are free",
        "AWS::Cognito::UserPoolDomain": "the Cognito-hosted domain is free",
    }
)
"""Types that cost nothing here, with the reason. Types with a free and a paid variant (public and private
certificates, standard and advanced parameters) have a pricer, whose line says which one it is."""

PRICED_WITH: Final[Mapping[str, str]] = MappingProxyType(
    {
        "AWS::EC2::LaunchTemplate": "its Auto Scaling group (instances, volumes, detailed monitoring)",
        "AWS::AutoScaling::LaunchConfiguration": "its Auto Scaling group",
        "AWS::AutoScaling::ScheduledAction": "its Auto Scaling group (the time it holds the group larger)",
    }
)
"""Types whose cost appears on another resource's line."""

CUSTOM_PREFIX: Final = "Custom::"
CUSTOM_REASON: Final = "a deploy-time custom resource; its Lambda function is listed on its own"


def free_reason(resource_type: str) -> str | None:
    """Why ``resource_type`` has no line of its own, or None when it must be priced."""
    if resource_type.startswith(CUSTOM_PREFIX):
        return CUSTOM_REASON
    return FREE.get(resource_type) or (
        f"priced with {PRICED_WITH[resource_type]}" if resource_type in PRICED_WITH else None
    )
