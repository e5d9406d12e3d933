"""The data stack (stateful): Aurora and ElastiCache."""

from __future__ import annotations

from aws_cdk import Environment
from constructs import Construct

from stacks.constructs.cache import Cache
from stacks.constructs.database import Database
from stacks.constructs.network import Network
from stacks.policies import log_retention
from stacks.settings import Settings
from stacks.stateful import StatefulStack


class DataStack(StatefulStack):
    """The source of truth (:class:`Database`) and the shared cache (:class:`Cache`), in the data subnets."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, network: Network, env: Environment | None
    ) -> None:
        super().__init__(
            scope, construct_id, settings=settings, description="Aurora and ElastiCache: the data", env=env
        )
        self.database = Database(
            self,
            "Database",
            vpc=network.vpc,
            subnets=network.data_subnets,
            settings=settings.database,
            protect=settings.protect_data,
            log_retention=log_retention(settings.observability.log_retention_days),
        )
        self.cache = Cache(
            self,
            "Cache",
            vpc=network.vpc,
            subnets=network.data_subnets,
            settings=settings.cache,
            protect=settings.protect_data,
        )
