"""One stage of the deployment: the five stacks, composed and wired from :class:`Settings`."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Environment, Tags
from constructs import Construct

from stacks.compute import ComputeStack
from stacks.data import DataStack
from stacks.messaging import MessagingStack
from stacks.network import NetworkStack
from stacks.observability import ObservabilityStack
from stacks.settings import Settings

PROJECT = "scaled-reference"


class Deployment:
    """The stacks of one stage, named ``ScaledRef-<stage>-<Part>``, in dependency order.

    Network ← Data, Messaging ← Compute ← Observability. Data and Messaging hold state and
    are termination-protected when ``settings.protect_data`` (prod); the others can be
    replaced freely. ``env=None`` keeps every stack environment-agnostic.
    """

    def __init__(self, scope: Construct, *, settings: Settings, env: Environment | None, source_root: Path) -> None:
        prefix = f"ScaledRef-{settings.stage}"
        self.settings = settings
        self.network = NetworkStack(scope, f"{prefix}-Network", settings=settings, env=env)
        self.data = DataStack(scope, f"{prefix}-Data", settings=settings, network=self.network.network, env=env)
        self.messaging = MessagingStack(scope, f"{prefix}-Messaging", settings=settings, env=env)
        self.compute = ComputeStack(
            scope,
            f"{prefix}-Compute",
            settings=settings,
            network=self.network.network,
            database=self.data.database,
            cache=self.data.cache,
            jobs=self.messaging.jobs,
            source_root=source_root,
            env=env,
        )
        self.observability = ObservabilityStack(
            scope,
            f"{prefix}-Observability",
            settings=settings,
            data=self.data,
            messaging=self.messaging,
            compute=self.compute,
            env=env,
        )
        for stack in self.stacks:
            Tags.of(stack).add("project", PROJECT)
            Tags.of(stack).add("stage", settings.stage)

    @property
    def stacks(self) -> tuple[NetworkStack, DataStack, MessagingStack, ComputeStack, ObservabilityStack]:
        """Every stack, in dependency order."""
        return (self.network, self.data, self.messaging, self.compute, self.observability)
