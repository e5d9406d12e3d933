"""boto3 clients configured for the job pipeline: short connect timeouts, bounded retries.

``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_SQS``) is honoured by boto3 itself, which is how
the local system and the tests point the services at moto. The region comes from the usual
environment or config; failing that, from the queue URL (``https://sqs.<region>.amazonaws.com/...``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

_REGION_IN_URL = re.compile(r"^https://sqs[.-]([a-z0-9-]+)\.amazonaws\.com", re.IGNORECASE)


def region_for(queue_url: str | None) -> str | None:
    """The region the session resolves, else the one named in an AWS queue URL, else None."""
    configured = boto3.session.Session().region_name
    if configured:
        return configured
    match = _REGION_IN_URL.match(queue_url or "")
    return match.group(1) if match else None


def sqs_client(
    *,
    queue_url: str | None = None,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    read_timeout: float = 30.0,
    connect_timeout: float = 3.0,
    max_attempts: int = 3,
    max_pool_connections: int = 10,
) -> SQSClient:
    """An SQS client. ``read_timeout`` must exceed the long-poll wait (20 s) for a consumer.

    ``session`` and ``endpoint_url`` replace what the environment says (credentials, region,
    endpoint): the DLQ tool uses them to reach the local system's moto server.
    """
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        max_pool_connections=max_pool_connections,
    )
    if session is None:
        return boto3.client("sqs", region_name=region_for(queue_url), endpoint_url=endpoint_url, config=config)
    region = session.region_name or region_for(queue_url)
    return session.client("sqs", region_name=region, endpoint_url=endpoint_url, config=config)
