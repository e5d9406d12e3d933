"""Acknowledging cdk-nag findings: one rule per call, always with the reason it is acceptable here."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept finding ``rule`` (e.g. ``AwsSolutions-S1`` or ``AwsSolutions-IAM5[Action::s3:*]``) on ``scope``.

    The acknowledgement covers ``scope`` and its children; keep ``scope`` as narrow as the finding.
    """
    if not reason.strip():
        raise ValueError(f"acknowledging {rule} needs a reason")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
