"""The cost tool's catalog: every resource type the stacks create (or are about to) is priced or free with a reason."""

from __future__ import annotations

import pytest
from cost.free import FREE, PRICED_WITH, free_reason
from cost.pricers import PRICERS

ADDED_BY_OTHER_WORK = (
    # issue 11 (edge security)
    "AWS::WAFv2::WebACL",
    "AWS::WAFv2::WebACLAssociation",
    "AWS::WAFv2::LoggingConfiguration",
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolResourceServer",
    "AWS::Cognito::UserPoolClient",
    "AWS::Cognito::UserPoolDomain",
    "AWS::ElasticLoadBalancingV2::ListenerRule",
    "AWS::SecretsManager::Secret",
    # issue 12 (day two)
    "AWS::KMS::Key",
    "AWS::KMS::Alias",
    "AWS::SecretsManager::RotationSchedule",
    "AWS::ElastiCache::User",
    "AWS::ElastiCache::UserGroup",
    "AWS::Lambda::Function",
    "AWS::CloudFormation::CustomResource",
    "Custom::AnyProvider",
    "AWS::SSM::Parameter",
    # issue 13 (two regions)
    "AWS::Route53::RecordSet",
    "AWS::Route53::HealthCheck",
    "AWS::CertificateManager::Certificate",
    "AWS::RDS::GlobalCluster",
)
"""Types the work in progress on the stacks adds: the estimate must know them before that work lands."""


@pytest.mark.parametrize("resource_type", ADDED_BY_OTHER_WORK)
def test_types_being_added_are_priced_or_free_with_a_reason(resource_type: str) -> None:
    assert resource_type in PRICERS or free_reason(resource_type), resource_type


def test_a_type_is_either_priced_or_free_never_both() -> None:
    assert not set(PRICERS) & set(FREE)
    assert not set(PRICERS) & set(PRICED_WITH)
    assert not set(FREE) & set(PRICED_WITH)


def test_an_unknown_type_has_no_reason() -> None:
    assert free_reason("AWS::Foo::Bar") is None
    assert "AWS::Foo::Bar" not in PRICERS


def test_every_free_reason_says_something() -> None:
    for resource_type in (*FREE, *PRICED_WITH, "Custom::X"):
        reason = free_reason(resource_type)
        assert reason, resource_type
        assert len(reason) > 10, resource_type
