"""The price table: AWS on-demand list prices for us-east-1, in USD, as one typed, checked-in data module.

Where the figures come from: compiled on :data:`COMPILED` by the author of this tool from
their knowledge of AWS's public pricing pages for US East (N. Virginia), as published up to
2025, with a few figures cross-checked against third-party copies of those pages. There was no
internet access when they were written, so none was fetched from AWS: check them with the AWS
Pricing Calculator (https://calculator.aws) before relying on a total, and correct this file
when a figure is off. Free tiers are not applied (they are per account, shared with whatever
else runs there). Prices for other regions are these figures times :data:`REGION_FACTORS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

REGION: Final = "us-east-1"
CURRENCY: Final = "USD"
COMPILED: Final = "2026-12-02"
SOURCE: Final = (
    "AWS on-demand list prices for us-east-1 as known to the compiler (AWS pricing pages up to 2025), "
    "compiled 2026-12-02 without internet access: not fetched from AWS; check them with the AWS Pricing Calculator"
)
HOURS_PER_MONTH: Final = 730.0
"""AWS's own convention for a month of hourly charges (8,760 hours / 12)."""
SECONDS_PER_MONTH: Final = HOURS_PER_MONTH * 3600
DAYS_PER_MONTH: Final = HOURS_PER_MONTH / 24

REGION_FACTORS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "us-east-1": 1.0,
        "us-east-2": 1.0,
        "us-west-2": 1.0,
        "us-west-1": 1.17,
        "ca-central-1": 1.11,
        "eu-west-1": 1.10,
        "eu-west-2": 1.16,
        "eu-central-1": 1.17,
        "eu-north-1": 1.06,
        "ap-southeast-1": 1.24,
        "ap-southeast-2": 1.24,
        "ap-northeast-1": 1.28,
        "sa-east-1": 1.59,
    }
)
"""Approximate ratio of a region's prices to us-east-1's (from EC2 on-demand prices of general-purpose
Graviton instances), applied to every figure; a region not listed is priced as us-east-1, with a note."""


def _frozen(prices: dict[str, float]) -> Mapping[str, float]:
    return MappingProxyType(prices)


SIZE_FACTORS: Final = MappingProxyType(
    {"medium": 0.5, "large": 1.0, "xlarge": 2.0, "2xlarge": 4.0, "4xlarge": 8.0, "8xlarge": 16.0, "12xlarge": 24.0}
)
"""A size's price relative to ``large`` within a family (list prices are linear in size)."""


@dataclass(frozen=True)
class InstancePrices:
    """Hourly prices of instance (or cache node) types: sizes listed one by one, or a family's ``large`` price.

    In the general-purpose, compute and memory families the on-demand price doubles with each size
    (``xlarge`` = 2 x ``large``), so one figure per family prices every size of it.
    """

    by_type: Mapping[str, float]
    large_by_family: Mapping[str, float]

    def hourly(self, instance_type: str) -> float | None:
        """The hourly price of ``instance_type`` (``m7g.large``), or None when the table has no figure for it."""
        if instance_type in self.by_type:
            return self.by_type[instance_type]
        family, _, size = instance_type.rpartition(".")
        if family in self.large_by_family and size in SIZE_FACTORS:
            return self.large_by_family[family] * SIZE_FACTORS[size]
        return None


EC2: Final = InstancePrices(
    by_type=_frozen(
        {
            # Burstable types (unlimited mode by default: CPU above the baseline costs extra, see docs/cost.md).
            **{f"t4g.{s}": p for s, p in {"nano": 0.0042, "micro": 0.0084, "small": 0.0168, "medium": 0.0336}.items()},
            **{f"t4g.{s}": p for s, p in {"large": 0.0672, "xlarge": 0.1344, "2xlarge": 0.2688}.items()},
            **{f"t3.{s}": p for s, p in {"nano": 0.0052, "micro": 0.0104, "small": 0.0208, "medium": 0.0416}.items()},
            **{f"t3.{s}": p for s, p in {"large": 0.0832, "xlarge": 0.1664, "2xlarge": 0.3328}.items()},
            **{f"t3a.{s}": p for s, p in {"micro": 0.0094, "small": 0.0188, "medium": 0.0376, "large": 0.0752}.items()},
        }
    ),
    large_by_family=_frozen(
        {
            "m8g": 0.08976,
            "m7g": 0.0816,
            "m7i": 0.1008,
            "m7a": 0.11592,
            "m6g": 0.077,
            "m6i": 0.096,
            "m6a": 0.0864,
            "m5": 0.096,
            "c8g": 0.07976,
            "c7g": 0.0725,
            "c7i": 0.08925,
            "c6g": 0.068,
            "c6i": 0.085,
            "c5": 0.085,
            "r7g": 0.1071,
            "r7i": 0.1323,
            "r6g": 0.1008,
            "r6i": 0.126,
            "r5": 0.126,
        }
    ),
)
"""EC2 on-demand, Linux, shared tenancy, per instance-hour."""

CACHE_NODES: Final = InstancePrices(
    by_type=_frozen(
        {
            "cache.t4g.micro": 0.016,
            "cache.t4g.small": 0.032,
            "cache.t4g.medium": 0.065,
            "cache.t3.micro": 0.017,
            "cache.t3.small": 0.034,
            "cache.t3.medium": 0.068,
        }
    ),
    large_by_family=_frozen(
        {
            "cache.m7g": 0.158,
            "cache.m6g": 0.149,
            "cache.m5": 0.156,
            "cache.r7g": 0.219,
            "cache.r6g": 0.206,
            "cache.r5": 0.216,
        }
    ),
)
"""ElastiCache node-based clusters, Redis OSS engine, per node-hour; Valkey: :data:`VALKEY_NODE_FACTOR` of it."""
VALKEY_NODE_FACTOR: Final = 0.8
CACHE_SNAPSHOT_GB_MONTH: Final = 0.085
"""Backup storage beyond the one snapshot per cluster that ElastiCache keeps free."""

