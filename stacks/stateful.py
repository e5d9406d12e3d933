"""The base of the stacks that hold data."""

from __future__ import annotations

from aws_cdk import Environment, Stack
from constructs import Construct

from stacks.settings import Settings


class StatefulStack(Stack):
    """A stack whose resources hold data: termination-protected whenever the stage protects its data.

    Keep stateful resources in such stacks only, so the other stacks can be replaced freely.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, description: str, env: Environment | None
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=env,
            description=f"{description} ({settings.stage})",
            termination_protection=settings.protect_data,
        )
