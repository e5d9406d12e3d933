"""Synthesized configurations shared by the infrastructure tests.

Synthesis through jsii is slow, so each configuration is synthesized once per session and
every test reads the same cloud assembly: ``dev`` and ``prod`` with the defaults (prod with the
certificate it requires), and
``mysql`` (dev with aurora-mysql, valkey, an HTTPS certificate, an alarm email and x86_64 instances).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
import pytest
from aws_cdk import assertions

import app as cdk_app
from stacks.deployment import Deployment

ROOT = Path(__file__).resolve().parents[2]
CDK_JSON_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
"""What the CDK CLI gives the app from cdk.json: the feature flags, which change the templates."""
CERTIFICATE_ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
CONFIGS: dict[str, dict[str, str]] = {
    "dev": {"stage": "dev"},
    "prod": {"stage": "prod", "certificateArn": CERTIFICATE_ARN},
    "mysql": {
        "stage": "dev",
        "auroraEngine": "aurora-mysql",
        "cacheEngine": "valkey",
        "certificateArn": CERTIFICATE_ARN,
        "alarmEmail": "ops@example.com",
        "architecture": "x86_64",
    },
}
PARTS = ("network", "data", "messaging", "compute", "observability")
FLEET_KINDS = {
    "LaunchTemplate": "AWS::EC2::LaunchTemplate",
    "GroupASG": "AWS::AutoScaling::AutoScalingGroup",
    "Role": "AWS::IAM::Role",
    "RoleDefaultPolicy": "AWS::IAM::Policy",
    "Logs": "AWS::Logs::LogGroup",
}
"""The resources of a fleet that tests look up: logical ID ``<Web|Worker>Fleet<kind>…`` and type."""


def listed(value: Any) -> list[Any]:
    """An IAM ``Action`` or ``Resource`` as a list (a policy may give one as a string)."""
    return value if isinstance(value, list) else [value]


@dataclass
class Synthesized:
    """One synthesized configuration: the app, its stacks and their templates (as JSON)."""

    name: str
    app: cdk.App
    deployment: Deployment
    assembly: cdk.cx_api.CloudAssembly
    templates: dict[str, dict[str, Any]]
    _assertions: dict[str, assertions.Template] = field(default_factory=dict)

    def template(self, part: str) -> assertions.Template:
        """The aws_cdk.assertions view of one stack's template (``network``, ``data``, …)."""
        if part not in self._assertions:
            self._assertions[part] = assertions.Template.from_json(self.templates[part])
        return self._assertions[part]

    def resources(self, part: str, resource_type: str) -> dict[str, dict[str, Any]]:
        """The resources of one type in one stack, by logical ID."""
        return {
            logical_id: resource
            for logical_id, resource in self.templates[part]["Resources"].items()
            if resource["Type"] == resource_type
        }

    def only(self, part: str, resource_type: str) -> dict[str, Any]:
        """The properties of the single resource of ``resource_type`` in ``part``."""
        found = self.resources(part, resource_type)
        assert len(found) == 1, f"expected one {resource_type} in {part}, found {sorted(found)}"
        properties: dict[str, Any] = next(iter(found.values())).get("Properties", {})
        return properties

    def fleet_id(self, fleet: str, kind: str) -> str:
        """The logical ID of the ``web`` or ``worker`` fleet's resource ``kind`` (a key of :data:`FLEET_KINDS`)."""
        prefix = f"{fleet.capitalize()}Fleet{kind}"
        (found,) = [
            logical_id for logical_id in self.resources("compute", FLEET_KINDS[kind]) if logical_id.startswith(prefix)
        ]
        return found

    def fleet_resource(self, fleet: str, kind: str) -> dict[str, Any]:
        """The template resource (``Type``, ``Properties``, ``Metadata`` …) of :meth:`fleet_id`."""
        resource: dict[str, Any] = self.templates["compute"]["Resources"][self.fleet_id(fleet, kind)]
        return resource

    def role_statements(self, fleet: str) -> list[dict[str, Any]]:
        """Every statement of every policy attached to the fleet's instance role."""
        role = {"Ref": self.fleet_id(fleet, "Role")}
        return [
            statement
            for policy in self.resources("compute", "AWS::IAM::Policy").values()
            if role in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]


def synthesize(name: str, context: dict[str, str], outdir: Path) -> Synthesized:
    """Build the app as ``cdk synth`` does (cdk.json's context, cdk-nag) and synthesize it, environment-agnostic."""
    app = cdk.App(context={**CDK_JSON_CONTEXT, **context}, outdir=str(outdir))
    deployment = cdk_app.build(app, environ={})
    assembly = app.synth()
    templates = {
        part: cast(dict[str, Any], assembly.get_stack_artifact(stack.artifact_id).template)
        for part, stack in zip(PARTS, deployment.stacks, strict=True)
    }
    return Synthesized(name, app, deployment, assembly, templates)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Synthesized]:
    """``synthesized(name)``: the configuration ``name`` of :data:`CONFIGS`, synthesized on first use."""
    cache: dict[str, Synthesized] = {}

    def get(name: str) -> Synthesized:
        if name not in cache:
            cache[name] = synthesize(name, CONFIGS[name], tmp_path_factory.mktemp(f"cdk-{name}"))
        return cache[name]

    return get


@pytest.fixture(scope="session")
def dev(synthesized: Callable[[str], Synthesized]) -> Synthesized:
    """The dev stage with its defaults."""
    return synthesized("dev")


@pytest.fixture(scope="session")
def prod(synthesized: Callable[[str], Synthesized]) -> Synthesized:
    """The prod stage with its defaults and a certificate."""
    return synthesized("prod")


@pytest.fixture(scope="session")
def mysql(synthesized: Callable[[str], Synthesized]) -> Synthesized:
    """Dev with aurora-mysql, valkey, HTTPS, an alarm email and x86_64 instances."""
    return synthesized("mysql")


@pytest.fixture(scope="session", params=list(CONFIGS))
def config(request: pytest.FixtureRequest, synthesized: Callable[[str], Synthesized]) -> Synthesized:
    """Each configuration in turn."""
    return synthesized(request.param)
