"""The cost tool's arithmetic on tiny templates: every expected figure is worked out by hand from the price table.

730 hours and 2,628,000 seconds make a month; 30.4167 days.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cost.assumptions import Assumptions
from cost.deployment import Deployment, Stack
from cost.estimate import estimate
from cost.fleets import scheduled_average
from cost.model import CostError, Resource
from cost.pricers.edge import internet_out_price
from cost.pricers.messaging import invocations_per_month

from tests.scripts.cost_fixtures import QUIET, deployment, lines, run, web_group


def amounts(found: list[Any]) -> list[tuple[float, float]]:
    return [(round(line.monthly, 4), round(line.ceiling, 4)) for line in found]


def test_an_auto_scaling_group_is_priced_at_its_minimum_with_its_maximum_as_the_ceiling() -> None:
    found = lines(web_group(min_size=2, max_size=4), "Group", **QUIET)
    compute = [line for line in found if line.group == "compute"]
    # m7g.large: 0.0816 x 730 = 59.568 a month; gp3 10 GiB: 0.80 a month.
    assert amounts(compute) == [(119.136, 238.272), (1.6, 3.2)]
    assert "min 2 / desired - / max 4" in compute[0].item


def test_a_desired_capacity_is_the_baseline() -> None:
    resources = web_group(min_size=1, max_size=4)
    resources["Group"]["Properties"]["DesiredCapacity"] = "3"
    (instances, _) = [line for line in lines(resources, "Group", **QUIET) if line.group == "compute"]
    assert round(instances.monthly, 4) == round(3 * 59.568, 4)


def test_scheduled_actions_add_the_hours_they_hold_the_group_larger() -> None:
    def action(size: int, cron: str) -> Resource:
        return Resource(
            "S", "us-east-1", "A", "AWS::AutoScaling::ScheduledAction", {"MinSize": size, "Recurrence": cron}, {}, "S/A"
        )

    # 6 instances from 02:00 to 03:00 every day, 2 otherwise: 2 + 4/24 on average.
    average, described = scheduled_average(2, [action(6, "0 2 * * *"), action(2, "0 3 * * *")])
    assert average == pytest.approx(2 + 4 / 24)
    assert described == "scheduled: 6 at '0 2 * * *', 2 at '0 3 * * *'"
    # Weekdays only: 5 of 7 days.
    weekdays, _ = scheduled_average(2, [action(6, "0 2 * * 1-5"), action(2, "0 3 * * 1-5")])
    assert weekdays == pytest.approx(2 + 4 / 24 * 5 / 7)
    assert scheduled_average(3, []) == (3, "")


def test_an_unknown_instance_type_is_a_one_line_error_naming_it() -> None:
    with pytest.raises(
        CostError, match=r"^Stack/Group: no price for the instance type x9z\.large in scripts/cost/prices\.py"
    ):
        run(web_group(instance_type="x9z.large"), **QUIET)


def test_instance_sizes_of_a_family_scale_from_its_large_price() -> None:
    (instances, _) = [
        line for line in lines(web_group(instance_type="m7g.2xlarge"), "Group", **QUIET) if line.group == "compute"
    ]
    assert round(instances.monthly, 4) == round(2 * 4 * 59.568, 4)


AURORA: dict[str, Any] = {
    "Cluster": {
        "Type": "AWS::RDS::DBCluster",
        "Properties": {
            "Engine": "aurora-postgresql",
            "MasterUsername": "admin",
            "ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": 4},
        },
    },
    "Writer": {
        "Type": "AWS::RDS::DBInstance",
        "Properties": {"DBClusterIdentifier": {"Ref": "Cluster"}, "DBInstanceClass": "db.serverless"},
    },
}


def test_a_serverless_instance_bills_its_minimum_acus_with_its_maximum_as_the_ceiling() -> None:
    # 0.5 ACU x 0.12 x 730 = 43.80; 4 ACU = 350.40.
    assert amounts(lines(AURORA, "Writer", **QUIET)) == [(43.8, 350.4)]


def test_io_optimized_storage_bills_more_per_acu_and_gb_and_nothing_per_io() -> None:
    resources = json.loads(json.dumps(AURORA))
    resources["Cluster"]["Properties"]["StorageType"] = "aurora-iopt1"
    assert amounts(lines(resources, "Writer", **QUIET)) == [(56.94, 455.52)]  # 0.156 per ACU-hour
    storage, ios = lines(resources, "Cluster", requests_per_s=10, jobs_per_day=0, db_storage_gb=10)
    assert (round(storage.monthly, 4), ios.monthly) == (2.25, 0.0)


def test_cluster_storage_and_ios_follow_the_traffic() -> None:
    found = lines(AURORA, "Cluster", requests_per_s=10, jobs_per_day=0, db_storage_gb=10)
    storage, ios = found
    assert storage.monthly == pytest.approx(1.0)  # 10 GB x 0.10
    # writes: 26.28 M requests x 0.1 x 3 = 7.884 M; reads: 26.28 M x 0.9 x 0.05 x 1 = 1.1826 M; x 0.20 per M.
    assert ios.monthly == pytest.approx((7.884 + 1.1826) * 0.20)


def test_a_global_database_bills_write_ios_replicated_to_each_secondary() -> None:
    resources = json.loads(json.dumps(AURORA))
    resources["Cluster"]["Properties"]["GlobalClusterIdentifier"] = {"Ref": "Global"}
    resources["Secondary"] = {
        "Type": "AWS::RDS::DBCluster",
        "Properties": {"Engine": "aurora-postgresql", "GlobalClusterIdentifier": {"Ref": "Global"}},
    }
    resources["Global"] = {"Type": "AWS::RDS::GlobalCluster", "Properties": {"Engine": "aurora-postgresql"}}
    (replication,) = lines(resources, "Global", requests_per_s=10, jobs_per_day=0)
    assert replication.monthly == pytest.approx(7.884 * 0.20)
    (_, secondary_ios) = lines(resources, "Secondary", requests_per_s=10, jobs_per_day=0)
    assert secondary_ios.monthly == pytest.approx(1.1826 * 0.20)  # reads only


def test_a_provisioned_instance_is_refused_by_name() -> None:
    resources = json.loads(json.dumps(AURORA))
    resources["Writer"]["Properties"]["DBInstanceClass"] = "db.r7g.large"
    with pytest.raises(CostError, match="only Aurora Serverless v2 instances"):
        run(resources, **QUIET)


def replication_group(**properties: Any) -> dict[str, Any]:
    base = {"CacheNodeType": "cache.t4g.micro", "Engine": "redis", "NumCacheClusters": 2}
    return {"Cache": {"Type": "AWS::ElastiCache::ReplicationGroup", "Properties": {**base, **properties}}}


def test_cache_nodes_are_the_node_price_times_the_nodes() -> None:
    assert amounts(lines(replication_group(), "Cache", **QUIET)) == [(23.36, 23.36)]  # 2 x 0.016 x 730
    assert amounts(lines(replication_group(Engine="valkey"), "Cache", **QUIET)) == [(18.688, 18.688)]  # 20% less
    sharded = replication_group(NumCacheClusters=None, NumNodeGroups=3, ReplicasPerNodeGroup=1)
    assert amounts(lines(sharded, "Cache", **QUIET))[0][0] == pytest.approx(6 * 0.016 * 730)


def test_cache_snapshots_beyond_the_free_one_bill_their_storage() -> None:
    (_, snapshots) = lines(replication_group(SnapshotRetentionLimit=3), "Cache", cache_data_gb=1, **QUIET)
    assert snapshots.monthly == pytest.approx(2 * 0.085)


NETWORK: dict[str, Any] = {
    "Nat": {"Type": "AWS::EC2::NatGateway", "Properties": {}},
    "Ip": {"Type": "AWS::EC2::EIP", "Properties": {}},
    "Sqs": {
        "Type": "AWS::EC2::VPCEndpoint",
        "Properties": {
            "VpcEndpointType": "Interface",
            "ServiceName": "com.amazonaws.us-east-1.sqs",
            "SubnetIds": ["a", "b", "c"],
        },
    },
    "S3": {
        "Type": "AWS::EC2::VPCEndpoint",
        "Properties": {"VpcEndpointType": "Gateway", "ServiceName": "com.amazonaws.s3"},
    },
}


def test_nat_gateway_bills_hours_and_the_instances_traffic_with_their_logs_when_there_is_no_logs_endpoint() -> None:
    resources = {**NETWORK, **web_group(min_size=2, max_size=2)}
    (nat,) = lines(
        resources, "Nat", requests_per_s=0, jobs_per_day=0, nat_gb_per_instance=2, instance_log_mb_per_day=50
    )
    logs_gb = 2 * 50 * 730 / 24 / 1000  # two instances' logs a month
    assert nat.monthly == pytest.approx(0.045 * 730 + (4 + logs_gb) * 0.045)
    assert "no logs endpoint" in nat.item


def test_elastic_ips_interface_and_gateway_endpoints() -> None:
    assert amounts(lines(NETWORK, "Ip", **QUIET)) == [(3.65, 3.65)]
    assert amounts(lines(NETWORK, "Sqs", **QUIET)) == [(21.9, 21.9)]  # 3 zones x 0.01 x 730
    assert amounts(lines(NETWORK, "S3", **QUIET)) == [(0.0, 0.0)]


def balancer(subnets: int = 2) -> dict[str, Any]:
    return {
        "Balancer": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {
                "Type": "application",
                "Scheme": "internet-facing",
                "Subnets": [f"s{i}" for i in range(subnets)],
            },
        }
    }


def test_the_load_balancer_bills_hours_lcus_addresses_and_data_out() -> None:
    found = lines(balancer(), "Balancer", requests_per_s=100, avg_response_kb=9, request_kb=1, jobs_per_day=0)
    by_group = {line.group: line for line in found}
    # Processed bytes: 100/s x 10 KB x 3600 = 3.6 GB an hour = 3.6 LCU (new connections: 100/10/25 = 0.4).
    assert by_group["edge"].monthly == pytest.approx(730 * (0.0225 + 3.6 * 0.008))
    assert "set by processed bytes" in by_group["edge"].item
    assert by_group["network"].monthly == pytest.approx(2 * 0.005 * 730)
    # 262.8 M responses x 9 KB = 2,365.2 GB at 0.09.
    assert by_group["data transfer"].monthly == pytest.approx(2365.2 * 0.09)


def test_listener_rules_beyond_ten_add_lcus() -> None:
    resources = balancer()
    resources["Listener"] = {
        "Type": "AWS::ElasticLoadBalancingV2::Listener",
        "Properties": {"LoadBalancerArn": {"Ref": "Balancer"}},
    }
    for i in range(15):
        resources[f"Rule{i}"] = {
            "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
            "Properties": {"ListenerArn": {"Ref": "Listener"}},
        }
    (edge,) = [
        line
        for line in lines(
            resources, "Balancer", requests_per_s=1000, avg_response_kb=0, request_kb=0, requests_per_connection=1000
        )
        if line.group == "edge"
    ]
    # 1,000 requests/s x 5 rules beyond the free 10 = 5 LCU of rule evaluations.
    assert edge.monthly == pytest.approx(730 * (0.0225 + 5 * 0.008))
    assert "rule evaluations" in edge.item


def test_data_out_goes_through_the_volume_tiers() -> None:
    assert internet_out_price(100) == pytest.approx(9.0)
    assert internet_out_price(20_000) == pytest.approx(10_240 * 0.09 + 9_760 * 0.085)


def test_waf_bills_the_acl_each_rule_and_the_requests() -> None:
    acl = {
        "Acl": {"Type": "AWS::WAFv2::WebACL", "Properties": {"Rules": [{"Name": "a"}, {"Name": "b"}, {"Name": "c"}]}}
    }
    # 10 requests/s = 26.28 M a month at 0.60 per million.
    assert lines(acl, "Acl", requests_per_s=10)[0].monthly == pytest.approx(5 + 3 + 26.28 * 0.6)


def test_waf_logs_only_the_blocked_requests_when_its_filter_drops_the_rest() -> None:
    keep_blocks = {
        "DefaultBehavior": "DROP",
        "Filters": [
            {"Behavior": "KEEP", "Requirement": "MEETS_ANY", "Conditions": [{"ActionCondition": {"Action": "BLOCK"}}]}
        ],
    }
    resources: dict[str, Any] = {
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}},
        "Logging": {
            "Type": "AWS::WAFv2::LoggingConfiguration",
            "Properties": {"LogDestinationConfigs": [{"Fn::GetAtt": ["Logs", "Arn"]}], "LoggingFilter": keep_blocks},
        },
    }
    (group,) = lines(resources, "Logs", requests_per_s=10, waf_blocked_share=0.01, waf_log_kb=1.5)
    gb = 26.28e6 * 0.01 * 1.5 / 1e6
    assert group.monthly == pytest.approx(gb * 0.5 + gb * 0.15 * 30 / (730 / 24) * 0.03)
    assert lines(resources, "Logging", requests_per_s=10) == []  # priced on its log group
    del resources["Logging"]["Properties"]["LoggingFilter"]
    (everything,) = lines(resources, "Logs", requests_per_s=10, waf_log_kb=1.5)
    assert everything.monthly == pytest.approx(group.monthly * 100)


def test_a_log_group_nobody_is_known_to_write_to_is_listed_at_nothing() -> None:
    (group,) = lines({"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {}}}, "Logs")
    assert (group.monthly, group.item) == (0.0, "no writer known to the estimate: nothing priced")


def agent_metadata(*, omit_hostname: bool) -> dict[str, Any]:
    """cfn-init metadata writing an agent config as the stacks do: a Fn::Join with the log group's Ref inside."""
    config = {
        "agent": {"omit_hostname": omit_hostname},
        "logs": {
            "logs_collected": {
                "files": {"collect_list": [{"file_path": "/var/log/app.log", "log_group_name": "@LOGS@"}]}
            },
            "metrics_collected": {
                "prometheus": {
                    "log_group_name": "@LOGS@",
                    "emf_processor": {
                        "metric_declaration": [
                            {"dimensions": [["Fleet"]], "metric_selectors": ["^a$", "^b$", "^c$"]},
                            {"dimensions": [["Fleet", "tier"]], "metric_selectors": ["^reads$"]},
                        ]
                    },
                }
            },
        },
        "metrics": {
            "metrics_collected": {
                "mem": {"measurement": ["mem_used_percent"]},
                "disk": {"measurement": ["used_percent"], "resources": ["/"]},
            }
        },
    }
    before, middle, after = json.dumps(config).split("@LOGS@")
    content = {"Fn::Join": ["", [before, {"Ref": "Logs"}, middle, {"Ref": "Logs"}, after]]}
    files = {"/opt/aws/amazon-cloudwatch-agent/etc/app.json": {"content": content}}
    return {"AWS::CloudFormation::Init": {"configSets": {"install": ["install"]}, "install": {"files": files}}}


