"""Pinned logical IDs of the stateful resources: a refactor that renames them would replace them.

CloudFormation replaces a resource whose logical ID changes — for these that means a new,
empty database, cache or queue. If this test fails, the change is not a refactor: keep the
construct IDs, or plan a migration.
"""

from __future__ import annotations

from tests.infra.conftest import Synthesized

PINNED = {
    "network": {"NetworkVpc7FB7348F": "AWS::EC2::VPC"},
    "data": {
        "DatabaseCluster5B53A178": "AWS::RDS::DBCluster",
        "DatabaseClusterWriterD43085C6": "AWS::RDS::DBInstance",
        "DatabaseClusterReader1D8B76102": "AWS::RDS::DBInstance",
        "DatabaseClusterSubnets5540150D": "AWS::RDS::DBSubnetGroup",
        "CacheReplicationGroupBFE59FF3": "AWS::ElastiCache::ReplicationGroup",
        "CacheSubnetGroup355C216D": "AWS::ElastiCache::SubnetGroup",
        "CacheAuthToken04672416": "AWS::SecretsManager::Secret",
    },
    "messaging": {
        "JobQueueJobs138FC659": "AWS::SQS::Queue",
        "JobQueueDeadLettersF6ABABE2": "AWS::SQS::Queue",
    },
}


def test_stateful_resources_keep_their_logical_ids(config: Synthesized) -> None:
    for part, pinned in PINNED.items():
        found = {
            logical_id: resource["Type"]
            for logical_id, resource in config.templates[part]["Resources"].items()
            if resource["Type"] in pinned.values()
        }
        assert found == pinned, f"{part}: stateful resources renamed (they would be replaced)"


def test_the_cluster_keeps_its_identifier(config: Synthesized) -> None:
    # The identifier is fixed (it names the log groups), so changing it replaces the cluster too.
    stage = config.deployment.settings.stage
    assert config.only("data", "AWS::RDS::DBCluster")["DBClusterIdentifier"] == f"scaledref-{stage}-data-aurora"