EBS_GB_MONTH: Final = MappingProxyType(
    {"gp3": 0.08, "gp2": 0.10, "io1": 0.125, "io2": 0.125, "st1": 0.045, "sc1": 0.015}
)
EBS_GP3_FREE_IOPS: Final = 3000
EBS_GP3_IOPS_MONTH: Final = 0.005
EBS_GP3_FREE_MBPS: Final = 125
EBS_GP3_MBPS_MONTH: Final = 0.04
EBS_PIOPS_MONTH: Final = 0.065
"""io1/io2 provisioned IOPS (io2's first tier)."""

AURORA_ACU_HOUR: Final = 0.12
AURORA_ACU_HOUR_IO_OPTIMIZED: Final = 0.156
AURORA_STORAGE_GB_MONTH: Final = 0.10
AURORA_STORAGE_GB_MONTH_IO_OPTIMIZED: Final = 0.225
AURORA_IO_PER_MILLION: Final = 0.20
AURORA_REPLICATED_WRITE_IO_PER_MILLION: Final = 0.20
"""Aurora Global Database: per million write I/Os replicated to each secondary region."""

NAT_GATEWAY_HOUR: Final = 0.045
NAT_GATEWAY_GB: Final = 0.045
PUBLIC_IPV4_HOUR: Final = 0.005
"""Every public IPv4 address, attached or not (Elastic IPs, a load balancer's addresses), since February 2024."""
INTERFACE_ENDPOINT_AZ_HOUR: Final = 0.01
INTERFACE_ENDPOINT_GB: Final = 0.01
INTER_AZ_GB_EACH_WAY: Final = 0.01
"""Data between Availability Zones of a region: charged out of one zone and into the other."""
INTER_REGION_GB: Final = 0.02
INTERNET_OUT_TIERS: Final = ((10_240.0, 0.09), (40_960.0, 0.085), (102_400.0, 0.07), (float("inf"), 0.05))
"""Data transfer out to the internet: (GB in the tier, price per GB), first 10 TB, next 40 TB, next 100 TB, beyond."""

ALB_HOUR: Final = 0.0225
ALB_LCU_HOUR: Final = 0.008
LCU_NEW_CONNECTIONS_PER_S: Final = 25
LCU_ACTIVE_CONNECTIONS_PER_MIN: Final = 3000
LCU_PROCESSED_GB_PER_HOUR: Final = 1.0
LCU_RULE_EVALUATIONS_PER_S: Final = 1000
LCU_FREE_RULES: Final = 10

WAF_WEB_ACL_MONTH: Final = 5.0
WAF_RULE_MONTH: Final = 1.0
WAF_REQUESTS_PER_MILLION: Final = 0.60
WAF_PAID_RULE_GROUPS: Final = MappingProxyType(
    {"AWSManagedRulesBotControlRuleSet": (10.0, 1.0), "AWSManagedRulesATPRuleSet": (10.0, 1.0)}
)
"""AWS managed rule groups with a subscription fee: (USD a month, USD per million requests inspected)."""

CW_CUSTOM_METRIC_MONTH: Final = 0.30
CW_ALARM_METRIC_MONTH: Final = 0.10
CW_HIGH_RESOLUTION_ALARM_METRIC_MONTH: Final = 0.30
CW_COMPOSITE_ALARM_MONTH: Final = 0.50
CW_DASHBOARD_MONTH: Final = 3.0
CW_LOGS_INGEST_GB: Final = 0.50
"""Standard log ingestion; vended logs (VPC flow logs, WAF) cost the same up to 10 TB a month."""
CW_LOGS_STORAGE_GB_MONTH: Final = 0.03
EC2_DETAILED_MONITORING_INSTANCE_MONTH: Final = 2.10
"""Seven metrics at one-minute resolution, billed as custom metrics, per instance."""

KMS_KEY_MONTH: Final = 1.0
KMS_REQUESTS_PER_10K: Final = 0.03
SECRET_MONTH: Final = 0.40
SECRETS_API_CALLS_PER_10K: Final = 0.05
SSM_ADVANCED_PARAMETER_MONTH: Final = 0.05

SQS_REQUESTS_PER_MILLION: Final = 0.40
SQS_FIFO_REQUESTS_PER_MILLION: Final = 0.50
SCHEDULER_INVOCATIONS_PER_MILLION: Final = 1.0

S3_STANDARD_GB_MONTH: Final = 0.023
S3_PUT_PER_1000: Final = 0.005

COGNITO_M2M_CLIENT_MONTH: Final = 6.0
COGNITO_M2M_TOKEN_REQUEST: Final = 0.00225
"""Machine-to-machine pricing (from May 2024): per app client with the client-credentials flow, per token issued."""

ROUTE53_HOSTED_ZONE_MONTH: Final = 0.50
ROUTE53_QUERIES_PER_MILLION: Final = 0.40
ROUTE53_LATENCY_QUERIES_PER_MILLION: Final = 0.60
ROUTE53_HEALTH_CHECK_MONTH: Final = 0.50
"""A health check of an AWS endpoint (a load balancer); each optional feature (HTTPS, string matching, fast
interval, latency measurement) adds :data:`ROUTE53_HEALTH_CHECK_FEATURE_MONTH`."""
ROUTE53_HEALTH_CHECK_FEATURE_MONTH: Final = 1.0

ACM_PRIVATE_CERTIFICATE_MONTH: Final = 0.75
"""Only certificates of a private CA cost anything; public ACM certificates are free."""