def test_custom_metrics_are_counted_from_the_agent_config() -> None:
    for omit_hostname, expected in ((True, (9, 9)), (False, (11, 15))):
        resources = web_group(min_size=2, max_size=4, metadata=agent_metadata(omit_hostname=omit_hostname))
        (metrics,) = [line for line in lines(resources, "Group", **QUIET) if line.group == "observability"]
        # 3 selectors x 1 Fleet + 1 selector x 4 tiers = 7 series; mem and disk once, or per instance (host name).
        assert (metrics.monthly, metrics.ceiling) == pytest.approx((expected[0] * 0.3, expected[1] * 0.3))


def test_the_fleet_log_group_gets_the_instances_logs_and_keeps_them_for_its_retention() -> None:
    resources = {
        **web_group(min_size=2, max_size=4, metadata=agent_metadata(omit_hostname=True)),
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}},
    }
    (group,) = lines(resources, "Logs", instance_log_mb_per_day=100, log_compression=0.15, requests_per_s=0)
    gb = 2 * 100 * (730 / 24) / 1000
    assert group.monthly == pytest.approx(gb * 0.5 + gb * 0.15 * 7 / (730 / 24) * 0.03)
    assert group.ceiling == pytest.approx(2 * group.monthly)


def test_alarms_bill_each_metric_they_read() -> None:
    resources = {
        "Simple": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Period": 60}},
        "Fast": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Period": 10}},
        "Math": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Metrics": [
                    {"Id": "e", "Expression": "a+b+c"},
                    *({"Id": i, "MetricStat": {"Period": 60}} for i in "abc"),
                ]
            },
        },
        "Board": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}},
    }
    result = {line.resource: line.monthly for line in run(resources).lines}
    assert result == pytest.approx({"Stack/Simple": 0.1, "Stack/Fast": 0.3, "Stack/Math": 0.3, "Stack/Board": 3.0})


