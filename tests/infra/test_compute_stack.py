"""ComputeStack: the load balancer, both fleets, their scaling, network rules and permissions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match, Template

from stacks.compute import DRAIN_HOOK_NAME
from stacks.constructs.backlog_scaling import BACKLOG_EXPRESSION
from stacks.constructs.fleet import Boot, Fleet
from stacks.constructs.service_code import ServiceCode
from stacks.settings import FleetSettings
from tests.infra.conftest import CERTIFICATE_ARN, Synthesized, listed

ROOT = Path(__file__).resolve().parents[2]
ANYWHERE = ("0.0.0.0/0", "::/0")


def _all_resources(config: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        f"{part}/{logical_id}": resource
        for part, template in config.templates.items()
        for logical_id, resource in template["Resources"].items()
    }


def _fleet_ids(config: Synthesized, kind: str) -> dict[str, str]:
    """Logical IDs of the web and worker resources of ``kind`` (a key of FLEET_KINDS), by fleet."""
    return {fleet: config.fleet_id(fleet, kind) for fleet in ("web", "worker")}


def test_launch_templates_require_imdsv2_and_encrypt_the_root_volume(config: Synthesized) -> None:
    templates = config.resources("compute", "AWS::EC2::LaunchTemplate")
    assert len(templates) == 2
    for template in templates.values():
        data = template["Properties"]["LaunchTemplateData"]
        assert data["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}
        assert data["BlockDeviceMappings"] == [
            {
                "DeviceName": "/dev/xvda",
                "Ebs": {"DeleteOnTermination": True, "Encrypted": True, "VolumeSize": 16, "VolumeType": "gp3"},
            }
        ]
        assert "KeyName" not in data, "no SSH key: Session Manager instead"
        image = data["ImageId"]["Ref"].lower()
        assert "al2023" in image
        assert config.deployment.settings.web.fleet.architecture.replace("_", "") in image.replace("_", "")
        expected_types = {"arm64": ("t4g", "m7g"), "x86_64": ("t3", "m7i")}[
            config.deployment.settings.web.fleet.architecture
        ]
        assert data["InstanceType"].split(".")[0] in expected_types


def test_groups_use_launch_templates_never_launch_configurations(config: Synthesized) -> None:
    assert not any(r["Type"] == "AWS::AutoScaling::LaunchConfiguration" for r in _all_resources(config).values())
    launch_templates = _fleet_ids(config, "LaunchTemplate")
    for fleet, group_id in _fleet_ids(config, "GroupASG").items():
        group = config.templates["compute"]["Resources"][group_id]
        assert group["Properties"]["LaunchTemplate"]["LaunchTemplateId"] == {"Ref": launch_templates[fleet]}
        assert group["Properties"]["MetricsCollection"] == [{"Granularity": "1Minute"}]
        assert "AutoScalingRollingUpdate" in group["UpdatePolicy"]


def test_groups_have_fixed_names_their_instances_can_be_told(config: Synthesized) -> None:
    stage, compute = config.deployment.settings.stage, config.deployment.compute
    resources = config.templates["compute"]["Resources"]
    for fleet, group_id in _fleet_ids(config, "GroupASG").items():
        name = resources[group_id]["Properties"]["AutoScalingGroupName"]
        assert name == f"ScaledRef-{stage}-Compute-{fleet}"
        assert name == {"web": compute.web, "worker": compute.worker}[fleet].group_name


def test_fleet_sizes_and_instance_types_follow_the_stage(dev: Synthesized, prod: Synthesized) -> None:
    expected = [
        (dev, {"web": ("t4g.small", "1", "3"), "worker": ("t4g.small", "1", "2")}),
        (prod, {"web": ("m7g.large", "3", "12"), "worker": ("m7g.large", "2", "10")}),
    ]
    for config, fleets in expected:
        resources = config.templates["compute"]["Resources"]
        templates, groups = _fleet_ids(config, "LaunchTemplate"), _fleet_ids(config, "GroupASG")
        for fleet, (instance_type, minimum, maximum) in fleets.items():
            assert resources[templates[fleet]]["Properties"]["LaunchTemplateData"]["InstanceType"] == instance_type
            group = resources[groups[fleet]]["Properties"]
            assert (group["MinSize"], group["MaxSize"]) == (minimum, maximum)
            assert "DesiredCapacity" not in group, "scaling decides; a fixed desired size would reset each deploy"


def test_only_the_load_balancer_listens_to_the_internet(config: Synthesized) -> None:
    open_ports = set()
    for name, resource in _all_resources(config).items():
        rules = []
        if resource["Type"] == "AWS::EC2::SecurityGroup":
            rules = resource["Properties"].get("SecurityGroupIngress", [])
        elif resource["Type"] == "AWS::EC2::SecurityGroupIngress":
            rules = [resource["Properties"]]
        for rule in rules:
            assert rule.get("FromPort") != 22, f"{name} opens SSH"
            assert rule.get("IpProtocol") != "-1", f"{name} opens every port"
            if rule.get("CidrIp") in ANYWHERE or rule.get("CidrIpv6") in ANYWHERE:
                assert name.startswith("compute/LoadBalancerSecurityGroup"), f"{name} is open to the internet"
                open_ports.add(rule["FromPort"])
    https = config.deployment.settings.web.certificate_arn is not None
    assert open_ports == ({80, 443} if https else {80})


def _ingress(config: Synthesized) -> set[tuple[str, str, int]]:
    """(target group, source group, port) of every group-to-group rule, names shortened to the construct."""
    rules = set()
    for resource in _all_resources(config).values():
        if (
            resource["Type"] != "AWS::EC2::SecurityGroupIngress"
            or "SourceSecurityGroupId" not in resource["Properties"]
        ):
            continue
        properties = resource["Properties"]
        target, source = json.dumps(properties["GroupId"]), json.dumps(properties["SourceSecurityGroupId"])
        names = [
            next(name for name in ("LoadBalancer", "WebFleet", "WorkerFleet", "Database", "Cache") if name in text)
            for text in (target, source)
        ]
        rules.add((names[0], names[1], properties["FromPort"]))
    return rules


def test_traffic_between_tiers_is_limited_to_their_ports(dev: Synthesized, mysql: Synthesized) -> None:
    assert _ingress(dev) == {
        ("WebFleet", "LoadBalancer", 8080),
        ("WebFleet", "WebFleet", 8080),
        ("Database", "WebFleet", 5433),
        ("Database", "WorkerFleet", 5433),
        ("Cache", "WebFleet", 6380),
        ("Cache", "WorkerFleet", 6380),
    }
    assert ("Database", "WorkerFleet", 3307) in _ingress(mysql)


def test_load_balancer_is_hardened_and_logs_access(config: Synthesized) -> None:
    template = config.template("compute")
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {
            "Scheme": "internet-facing",
            "LoadBalancerAttributes": Match.array_with(
                [
                    {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
                    {"Key": "access_logs.s3.enabled", "Value": "true"},
                ]
            ),
        },
    )
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "Port": 8080,
            "HealthCheckPath": "/healthz",
            "TargetGroupAttributes": Match.array_with(
                [{"Key": "load_balancing.algorithm.type", "Value": "least_outstanding_requests"}]
            ),
        },
    )
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )


def test_access_log_writer_is_chosen_by_region_at_deploy_time(dev: Synthesized) -> None:
    template = dev.templates["compute"]
    mapping = next(iter(template["Mappings"].values()))
    assert mapping["us-east-1"] == {"account": "127311923021"}, "the regional ELB account of an older region"
    assert mapping["ap-southeast-5"] == {"account": "none"}, "newer regions use the log-delivery service"
    policy = dev.only("compute", "AWS::S3::BucketPolicy")["PolicyDocument"]["Statement"]
    (writers,) = [statement["Principal"] for statement in policy if statement["Action"] == "s3:PutObject"]
    assert writers["Service"] == "logdelivery.elasticloadbalancing.amazonaws.com"
    assert "Fn::If" in writers["AWS"]
    assert any(
        statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in policy
    )


def test_http_only_without_a_certificate(dev: Synthesized) -> None:
    dev.template("compute").resource_count_is("AWS::ElasticLoadBalancingV2::Listener", 1)
    dev.template("compute").has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {"Port": 80, "Protocol": "HTTP", "DefaultActions": [Match.object_like({"Type": "fixed-response"})]},
    )


def test_https_with_a_certificate_and_http_redirects(mysql: Synthesized) -> None:
    template = mysql.template("compute")
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "Port": 443,
            "Protocol": "HTTPS",
            "Certificates": [{"CertificateArn": CERTIFICATE_ARN}],
            "SslPolicy": Match.string_like_regexp("TLS13"),
        },
    )
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "Port": 80,
            "DefaultActions": [
                {"Type": "redirect", "RedirectConfig": Match.object_like({"Port": "443", "Protocol": "HTTPS"})}
            ],
        },
    )


def test_web_fleet_tracks_requests_per_target(dev: Synthesized) -> None:
    dev.template("compute").has_resource_properties(
        "AWS::AutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingConfiguration": Match.object_like(
                {
                    "TargetValue": 1000,
                    "PredefinedMetricSpecification": Match.object_like(
                        {"PredefinedMetricType": "ALBRequestCountPerTarget"}
                    ),
                }
            ),
        },
    )


def test_worker_fleet_tracks_backlog_per_instance(config: Synthesized) -> None:
    groups = _fleet_ids(config, "GroupASG")
    policies = [
        policy["Properties"]
        for policy in config.resources("compute", "AWS::AutoScaling::ScalingPolicy").values()
        if policy["Properties"]["AutoScalingGroupName"] == {"Ref": groups["worker"]}
    ]
    assert len(policies) == 1
    tracking = policies[0]["TargetTrackingConfiguration"]
    assert tracking["TargetValue"] == 100
    queries = {query["Id"]: query for query in tracking["CustomizedMetricSpecification"]["Metrics"]}
    assert queries["backlog_per_instance"]["Expression"] == BACKLOG_EXPRESSION
    assert [query_id for query_id, query in queries.items() if query["ReturnData"]] == ["backlog_per_instance"]
    visible = queries["visible"]["MetricStat"]["Metric"]
    assert (visible["Namespace"], visible["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert "JobQueueJobs" in json.dumps(visible["Dimensions"])
    in_service = queries["in_service"]["MetricStat"]["Metric"]
    assert (in_service["Namespace"], in_service["MetricName"]) == ("AWS/AutoScaling", "GroupInServiceInstances")
    assert in_service["Dimensions"] == [{"Name": "AutoScalingGroupName", "Value": {"Ref": groups["worker"]}}]


def test_workers_drain_before_termination(config: Synthesized) -> None:
    config.template("compute").has_resource_properties(
        "AWS::AutoScaling::LifecycleHook",
        {
            "LifecycleHookName": DRAIN_HOOK_NAME,
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
            "HeartbeatTimeout": 300,
            "DefaultResult": "CONTINUE",
            "AutoScalingGroupName": {"Ref": _fleet_ids(config, "GroupASG")["worker"]},
        },
    )
    config.template("compute").has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Action": [
                                "autoscaling:CompleteLifecycleAction",
                                "autoscaling:RecordLifecycleActionHeartbeat",
                            ],
                            "Resource": Match.any_value(),
                        }
                    )
                ],
                "Version": "2012-10-17",
            }
        },
    )


def test_worker_capacity_is_raised_around_the_off_peak_job(dev: Synthesized, prod: Synthesized) -> None:
    for config, raised, normal in ((dev, 2, 1), (prod, 6, 2)):
        actions = {
            action["Properties"]["Recurrence"]: action["Properties"]
            for action in config.resources("compute", "AWS::AutoScaling::ScheduledAction").values()
        }
        assert set(actions) == {"45 2 * * *", "0 4 * * *"}, "15 minutes before 03:00 UTC, and after its hour"
        assert actions["45 2 * * *"]["MinSize"] == raised
        assert actions["0 4 * * *"]["MinSize"] == normal
        assert {action["TimeZone"] for action in actions.values()} == {"Etc/UTC"}


def test_instance_roles_are_built_from_grants_without_wildcard_actions(config: Synthesized) -> None:
    for fleet in ("web", "worker"):
        statements = config.role_statements(fleet)
        actions = [action for statement in statements for action in listed(statement["Action"])]
        assert actions
        assert not [action for action in actions if "*" in action]
        assert all(statement["Effect"] == "Allow" for statement in statements)
    roles = config.resources("compute", "AWS::IAM::Role")
    for role_id in _fleet_ids(config, "Role").values():
        managed = json.dumps(roles[role_id]["Properties"]["ManagedPolicyArns"])
        assert "AmazonSSMManagedInstanceCore" in managed
        assert managed.count("policy/") == 1


def test_instances_may_read_exactly_the_code_assets(dev: Synthesized) -> None:
    for fleet in ("web", "worker"):
        reads = [statement for statement in dev.role_statements(fleet) if statement["Action"] == "s3:GetObject"]
        assert len(reads) == 1
        objects = reads[0]["Resource"]
        assert len(objects) == 2
        assert all(".zip" in json.dumps(resource) for resource in objects)


def test_the_boot_seam_turns_on_cfn_init_signals_and_elb_health_checks(tmp_path: Path) -> None:
    stack = cdk.Stack(cdk.App(outdir=str(tmp_path)), "BootSeam")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)

    def plan(fleet: Fleet) -> Boot:
        # What code delivery will do: write the fleet's own names into a file on the instance.
        names = f"LOG_GROUP={fleet.log_group.log_group_name}\nASG_NAME={fleet.group_name}\n"
        return Boot(
            init=ec2.CloudFormationInit.from_elements(ec2.InitFile.from_string("/etc/app.env", names)),
            signals=autoscaling.Signals.wait_for_min_capacity(timeout=cdk.Duration.minutes(10)),
        )

    Fleet(
        stack,
        "WebFleet",
        service="web",
        vpc=vpc,
        subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        settings=FleetSettings(instance_type="t4g.small", min_capacity=1, max_capacity=2, desired_capacity=None),
        code=ServiceCode(stack, "Code", source_root=ROOT),
        log_retention=logs.RetentionDays.ONE_WEEK,
        log_removal_policy=cdk.RemovalPolicy.DESTROY,
        load_balanced=True,
        boot=plan,
    )
    group = next(iter(Template.from_stack(stack).find_resources("AWS::AutoScaling::AutoScalingGroup").values()))
    files = group["Metadata"]["AWS::CloudFormation::Init"]["config"]["files"]
    assert "BootSeam-web" in json.dumps(files["/etc/app.env"])
    assert "WebFleetLogs" in json.dumps(files["/etc/app.env"]), "the log group is referenced, without a cycle"
    assert group["CreationPolicy"]["ResourceSignal"]["Count"] == 1
    assert group["Properties"]["HealthCheckType"] == "ELB"
