"""The compute stack (stateless): the load balancer, the web and worker fleets, and their scaling."""

from __future__ import annotations

from pathlib import Path
from typing import Final, cast

from aws_cdk import CfnElement, CfnOutput, Duration, Environment, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.constructs.backlog_scaling import BacklogScaling
from stacks.constructs.cache import Cache
from stacks.constructs.caller_auth import CallerAuth
from stacks.constructs.database import Database
from stacks.constructs.fleet import BootPlan, Fleet
from stacks.constructs.job_queue import JobQueue
from stacks.constructs.load_balancer import PublicLoadBalancer
from stacks.constructs.network import Network
from stacks.constructs.peer_key import PeerKey
from stacks.constructs.service_boot import Service, ServiceBoot
from stacks.constructs.service_code import ServiceCode
from stacks.constructs.web_firewall import WebFirewall
from stacks.nag import acknowledge
from stacks.policies import log_retention, removal_policy
from stacks.settings import FleetSettings, Settings

DRAIN_HOOK_NAME: Final = "drain"
"""Name of the worker group's termination lifecycle hook (names are per group, so a constant is unique)."""
SCHEDULE_TIME_ZONE: Final = "Etc/UTC"


class ComputeStack(Stack):
    """The ALB and the two fleets, wired to the data and messaging stacks.

    - web: behind :class:`PublicLoadBalancer` and its :class:`WebFirewall` (AWS WAF), scaled on
      requests per target, peers reach each other on ``peer_port`` (a node forwards a request to
      the key's owner), may send jobs;
    - worker: scaled on the queue backlog per instance (:class:`BacklogScaling`), drained by a
      termination lifecycle hook, held larger around the off-peak precompute job, consumes jobs;
    - both reach Aurora and ElastiCache on their ports only and read the :class:`ServiceCode`.

    Each instance boots its service from the :class:`ServiceCode` through :meth:`boot`
    (cfn-init, systemd, the CloudWatch agent; see :class:`ServiceBoot`), configured with the
    endpoints of ``database``, ``cache`` and ``jobs``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        network: Network,
        database: Database,
        cache: Cache,
        jobs: JobQueue,
        source_root: Path,
        env: Environment | None,
    ) -> None:
        super().__init__(
            scope, construct_id, env=env, description=f"Load balancer, web and worker fleets ({settings.stage})"
        )
        self.settings = settings
        self.database, self.cache, self.jobs = database, cache, jobs
        web, worker = settings.web, settings.worker
        self.code = ServiceCode(self, "ServiceCode", source_root=source_root)
        self.auth = CallerAuth(
            self,
            "CallerAuth",
            stage=settings.stage,
            domain_prefix=settings.auth.domain_prefix,
            removal_policy=removal_policy(settings.protect_data),
            deletion_protection=settings.protect_data,
        )
        self.peer_key = PeerKey(self, "PeerKey")
        self.service_boot = ServiceBoot(
            settings=settings,
            code=self.code,
            database=database,
            cache=cache,
            jobs=jobs,
            auth=self.auth,
            peer_key=self.peer_key.secret,
            drain_hook_name=DRAIN_HOOK_NAME,
        )

        self.load_balancer = PublicLoadBalancer(
            self,
            "LoadBalancer",
            vpc=network.vpc,
            subnets=network.public_subnets,
            target_port=web.service_port,
            health_check_path=web.health_check_path,
            certificate_arn=web.certificate_arn,
            removal_policy=removal_policy(settings.protect_data),
            deletion_protection=settings.protect_data,
        )
        self.firewall = WebFirewall(
            self,
            "Firewall",
            settings=settings.waf,
            load_balancer_arn=self.load_balancer.load_balancer.load_balancer_arn,
            stage=settings.stage,
            log_retention=log_retention(settings.observability.log_retention_days),
            removal_policy=removal_policy(settings.protect_data),
        )
        self.web = self._fleet(network, "web", web.fleet, load_balanced=True)
        self.web.group.attach_to_application_target_group(self.load_balancer.target_group)
        self.web.group.scale_on_request_count("RequestsPerTarget", target_requests_per_minute=web.requests_per_target)
        self.web.connections.allow_internally(
            ec2.Port.tcp(web.peer_port), "Web nodes forward a request to the node that owns its key"
        )
        jobs.grant_produce(self.web.role)

        self.worker = self._fleet(network, "worker", worker.fleet, load_balanced=False)
        self.backlog_scaling = BacklogScaling(
            self,
            "WorkerBacklogScaling",
            group=self.worker.group,
            queue=jobs.queue,
            backlog_per_instance=worker.backlog_per_instance,
        )
        self.drain_hook = self._add_drain_hook(worker.drain_timeout_seconds)
        self._hold_capacity_for_precompute()
        jobs.grant_work(self.worker.role)

        for fleet in (self.web, self.worker):
            fleet.connections.allow_to(database.connections, ec2.Port.tcp(database.port), f"{fleet.service} to Aurora")
            fleet.connections.allow_to(cache.connections, ec2.Port.tcp(cache.port), f"{fleet.service} to the cache")

        CfnOutput(self, "LoadBalancerDns", value=self.load_balancer.dns_name, description="Where clients connect")
        CfnOutput(self, "TokenUrl", value=self.auth.token_url, description="POST client credentials here for a token")
        CfnOutput(self, "ClientId", value=self.auth.client.user_pool_client_id, description="The machine client's id")
        CfnOutput(
            self,
            "ClientSecretCommand",
            value=self.auth.secret_command,
            description="Prints the machine client's secret (never stored in a template or an output)",
        )

    def boot(self, service: Service) -> BootPlan | None:
        """The code-delivery seam: how ``service``'s (``web`` or ``worker``) instances get and start their code.

        The plan installs the services from ``self.code`` with cfn-init, configured for
        ``self.database``, ``self.cache`` and ``self.jobs``, and signals when the service
        answers; it also turns on ELB health checks for the web fleet. ``None`` would boot
        the bare Amazon Linux image with only the SSM agent.
        """
        return self.service_boot.plan(service)

    def _fleet(self, network: Network, service: Service, fleet: FleetSettings, *, load_balanced: bool) -> Fleet:
        """The ``service`` fleet (construct ID ``WebFleet`` or ``WorkerFleet``) in the app subnets."""
        return Fleet(
            self,
            f"{service.capitalize()}Fleet",
            service=service,
            vpc=network.vpc,
            subnets=network.app_subnets,
            settings=fleet,
            code=self.code,
            log_retention=log_retention(self.settings.observability.log_retention_days),
            log_removal_policy=removal_policy(self.settings.protect_data),
            load_balanced=load_balanced,
            boot=self.boot(service),
        )

    def _add_drain_hook(self, timeout_seconds: int) -> autoscaling.LifecycleHook:
        """Terminating workers wait (up to ``timeout_seconds``) until they have finished their jobs.

        The worker notices the Terminating:Wait state and completes the action itself; without
        that, the default result (CONTINUE) applies when the heartbeat timeout expires.
        """
        hook = self.worker.group.add_lifecycle_hook(
            "Drain",
            lifecycle_hook_name=DRAIN_HOOK_NAME,
            lifecycle_transition=autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
            heartbeat_timeout=Duration.seconds(timeout_seconds),
            default_result=autoscaling.DefaultResult.CONTINUE,
        )
        # A separate policy: the group (via its launch template) depends on the role, so the
        # role's default policy must not reference the group.
        policy = iam.Policy(
            self,
            "WorkerDrainPolicy",
            roles=[self.worker.role],
            statements=[
                iam.PolicyStatement(
                    actions=["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"],
                    resources=[self.worker.group.auto_scaling_group_arn],
                )
            ],
        )
        group_id = self.get_logical_id(cast(CfnElement, self.worker.group.node.default_child))
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:"
            f"autoScalingGroup:*:autoScalingGroupName/<{group_id}>]",
            "The * is the group's UUID, unknown until it exists; the ARN names this one worker group.",
        )
        return hook

    def _hold_capacity_for_precompute(self) -> None:
        """Raise the worker minimum before the off-peak job fires and restore it after its window."""
        precompute, minimum = self.settings.precompute, self.settings.worker.fleet.min_capacity
        for name, cron, capacity in (
            ("PrecomputeScaleUp", precompute.scale_up_cron, precompute.capacity),
            ("PrecomputeScaleDown", precompute.scale_down_cron, minimum),
        ):
            self.worker.group.scale_on_schedule(
                name,
                schedule=autoscaling.Schedule.expression(cron),
                min_capacity=capacity,
                time_zone=SCHEDULE_TIME_ZONE,
            )
