"""ElastiCache: node-hours of each replication group (type x (1 + replicas) per shard), snapshots, Global Datastore."""

from __future__ import annotations

from typing import Final

from cost import prices
from cost.deployment import Deployment, Pricer
from cost.model import CostError, Line, Resource, line, qty


def node_count(group: Resource) -> int:
    """Nodes of a replication group: its cache clusters, or shards x (1 + replicas per shard)."""
    if group.get("NumCacheClusters") is not None:
        return int(group.number("NumCacheClusters"))
    shards = group.get("NodeGroupConfiguration")
    if shards:
        return sum(1 + int(shard.get("ReplicaCount", group.get("ReplicasPerNodeGroup", 0))) for shard in shards)
    return int(group.number("NumNodeGroups", 1)) * (1 + int(group.number("ReplicasPerNodeGroup", 0)))


def replication_group(group: Resource, deployment: Deployment) -> list[Line]:
    """The nodes, and the snapshots kept beyond the one ElastiCache stores free."""
    node_type = str(group.get("CacheNodeType"))
    hourly = prices.CACHE_NODES.hourly(node_type)
    if hourly is None:
        raise CostError(f"{group.label}: no price for the cache node type {node_type} in scripts/cost/prices.py")
    engine = str(group.get("Engine", "redis")).lower()
    if engine == "valkey":
        hourly *= prices.VALKEY_NODE_FACTOR
    nodes = node_count(group)
    month = nodes * hourly * prices.HOURS_PER_MONTH
    lines = [line(group, "cache", f"{nodes} x {node_type} ({engine}) at ${hourly:.4g}/h", month)]
    retained = int(group.number("SnapshotRetentionLimit", 0))
    if retained > 1:
        gb = (retained - 1) * deployment.assumptions.cache_data_gb
        lines.append(
            line(
                group,
                "cache",
                f"{retained} daily snapshots, {qty(gb)} GB beyond the free one",
                gb * prices.CACHE_SNAPSHOT_GB_MONTH,
            )
        )
    return lines


def global_replication_group(resource: Resource, deployment: Deployment) -> list[Line]:
    """Cache writes (item writes and fills after database reads) replicated to each secondary region."""
    a = deployment.assumptions
    secondaries = max(0, len(resource.get("Members") or []) - 1)
    writes = a.requests_per_month * (a.write_share + (1 - a.write_share) * a.db_read_share)
    gb = writes * a.avg_response_kb / 1e6 * secondaries
    return [
        line(
            resource, "cache", f"{qty(gb)} GB/month replicated to {secondaries} region(s)", gb * prices.INTER_REGION_GB
        )
    ]


PRICERS: Final[dict[str, list[Pricer]]] = {
    "AWS::ElastiCache::ReplicationGroup": [replication_group],
    "AWS::ElastiCache::GlobalReplicationGroup": [global_replication_group],
}