def queue_resources(wait: int = 20) -> dict[str, Any]:
    return {
        "Dead": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Jobs": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "ReceiveMessageWaitTimeSeconds": wait,
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Dead", "Arn"]}},
            },
        },
    }


def test_sqs_bills_each_job_s_calls_and_the_workers_long_polls() -> None:
    worker = web_group(min_size=1, max_size=3)
    del worker["Group"]["Properties"]["TargetGroupARNs"]  # a queue consumer
    (jobs,) = lines(
        {**queue_resources(), **worker}, "Jobs", jobs_per_day=1000, sqs_sends_per_job=1, sqs_calls_per_job_worker=0.2
    )
    per_month = 1000 * 730 / 24 * 1.2 + 2_628_000 / 20  # jobs x 1.2 calls + one poll per 20 s
    assert jobs.monthly == pytest.approx(per_month / 1e6 * 0.40)
    assert jobs.ceiling == pytest.approx((per_month + 2 * 2_628_000 / 20) / 1e6 * 0.40)
    (dead,) = lines({**queue_resources(), **worker}, "Dead", jobs_per_day=1000)
    assert dead.monthly == 0.0


def test_schedule_expressions_are_counted_per_month() -> None:
    assert invocations_per_month("cron(0 3 * * ? *)") == pytest.approx(730 / 24)
    assert invocations_per_month("cron(0 3 ? * 2-6 *)") == pytest.approx(730 / 24 * 5 / 7)  # MON-FRI
    assert invocations_per_month("rate(5 minutes)") == pytest.approx(2_628_000 / 300)
    assert invocations_per_month("at(2027-01-01T00:00:00)") == 0
    with pytest.raises(CostError, match="not a schedule expression"):
        invocations_per_month("every day")


