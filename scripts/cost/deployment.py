"""The synthesized deployment as the estimate reads it: the stacks of a cloud assembly, their regions and resources.

A stack's region comes from its environment in the assembly's manifest.json; an
environment-agnostic stack (``aws://unknown-account/unknown-region``, what ``make synth``
produces without credentials) is priced in the region the caller names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from cost.assumptions import Assumptions
from cost.model import Line, Resource, resource_label

UNKNOWN_REGION = "unknown-region"
T = TypeVar("T")


@dataclass(frozen=True)
class Stack:
    """One stack: its name, the region it deploys to (None when environment-agnostic) and its template."""

    name: str
    region: str | None
    template: Mapping[str, Any]


def read_assembly(directory: Path) -> list[Stack]:
    """The CloudFormation stacks of the cloud assembly in ``directory`` (a ``cdk synth`` output folder)."""
    manifest = json.loads((directory / "manifest.json").read_text())
    stacks = []
    for artifact_id, artifact in manifest["artifacts"].items():
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        template = json.loads((directory / artifact["properties"]["templateFile"]).read_text())
        region = artifact.get("environment", "").rsplit("/", 1)[-1]
        name = artifact.get("displayName", artifact_id)
        stacks.append(Stack(name, None if region in ("", UNKNOWN_REGION) else region, template))
    return stacks


def _stack_parts(names: list[str]) -> dict[str, str]:
    """Each stack name without the prefix all of them share (``ScaledRef-prod-Compute`` -> ``Compute``)."""
    if len(names) < 2:
        return {name: name.rsplit("-", 1)[-1] for name in names}
    shared = ""
    for letters in zip(*names, strict=False):
        if len(set(letters)) > 1:
            break
        shared += letters[0]
    prefix = shared[: shared.rfind("-") + 1]
    return {name: name[len(prefix) :] or name for name in names}


class Deployment:
    """Every resource of the stacks, indexed, with the assumptions the estimate prices them under."""

    def __init__(self, stacks: list[Stack], assumptions: Assumptions, default_region: str) -> None:
        self.stacks = stacks
        self.assumptions = assumptions
        self.default_region = default_region
        parts = _stack_parts([stack.name for stack in stacks])
        self.resources: list[Resource] = [
            Resource(
                stack=stack.name,
                region=stack.region or default_region,
                logical_id=logical_id,
                type=resource["Type"],
                properties=resource.get("Properties", {}),
                metadata=resource.get("Metadata", {}),
                label=resource_label(parts[stack.name], logical_id),
            )
            for stack in stacks
            for logical_id, resource in stack.template.get("Resources", {}).items()
        ]
        self._by_id = {(r.stack, r.logical_id): r for r in self.resources}
        self._memo: dict[str, Any] = {}

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` the first time ``key`` is asked for, the same value after: facts read once per deployment."""
        if key not in self._memo:
            self._memo[key] = compute()
        value: T = self._memo[key]
        return value

    @cached_property
    def regions(self) -> list[str]:
        """The regions the stacks deploy to, in the order of the stacks."""
        return list(dict.fromkeys(resource.region for resource in self.resources))

    def share(self, region: str) -> float:
        """The share of the traffic a region serves: the assumptions are totals, split evenly between regions."""
        return 1 / len(self.regions) if region in self.regions else 0.0

    def of_type(self, *types: str) -> Iterator[Resource]:
        """The resources of the given types, in template order."""
        return (resource for resource in self.resources if resource.type in types)

    def target(self, resource: Resource, value: Any) -> Resource | None:
        """The resource of ``resource``'s stack that ``value`` (a ``Ref`` or ``Fn::GetAtt``) points at."""
        ids = referenced_ids(value)
        if len(ids) != 1:
            return None
        return self._by_id.get((resource.stack, ids[0]))

    def referencing(self, target: Resource, *types: str) -> Iterator[Resource]:
        """The resources of ``types`` in ``target``'s stack whose properties reference ``target``."""
        for resource in self.of_type(*types):
            if resource.stack == target.stack and target.logical_id in referenced_ids(resource.properties):
                yield resource


def referenced_ids(value: Any) -> list[str]:
    """The logical IDs that ``Ref`` and ``Fn::GetAtt`` name anywhere inside ``value``, in order."""
    found: list[str] = []
    if isinstance(value, list):
        for item in value:
            found.extend(referenced_ids(item))
    elif isinstance(value, dict):
        if set(value) == {"Ref"} and isinstance(value["Ref"], str) and not value["Ref"].startswith("AWS::"):
            found.append(value["Ref"])
        elif set(value) == {"Fn::GetAtt"}:
            argument = value["Fn::GetAtt"]
            found.append(argument[0] if isinstance(argument, list) else str(argument).split(".")[0])
        else:
            for item in value.values():
                found.extend(referenced_ids(item))
    return found


def render(value: Any) -> str:
    """A template string value with its intrinsic functions written as ``{ref:Id}``: enough to read a file's text.

    ``Fn::Join`` is joined, ``Ref``/``Fn::GetAtt`` become ``{ref:Id}``, anything else ``{?}``.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(render(part) for part in parts)
        ids = referenced_ids(value)
        if function in ("Ref", "Fn::GetAtt") and ids:
            return "{ref:" + ids[0] + "}"
    return "{?}"


Pricer = Callable[[Resource, Deployment], "list[Line]"]
"""Prices one resource: the lines it adds to the estimate (none when it costs nothing in this configuration)."""
