"""The defaults of the CDK context keys: what differs between the stages, and what follows from other keys.

Keys found in neither table have one default for both stages, declared on their field in
:mod:`stacks.context`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import Field
from pydantic.alias_generators import to_camel

from stacks.context_types import DEFAULT_DB_PORTS, STAGES, AuroraEngine, Stage


@dataclass(frozen=True)
class Derived:
    """A default computed from keys declared before it; ``rule`` says how, for people."""

    rule: str
    compute: Callable[[Mapping[str, Any]], Any]
    """Called with the values read so far, by context key."""


def by_architecture(arm64: str, x86_64: str) -> Derived:
    """An instance type per CPU architecture: Graviton by default, Intel with ``architecture=x86_64``."""
    return Derived(
        f"{x86_64} with architecture=x86_64", lambda values: {"arm64": arm64, "x86_64": x86_64}[values["architecture"]]
    )


STAGE_DEFAULTS: Final[dict[Stage, dict[str, object]]] = {
    "dev": {
        "protectData": False,
        "maxAzs": 2,
        "natGateways": 1,
        "interfaceEndpoints": False,
        "dbMinCapacity": 0.5,
        "dbMaxCapacity": 2.0,
        "dbBackupRetentionDays": 1,
        "cacheNodeType": "cache.t4g.micro",
        "cacheMultiAz": False,
        "cacheSnapshotRetentionDays": 1,
        "webInstanceType": by_architecture(arm64="t4g.small", x86_64="t3.small"),
        "webMinCapacity": 1,
        "webMaxCapacity": 3,
        "workerInstanceType": by_architecture(arm64="t4g.small", x86_64="t3.small"),
        "workerMinCapacity": 1,
        "workerMaxCapacity": 2,
        "logRetentionDays": 7,
        "demoJobTypes": True,
    },
    "prod": {
        "protectData": True,
        "maxAzs": 3,
        "natGateways": Derived("maxAzs (one per zone)", lambda values: values["maxAzs"]),
        "interfaceEndpoints": True,
        "dbMinCapacity": 1.0,
        "dbMaxCapacity": 16.0,
        "dbBackupRetentionDays": 7,
        "cacheNodeType": "cache.m7g.large",
        "cacheMultiAz": True,
        "cacheSnapshotRetentionDays": 7,
        "webInstanceType": by_architecture(arm64="m7g.large", x86_64="m7i.large"),
        "webMinCapacity": 3,
        "webMaxCapacity": 12,
        "workerInstanceType": by_architecture(arm64="m7g.large", x86_64="m7i.large"),
        "workerMinCapacity": 2,
        "workerMaxCapacity": 10,
        "logRetentionDays": 90,
        "demoJobTypes": False,
    },
}
"""The keys whose defaults differ between the stages; every other key has one default for both."""

PROD_MIN_BACKUP_RETENTION_DAYS: Final = 7


def estimated_max_connections(engine: AuroraEngine, max_capacity: float) -> int:
    """Aurora's default max_connections at ``max_capacity`` ACUs (2 GiB each), capped at 5000 as Aurora does.

    PostgreSQL: memory / 9,531,392 bytes; MySQL: memory / 12,582,880 bytes (the parameter-group formulas).
    """
    memory = max_capacity * 2 * 1024**3
    per_connection = 9_531_392 if engine == "aurora-postgresql" else 12_582_880
    return min(5000, int(memory // per_connection))


DERIVED_DEFAULTS: Final[dict[str, Derived]] = {
    "dbPort": Derived("the engine's default port + 1", lambda v: DEFAULT_DB_PORTS[v["auroraEngine"]] + 1),
    "peerPort": Derived("servicePort", lambda v: v["servicePort"]),
    "precomputeCapacity": Derived(
        "min(workerMaxCapacity, 3 * workerMinCapacity)",
        lambda v: min(v["workerMaxCapacity"], 3 * v["workerMinCapacity"]),
    ),
    "alarmDbConnections": Derived(
        "80% of Aurora's max_connections at dbMaxCapacity",
        lambda v: estimated_max_connections(v["auroraEngine"], v["dbMaxCapacity"]) * 4 // 5,
    ),
}
"""The keys whose defaults, in both stages, follow from keys declared before them."""


def _values(data: Mapping[str, Any]) -> dict[str, Any]:
    return {to_camel(name): value for name, value in data.items()}


def stage_default(key: str, description: str) -> Any:
    """A field whose default is ``key``'s entry in :data:`STAGE_DEFAULTS` for the stage being read."""

    def default(data: dict[str, Any]) -> Any:
        value = STAGE_DEFAULTS[data["stage"]][key]
        return value.compute(_values(data)) if isinstance(value, Derived) else value

    return Field(default_factory=default, description=description)


def derived_default(key: str, description: str) -> Any:
    """A field whose default is ``key``'s rule in :data:`DERIVED_DEFAULTS`."""
    return Field(default_factory=lambda data: DERIVED_DEFAULTS[key].compute(_values(data)), description=description)


def default_rule(key: str, stage: Stage) -> str | None:
    """How ``key``'s default is computed in ``stage``, if it is (``maxAzs (one per zone)``)."""
    entry = STAGE_DEFAULTS[stage].get(key, DERIVED_DEFAULTS.get(key))
    return entry.rule if isinstance(entry, Derived) else None


def default_note(key: str) -> str:
    """How ``key``'s computed defaults follow from other keys, in words (empty when they are constants)."""
    rules = {stage: default_rule(key, stage) for stage in STAGES}
    if len(set(rules.values())) == 1:
        rule = rules[STAGES[0]]
        return f"default: {rule}" if rule else ""
    return "; ".join(f"{stage} default: {rule}" for stage, rule in rules.items() if rule)
