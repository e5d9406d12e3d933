"""S3 buckets: what the load balancer's access logs put there, kept as long as the bucket's lifecycle keeps them."""

from __future__ import annotations

from typing import Final

from cost import prices
from cost.deployment import Deployment, Pricer, referenced_ids
from cost.model import Line, Resource, line, qty

KEPT_FOREVER_DAYS: Final = 365
"""Objects without an expiration are priced at one year's worth."""
LOG_DELIVERIES_PER_HOUR: Final = 12
"""A load balancer delivers an access-log file from each of its zones every 5 minutes."""


def _access_logs_of(bucket: Resource, deployment: Deployment) -> list[Resource]:
    return [
        balancer
        for balancer in deployment.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer")
        if balancer.stack == bucket.stack
        and any(
            attribute.get("Key") == "access_logs.s3.bucket"
            and bucket.logical_id in referenced_ids(attribute.get("Value"))
            for attribute in balancer.get("LoadBalancerAttributes") or []
        )
    ]


def _expiration_days(bucket: Resource) -> float:
    rules = (bucket.get("LifecycleConfiguration") or {}).get("Rules") or []
    days = [
        float(rule["ExpirationInDays"])
        for rule in rules
        if rule.get("Status") == "Enabled" and "ExpirationInDays" in rule
    ]
    return min(days, default=KEPT_FOREVER_DAYS)


def bucket(resource: Resource, deployment: Deployment) -> list[Line]:
    """Access-log storage and deliveries; a bucket nothing known writes to is listed at nothing."""
    balancers = _access_logs_of(resource, deployment)
    if not balancers:
        return [line(resource, "storage", "no writer known to the estimate: nothing priced", 0.0)]
    a = deployment.assumptions
    gb_month = a.requests_per_month * deployment.share(resource.region) * a.alb_log_bytes_per_request / 1e9
    days = _expiration_days(resource)
    stored = gb_month * days / prices.DAYS_PER_MONTH
    zones = sum(len(b.get("Subnets") or []) for b in balancers)
    puts = zones * LOG_DELIVERIES_PER_HOUR * prices.HOURS_PER_MONTH
    return [
        line(
            resource,
            "storage",
            f"load balancer access logs: {qty(gb_month)} GB/month kept {qty(days)} d ({qty(stored)} GB),"
            f" {qty(puts)} PUTs",
            stored * prices.S3_STANDARD_GB_MONTH + puts / 1000 * prices.S3_PUT_PER_1000,
        )
    ]


PRICERS: Final[dict[str, list[Pricer]]] = {"AWS::S3::Bucket": [bucket]}
