"""DataStack: Aurora (both engines) and ElastiCache (both engines), encrypted, authenticated, protected in prod."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from tests.infra.conftest import Synthesized


def test_aurora_postgres_is_encrypted_rotated_and_serverless(dev: Synthesized) -> None:
    dev.template("data").has_resource_properties(
        "AWS::RDS::DBCluster",
        {
            "Engine": "aurora-postgresql",
            "Port": 5433,
            "StorageEncrypted": True,
            "ManageMasterUserPassword": True,
            "EnableIAMDatabaseAuthentication": True,
            "ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": 2},
            "BackupRetentionPeriod": 1,
            "DeletionProtection": False,
            "EnableCloudwatchLogsExports": ["postgresql"],
        },
    )
    assert "MasterUserPassword" not in dev.only("data", "AWS::RDS::DBCluster"), "the password stays in RDS"


def test_aurora_mysql_is_selectable(mysql: Synthesized) -> None:
    mysql.template("data").has_resource_properties(
        "AWS::RDS::DBCluster",
        {"Engine": "aurora-mysql", "Port": 3307, "StorageEncrypted": True, "ManageMasterUserPassword": True},
    )
    instances = mysql.resources("data", "AWS::RDS::DBInstance").values()
    assert {instance["Properties"]["Engine"] for instance in instances} == {"aurora-mysql"}


def test_aurora_refuses_connections_without_tls(dev: Synthesized, mysql: Synthesized) -> None:
    for config, parameters in ((dev, {"rds.force_ssl": "1"}), (mysql, {"require_secure_transport": "ON"})):
        assert config.only("data", "AWS::RDS::DBClusterParameterGroup")["Parameters"] == parameters
        (group_id,) = config.resources("data", "AWS::RDS::DBClusterParameterGroup")
        cluster = config.only("data", "AWS::RDS::DBCluster")
        assert cluster["DBClusterParameterGroupName"] == {"Ref": group_id}


def test_writer_and_reader_sit_in_different_zones(config: Synthesized) -> None:
    instances = sorted(
        (instance["Properties"]["PromotionTier"], instance["Properties"]["AvailabilityZone"]["Fn::Select"][0])
        for instance in config.resources("data", "AWS::RDS::DBInstance").values()
    )
    assert instances == [(0, 0), (1, 1)], "writer in zone 0; the reader, which follows its capacity, in zone 1"
    for instance in config.resources("data", "AWS::RDS::DBInstance").values():
        assert instance["Properties"]["DBInstanceClass"] == "db.serverless"


def test_prod_protects_the_database(dev: Synthesized, prod: Synthesized) -> None:
    prod.template("data").has_resource(
        "AWS::RDS::DBCluster",
        {
            "Properties": Match.object_like({"DeletionProtection": True, "BackupRetentionPeriod": 7}),
            "DeletionPolicy": "Snapshot",
            "UpdateReplacePolicy": "Snapshot",
        },
    )
    dev.template("data").has_resource("AWS::RDS::DBCluster", {"DeletionPolicy": "Delete"})


def test_database_log_groups_exist_before_the_cluster(config: Synthesized) -> None:
    stage = config.deployment.settings.stage
    log_groups = config.resources("data", "AWS::Logs::LogGroup")
    names = {group["Properties"]["LogGroupName"] for group in log_groups.values()}
    exports = config.only("data", "AWS::RDS::DBCluster")["EnableCloudwatchLogsExports"]
    assert names == {f"/aws/rds/cluster/scaledref-{stage}-data-aurora/{export}" for export in exports}
    cluster = next(iter(config.resources("data", "AWS::RDS::DBCluster").values()))
    assert set(log_groups) <= set(cluster["DependsOn"])


def test_cache_is_encrypted_authenticated_and_on_a_custom_port(config: Synthesized) -> None:
    group = config.only("data", "AWS::ElastiCache::ReplicationGroup")
    assert group["AtRestEncryptionEnabled"] is True
    assert group["TransitEncryptionEnabled"] is True
    assert group["TransitEncryptionMode"] == "required"
    assert group["Port"] == 6380
    secret = next(iter(config.resources("data", "AWS::SecretsManager::Secret")))
    assert group["AuthToken"] == {
        "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": secret}, ":SecretString:::}}"]]
    }, "the token is a dynamic reference, never a literal"
    config.template("data").has_resource_properties(
        "AWS::SecretsManager::Secret",
        {"GenerateSecretString": Match.object_like({"ExcludePunctuation": True, "PasswordLength": 64})},
    )


def test_cache_has_a_replica_failover_and_multi_az_in_prod(dev: Synthesized, prod: Synthesized) -> None:
    for config, multi_az, retention in ((dev, False, 1), (prod, True, 7)):
        group = config.only("data", "AWS::ElastiCache::ReplicationGroup")
        assert group["NumCacheClusters"] == 2
        assert group["AutomaticFailoverEnabled"] is True
        assert group["MultiAZEnabled"] is multi_az
        assert group["SnapshotRetentionLimit"] == retention
    prod.template("data").has_resource("AWS::ElastiCache::ReplicationGroup", {"DeletionPolicy": "Snapshot"})


def test_cache_engine_is_selectable(dev: Synthesized, mysql: Synthesized) -> None:
    assert dev.only("data", "AWS::ElastiCache::ReplicationGroup")["Engine"] == "redis"
    assert mysql.only("data", "AWS::ElastiCache::ReplicationGroup")["Engine"] == "valkey"


def test_data_lives_in_isolated_subnets_behind_closed_security_groups(config: Synthesized) -> None:
    for group in config.resources("data", "AWS::EC2::SecurityGroup").values():
        properties = group["Properties"]
        assert "SecurityGroupIngress" not in properties, "inbound rules come from the fleets, port by port"
        assert properties["SecurityGroupEgress"] == [
            {
                "CidrIp": "255.255.255.255/32",
                "Description": "Disallow all traffic",
                "FromPort": 252,
                "IpProtocol": "icmp",
                "ToPort": 86,
            }
        ]
    subnet_outputs = json.dumps(config.only("data", "AWS::ElastiCache::SubnetGroup")["SubnetIds"])
    assert "dataSubnet" in subnet_outputs
    assert "appSubnet" not in subnet_outputs


def test_prod_keeps_the_cache_token_and_the_database_logs(dev: Synthesized, prod: Synthesized) -> None:
    for config, policy in ((dev, "Delete"), (prod, "Retain")):
        for resource_type in ("AWS::SecretsManager::Secret", "AWS::Logs::LogGroup"):
            resources = config.resources("data", resource_type).values()
            assert {resource["DeletionPolicy"] for resource in resources} == {policy}, (config.name, resource_type)
