"""Aurora: Serverless v2 capacity per instance, the cluster's storage and I/O, and Global Database replication.

Each ``db.serverless`` instance bills the ACUs it runs at, between the cluster's minimum and
maximum (readers in promotion tiers 0-1 follow the writer's capacity). The baseline is every
instance at the minimum, the ceiling every instance at the maximum. I/O comes from the traffic:
reads that get past both caches, item writes, and each job's own writes.
"""

from __future__ import annotations

from typing import Final

from cost import prices
from cost.deployment import Deployment, Pricer, render
from cost.logs import database_log_gb
from cost.model import CostError, Line, Resource, line, qty

IO_OPTIMIZED: Final = "aurora-iopt1"


def db_instance(instance: Resource, deployment: Deployment) -> list[Line]:
    """An instance of a Serverless v2 cluster: its ACU-hours (and enhanced monitoring's log volume)."""
    if instance.get("DBInstanceClass") != "db.serverless":
        raise CostError(
            f"{instance.label}: only Aurora Serverless v2 instances (db.serverless) are priced, "
            f"not {instance.get('DBInstanceClass')!r}"
        )
    cluster = deployment.target(instance, instance.get("DBClusterIdentifier"))
    if cluster is None:
        raise CostError(f"{instance.label}: its DB cluster is not in the same stack")
    scaling = cluster.get("ServerlessV2ScalingConfiguration") or {}
    low, high = float(scaling.get("MinCapacity", 0.5)), float(scaling.get("MaxCapacity", 1))
    optimized = cluster.get("StorageType") == IO_OPTIMIZED
    acu_hour = prices.AURORA_ACU_HOUR_IO_OPTIMIZED if optimized else prices.AURORA_ACU_HOUR
    per_acu = acu_hour * prices.HOURS_PER_MONTH
    lines = [
        line(
            instance,
            "database",
            f"Serverless v2 {qty(low)}-{qty(high)} ACU at ${acu_hour}/ACU-h: at {qty(low)} ACU, ceiling {qty(high)}",
            low * per_acu,
            high * per_acu,
        )
    ]
    interval = float(instance.get("MonitoringInterval", 0) or 0)
    if interval > 0:
        gb = prices.SECONDS_PER_MONTH / interval * deployment.assumptions.em_kb_per_sample / 1e6
        lines.append(
            line(
                instance,
                "observability",
                f"enhanced monitoring every {qty(interval)} s: {qty(gb)} GB/month of logs",
                gb * prices.CW_LOGS_INGEST_GB,
            )
        )
    return lines


def is_secondary(cluster: Resource) -> bool:
    """A Global Database's secondary cluster: it joins a global cluster and has no credentials of its own."""
    return bool(cluster.get("GlobalClusterIdentifier")) and not (
        cluster.get("MasterUsername") or cluster.get("SnapshotIdentifier")
    )


def write_ios_per_month(deployment: Deployment) -> float:
    """Write I/Os a month of the whole deployment: item writes and jobs."""
    a = deployment.assumptions
    return a.requests_per_month * a.write_share * a.db_write_ios_per_write + a.jobs_per_month * a.db_ios_per_job


def db_cluster(cluster: Resource, deployment: Deployment) -> list[Line]:
    """Storage, I/O, the secret RDS manages for the master user, and exported logs without a log group of the stack."""
    if not str(cluster.get("Engine", "")).startswith("aurora"):
        raise CostError(f"{cluster.label}: only Aurora clusters are priced, not engine {cluster.get('Engine')!r}")
    if cluster.get("EngineMode", "provisioned") != "provisioned":
        raise CostError(f"{cluster.label}: engine mode {cluster.get('EngineMode')!r} (Serverless v1) is not priced")
    a = deployment.assumptions
    share = deployment.share(cluster.region)
    reads = a.requests_per_month * share * (1 - a.write_share) * a.db_read_share * a.db_read_ios_per_read
    if is_secondary(cluster):
        writes, role = 0.0, "secondary (writes replicate from the primary)"
    elif cluster.get("GlobalClusterIdentifier"):
        writes, role = write_ios_per_month(deployment), "primary (every region's writes)"
    else:
        writes, role = write_ios_per_month(deployment) * share, ""
    optimized = cluster.get("StorageType") == IO_OPTIMIZED
    storage_price = prices.AURORA_STORAGE_GB_MONTH_IO_OPTIMIZED if optimized else prices.AURORA_STORAGE_GB_MONTH
    io_price = 0.0 if optimized else prices.AURORA_IO_PER_MILLION
    ios = reads + writes
    lines = [
        line(
            cluster,
            "database",
            f"storage {qty(a.db_storage_gb)} GB{', ' + role if role else ''}",
            a.db_storage_gb * storage_price,
        ),
        line(
            cluster,
            "database",
            f"{qty(ios / 1e6)} M I/Os a month{' (I/O-Optimized: included)' if optimized else ''}",
            ios / 1e6 * io_price,
        ),
    ]
    if cluster.get("ManageMasterUserPassword") in (True, "true"):
        month = prices.SECRET_MONTH + a.secret_calls_per_secret / 1e4 * prices.SECRETS_API_CALLS_PER_10K
        lines.append(line(cluster, "security", "master user secret managed by RDS (Secrets Manager)", month))
    exports = len(cluster.get("EnableCloudwatchLogsExports") or [])
    in_stack = sum(
        render(group.get("LogGroupName", "")).startswith("/aws/rds/")
        for group in deployment.of_type("AWS::Logs::LogGroup")
        if group.stack == cluster.stack
    )
    if exports > in_stack:
        gb = (exports - in_stack) * database_log_gb(deployment)
        lines.append(
            line(
                cluster,
                "observability",
                f"{qty(gb)} GB/month of exported logs, ingestion",
                gb * prices.CW_LOGS_INGEST_GB,
            )
        )
    return lines


def global_cluster(resource: Resource, deployment: Deployment) -> list[Line]:
    """Write I/Os replicated to each secondary region."""
    clusters = [c for c in deployment.of_type("AWS::RDS::DBCluster") if c.get("GlobalClusterIdentifier")]
    secondaries = sum(is_secondary(c) for c in clusters)
    if resource.get("SourceDBClusterIdentifier") and not any(not is_secondary(c) for c in clusters):
        secondaries = len(clusters)
    replicated = write_ios_per_month(deployment) * secondaries
    return [
        line(
            resource,
            "database",
            f"{qty(replicated / 1e6)} M replicated write I/Os a month to {secondaries} secondary region(s)",
            replicated / 1e6 * prices.AURORA_REPLICATED_WRITE_IO_PER_MILLION,
        )
    ]


PRICERS: Final[dict[str, list[Pricer]]] = {
    "AWS::RDS::DBInstance": [db_instance],
    "AWS::RDS::DBCluster": [db_cluster],
    "AWS::RDS::GlobalCluster": [global_cluster],
}
