"""KMS keys, Secrets Manager secrets, and SSM parameters of the Advanced tier."""

from __future__ import annotations

from typing import Final

from cost import prices
from cost.deployment import Deployment, Pricer
from cost.model import Line, Resource, line, qty


def kms_key(key: Resource, deployment: Deployment) -> list[Line]:
    """A customer managed key and its requests (each yearly rotation adds $1 a month, for the first two)."""
    requests = deployment.assumptions.kms_requests_per_key
    rotation = (
        "; rotated yearly: +$1/month after each of the first two rotations" if key.get("EnableKeyRotation") else ""
    )
    return [
        line(
            key,
            "security",
            f"customer managed key + {qty(requests)} requests{rotation}",
            prices.KMS_KEY_MONTH + requests / 1e4 * prices.KMS_REQUESTS_PER_10K,
        )
    ]


def kms_replica_key(key: Resource, deployment: Deployment) -> list[Line]:
    """A multi-Region replica key is billed as a key of its own."""
    return kms_key(key, deployment)


def secret(resource: Resource, deployment: Deployment) -> list[Line]:
    """A secret and its API calls."""
    calls = deployment.assumptions.secret_calls_per_secret
    return [
        line(
            resource,
            "security",
            f"secret + {qty(calls)} API calls",
            prices.SECRET_MONTH + calls / 1e4 * prices.SECRETS_API_CALLS_PER_10K,
        )
    ]


def parameter(resource: Resource, deployment: Deployment) -> list[Line]:
    """Standard parameters are free; an Advanced one is billed by the month."""
    if resource.get("Tier") == "Advanced":
        return [line(resource, "security", "Advanced-tier parameter", prices.SSM_ADVANCED_PARAMETER_MONTH)]
    return [line(resource, "security", "standard parameter: free", 0.0)]


PRICERS: Final[dict[str, list[Pricer]]] = {
    "AWS::KMS::Key": [kms_key],
    "AWS::KMS::ReplicaKey": [kms_replica_key],
    "AWS::SecretsManager::Secret": [secret],
    "AWS::SSM::Parameter": [parameter],
}