def test_cognito_bills_machine_to_machine_clients_and_their_tokens() -> None:
    resources = {
        "Machines": {
            "Type": "AWS::Cognito::UserPoolClient",
            "Properties": {"AllowedOAuthFlows": ["client_credentials"]},
        },
        "People": {"Type": "AWS::Cognito::UserPoolClient", "Properties": {"AllowedOAuthFlows": ["code"]}},
    }
    result = {line.resource: line.monthly for line in run(resources, token_requests_per_day=100).lines}
    assert result == pytest.approx({"Stack/Machines": 6 + 100 * 730 / 24 * 0.00225, "Stack/People": 0.0})


def test_route53_health_checks_bill_their_features_and_alias_records_are_free() -> None:
    resources = {
        "Check": {
            "Type": "AWS::Route53::HealthCheck",
            "Properties": {"HealthCheckConfig": {"Type": "HTTPS", "RequestInterval": 10}},
        },
        "Alias": {
            "Type": "AWS::Route53::RecordSet",
            "Properties": {"Type": "A", "AliasTarget": {"DNSName": "x"}, "Region": "us-east-1"},
        },
        "Plain": {"Type": "AWS::Route53::RecordSet", "Properties": {"Type": "TXT", "ResourceRecords": ["x"]}},
        "Cert": {"Type": "AWS::CertificateManager::Certificate", "Properties": {"DomainName": "api.example.com"}},
    }
    result = {
        line.resource: line.monthly for line in run(resources, requests_per_s=10, dns_queries_per_request=0.01).lines
    }
    assert result == pytest.approx(
        {"Stack/Check": 0.5 + 2 * 1.0, "Stack/Alias": 0.0, "Stack/Plain": 0.2628 * 0.40, "Stack/Cert": 0.0}
    )


