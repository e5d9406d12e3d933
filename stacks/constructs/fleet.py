"""A fleet of identical instances: launch template, Auto Scaling group, role, security group, logs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.constructs.security_group import closed_security_group
from stacks.constructs.service_code import ServiceCode
from stacks.context_types import Architecture
from stacks.nag import acknowledge
from stacks.settings import FleetSettings

ROOT_DEVICE: Final = "/dev/xvda"
"""Root device name of the Amazon Linux 2023 images."""
SSM_CORE_POLICY: Final = "AmazonSSMManagedInstanceCore"
HEALTH_CHECK_GRACE: Final = Duration.minutes(5)
CPU_TYPES: Final[dict[Architecture, ec2.AmazonLinuxCpuType]] = {
    "arm64": ec2.AmazonLinuxCpuType.ARM_64,
    "x86_64": ec2.AmazonLinuxCpuType.X86_64,
}
ARCHITECTURES: Final[dict[Architecture, ec2.InstanceArchitecture]] = {
    "arm64": ec2.InstanceArchitecture.ARM_64,
    "x86_64": ec2.InstanceArchitecture.X86_64,
}


@dataclass(frozen=True, kw_only=True)
class Boot:
    """How a fleet's instances fetch and start their code: the code-delivery seam.

    ``init`` becomes the group's cfn-init metadata, run from the launch template's user data;
    ``signals`` adds the CreationPolicy (each instance reports with cfn-signal) and makes the
    rolling updates wait for the signals. With a Boot, a load-balanced fleet also switches
    its Auto Scaling health checks to the load balancer's (an instance without a running
    service would fail them and be replaced over and over, so they stay off without one).
    ``code_buckets`` are the S3 buckets cfn-init downloads ``sources`` from with the instance
    role's credentials (the role must already be allowed to read the objects themselves).
    ``health_check_grace`` is how long a new instance may boot before its health counts.
    """

    init: ec2.CloudFormationInit
    signals: autoscaling.Signals
    init_options: autoscaling.ApplyCloudFormationInitOptions | None = None
    code_buckets: Sequence[str] = ()
    health_check_grace: Duration = HEALTH_CHECK_GRACE


BootPlan = Callable[["Fleet"], Boot]
"""Builds a fleet's :class:`Boot` from the fleet itself, called once its ``role``, ``log_group``,
``security_group``, ``launch_template`` and ``group_name`` exist and before its group does
(cfn-init metadata and signals must be given when the group is created)."""


class Fleet(Construct):
    """An Auto Scaling group of one service's instances, secure by default.

    - a launch template (new accounts cannot create launch configurations) with IMDSv2
      required (hop limit 1), an encrypted gp3 root volume, no key pair and the latest
      Amazon Linux 2023 for the fleet's architecture (which the instance type must match);
    - a security group with no inbound rule (callers add what the service needs) and
      HTTPS as the only outbound default (AWS APIs, package repositories);
    - an instance role with Session Manager access (no SSH, no port 22) and grants only;
    - a log group for the service's logs, writable by the role;
    - group metrics on (fleet size on the dashboard, backlog-per-instance scaling) and
      rolling replacement, one instance at a time, when the launch template changes.

    Code delivery plugs in through ``boot`` (a :data:`BootPlan`); without it the instances
    boot the bare image with the SSM agent and run no service.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        settings: FleetSettings,
        code: ServiceCode,
        log_retention: logs.RetentionDays,
        log_removal_policy: RemovalPolicy,
        load_balanced: bool = False,
        boot: BootPlan | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.service = service
        self.security_group = closed_security_group(
            self, vpc, f"{service} instances: inbound only as granted, outbound HTTPS and the data ports"
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs and package repositories"
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"Instance role of the {service} fleet",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(SSM_CORE_POLICY)],
        )
        acknowledge(
            self.role,
            f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{SSM_CORE_POLICY}]",
            "Session Manager replaces SSH; AWS maintains the exact permissions its agent needs.",
        )
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=log_removal_policy)
        self.log_group.grant_write(self.role)
        code.grant_read(self.role)
        instance_type = ec2.InstanceType(settings.instance_type)
        if ARCHITECTURES[settings.architecture] != instance_type.architecture:
            raise ValueError(f"{settings.instance_type} is not an {settings.architecture} instance type")
        self.launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            instance_type=instance_type,
            machine_image=ec2.MachineImage.latest_amazon_linux2023(cpu_type=CPU_TYPES[settings.architecture]),
            role=self.role,
            security_group=self.security_group,
            user_data=ec2.UserData.for_linux(),
            require_imdsv2=True,
            http_put_response_hop_limit=1,
            block_devices=[
                ec2.BlockDevice(
                    device_name=ROOT_DEVICE,
                    volume=ec2.BlockDeviceVolume.ebs(
                        settings.root_volume_gib,
                        encrypted=True,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                        delete_on_termination=True,
                    ),
                )
            ],
        )
        # A fixed name: the instances' own configuration (cfn-init metadata on this group) may
        # not reference the group, yet workers complete their lifecycle action on it and web
        # nodes list their peers in it.
        self.group_name = f"{Stack.of(self).stack_name}-{service}"
        plan = boot(self) if boot else None
        self.group = autoscaling.AutoScalingGroup(
            self,
            "Group",
            auto_scaling_group_name=self.group_name,
            vpc=vpc,
            vpc_subnets=subnets,
            launch_template=self.launch_template,
            min_capacity=settings.min_capacity,
            max_capacity=settings.max_capacity,
            desired_capacity=settings.desired_capacity,
            health_checks=(
                autoscaling.HealthChecks.with_additional_checks(
                    additional_types=[autoscaling.AdditionalHealthCheckType.ELB],
                    grace_period=plan.health_check_grace,
                )
                if load_balanced and plan
                else autoscaling.HealthChecks.ec2(grace_period=plan.health_check_grace if plan else HEALTH_CHECK_GRACE)
            ),
            group_metrics=[autoscaling.GroupMetrics.all()],
            # One instance at a time, keeping the group's minimum in service while the new one boots.
            update_policy=autoscaling.UpdatePolicy.rolling_update(
                max_batch_size=1, min_instances_in_service=min(settings.min_capacity, settings.max_capacity - 1)
            ),
            init=plan.init if plan else None,
            signals=plan.signals if plan else None,
            init_options=plan.init_options if plan else None,
        )
        if plan:
            self._boot_with(plan)
        acknowledge(
            self.group,
            "AwsSolutions-AS3",
            (
                "Launches and terminations are routine here (target tracking, scheduled off-peak capacity); "
                "the dashboard graphs the group metrics and the alarms page on what matters."
            ),
        )

    def _boot_with(self, plan: Boot) -> None:
        """Let cfn-init fetch the code with the role, and start instances only once the role's policies exist."""
        if plan.code_buckets:
            group = self.group.node.default_child
            assert isinstance(group, autoscaling.CfnAutoScalingGroup)
            group.add_metadata(
                "AWS::CloudFormation::Authentication",
                {"CodeAssets": {"type": "S3", "roleName": self.role.role_name, "buckets": list(plan.code_buckets)}},
            )
        self.group.node.add_dependency(self.role)

    @property
    def connections(self) -> ec2.Connections:
        """The fleet's security group, for ``allow_to`` / ``allow_from`` rules."""
        return self.group.connections

    def metric_in_service(self) -> cloudwatch.Metric:
        """Instances in service (the fleet size)."""
        return cloudwatch.Metric(
            namespace="AWS/AutoScaling",
            metric_name="GroupInServiceInstances",
            dimensions_map={"AutoScalingGroupName": self.group.auto_scaling_group_name},
            statistic="Average",
            period=Duration.minutes(1),
        )