def test_keys_secrets_and_parameters() -> None:
    resources = {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
        "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {}},
        "Standard": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String"}},
        "Advanced": {"Type": "AWS::SSM::Parameter", "Properties": {"Tier": "Advanced"}},
    }
    result = {
        line.resource: line.monthly
        for line in run(resources, kms_requests_per_key=10_000, secret_calls_per_secret=10_000).lines
    }
    assert result == pytest.approx(
        {"Stack/Key": 1.03, "Stack/Secret": 0.45, "Stack/Standard": 0.0, "Stack/Advanced": 0.05}
    )


def test_the_access_log_bucket_keeps_what_the_load_balancer_writes_until_it_expires() -> None:
    resources = balancer(subnets=2)
    resources["Balancer"]["Properties"]["LoadBalancerAttributes"] = [
        {"Key": "access_logs.s3.bucket", "Value": {"Ref": "Bucket"}}
    ]
    resources["Bucket"] = {
        "Type": "AWS::S3::Bucket",
        "Properties": {"LifecycleConfiguration": {"Rules": [{"Status": "Enabled", "ExpirationInDays": 30}]}},
    }
    (bucket,) = lines(resources, "Bucket", requests_per_s=10, alb_log_bytes_per_request=100)
    stored = 26.28e6 * 100 / 1e9 * 30 / (730 / 24)
    puts = 2 * 12 * 730
    assert bucket.monthly == pytest.approx(stored * 0.023 + puts / 1000 * 0.005)


def test_a_region_s_prices_are_us_east_1_s_times_its_ratio_and_an_unknown_region_says_so() -> None:
    resources = {"Ip": {"Type": "AWS::EC2::EIP", "Properties": {}}}
    (ireland,) = estimate(deployment(resources, region="eu-west-1")).lines
    assert ireland.monthly == pytest.approx(3.65 * 1.10)
    elsewhere = estimate(deployment(resources, region="me-south-1"))
    assert elsewhere.lines[0].monthly == pytest.approx(3.65)
    assert elsewhere.notes == ["no price ratio for me-south-1 in scripts/cost/prices.py: priced at us-east-1 prices"]


def test_traffic_is_split_between_regions() -> None:
    stacks = [
        Stack(
            "App-us-east-1",
            "us-east-1",
            {"Resources": {"Acl": {"Type": "AWS::WAFv2::WebACL", "Properties": {"Rules": []}}}},
        ),
        Stack(
            "App-us-west-2",
            "us-west-2",
            {"Resources": {"Acl": {"Type": "AWS::WAFv2::WebACL", "Properties": {"Rules": []}}}},
        ),
    ]
    result = estimate(Deployment(stacks, Assumptions(requests_per_s=10), "us-east-1"))
    assert [line.monthly for line in result.lines] == pytest.approx([5 + 13.14 * 0.6, 5 + 13.14 * 0.6])
    assert result.by_region() == pytest.approx({"us-east-1": 12.884, "us-west-2": 12.884})


def test_an_unpriced_type_is_left_out_of_the_total_and_named() -> None:
    result = run(
        {"Thing": {"Type": "AWS::Foo::Bar", "Properties": {}}, "Role": {"Type": "AWS::IAM::Role", "Properties": {}}}
    )
    assert (result.lines, result.unpriced) == ([], {"AWS::Foo::Bar": 1})
    assert result.free == {"AWS::IAM::Role": (1, "IAM is free")}
    assert "AWS::Foo::Bar (1)" in result.notes[-1]


def test_bad_assumptions_are_refused_with_the_flag_named() -> None:
    with pytest.raises(ValueError, match=r"^--write-share must be between 0 and 1, got 2$"):
        Assumptions(write_share=2)
    with pytest.raises(ValueError, match=r"^--jobs-per-day must be 0 or more, got -1$"):
        Assumptions(jobs_per_day=-1)
    with pytest.raises(ValueError, match=r"^--requests-per-connection must be more than 0$"):
        Assumptions(requests_per_connection=0)


def test_traffic_between_zones_counts_forwards_to_the_owner_and_its_cache_reads() -> None:
    traffic = {"requests_per_s": 10, "request_kb": 1, "avg_response_kb": 4, "write_share": 0.1, "lru_miss_share": 0.5}
    (two,) = [line for line in lines(web_group(min_size=2), "Group", **traffic) if line.group == "data transfer"]
    # Two zones: half the time the other side is in the other zone. Per request: a forward with probability
    # 1/2 (1 KB + 4 KB) and a cache read for 0.9 x 0.5 of the requests (4 KB): 0.5 x (2.5 + 1.8) = 2.15 KB.
    assert two.monthly == pytest.approx(26.28e6 * 2.15 / 1e6 * 0.02)
    (one,) = [line for line in lines(web_group(min_size=1), "Group", **traffic) if line.group == "data transfer"]
    assert one.monthly == pytest.approx(26.28e6 * 0.5 * 1.8 / 1e6 * 0.02)  # no peer to forward to


def test_a_cache_s_log_delivery_is_a_writer_of_its_log_group() -> None:
    resources = replication_group(
        LogDeliveryConfigurations=[
            {"LogType": "slow-log", "DestinationDetails": {"CloudWatchLogsDetails": {"LogGroup": {"Ref": "Logs"}}}}
        ]
    )
    resources["Logs"] = {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}}
    (group,) = lines(resources, "Logs", cache_log_mb_per_day=10, log_compression=0.15)
    gb = 10 * 730 / 24 / 1000
    assert group.monthly == pytest.approx(gb * 0.5 + gb * 0.15 * 30 / (730 / 24) * 0.03)
    assert "cache logs" in group.item
