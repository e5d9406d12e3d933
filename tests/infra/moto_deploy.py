"""Deploying the synthesized stacks into moto's CloudFormation: what moto cannot model is patched, and said so.

Every change made to a template before moto sees it is listed in :data:`PATCHES` with its
reason; :func:`patch_template` applies them and refuses to drop a resource anything still
refers to. The data stack (Aurora, ElastiCache, Secrets Manager resources) cannot be created
by moto at all: :func:`data_stand_in` builds a template with the outputs the compute stack
reads, with local stand-ins as values.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID

REGION = "us-east-1"
ACCOUNT = DEFAULT_ACCOUNT_ID

PATCHES: dict[str, str] = {
    "Custom::S3AutoDeleteObjects": "a Lambda-backed custom resource; moto runs Lambda functions only with Docker",
    "Custom::VpcRestrictDefaultSG": "a Lambda-backed custom resource (empties the default security group), as above",
    "AWS::SQS::QueuePolicy": "not modelled by moto's CloudFormation (the queues' TLS-only policies)",
    "AWS::Scheduler::Schedule": "not modelled by moto's CloudFormation (the off-peak precompute schedule)",
    "AWS::AutoScaling::ScalingPolicy": "not modelled by moto's CloudFormation (moto never evaluates scaling anyway)",
    "AWS::AutoScaling::LifecycleHook": "not modelled by moto's CloudFormation: created with Auto Scaling's API instead",
    "AWS::S3::BucketPolicy": "not modelled by moto's CloudFormation (the access-log bucket's policy)",
    "AWS::EC2::SecurityGroupEgress": "not modelled by moto's CloudFormation (egress rules)",
    "Parameters.BootstrapVersion": "no CDK bootstrap stack in moto (its version parameter and check rule)",
    "Outputs.FullName": "outputs for the observability stack read attributes moto does not model (FullName)",
    "Fn::GetStackOutput": "not modelled by moto's CloudFormation: replaced by the output's value, read from moto",
    "AWS::Cognito::UserPool": "not modelled by moto's CloudFormation: references become stand-in strings",
    "AWS::Cognito::UserPoolClient": "as AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolResourceServer": "as AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolDomain": "as AWS::Cognito::UserPool",
    "AWS::WAFv2::WebACL": "not modelled by moto's CloudFormation (the firewall): references become stand-in strings",
    "AWS::WAFv2::WebACLAssociation": "as AWS::WAFv2::WebACL",
    "AWS::WAFv2::LoggingConfiguration": "as AWS::WAFv2::WebACL",
    "AWS::SecretsManager::Secret": "not modelled by moto's CloudFormation (the peer key): its ARN becomes a stand-in",
}
"""What is changed in a template before moto deploys it, and why (a resource type, a section, a function)."""


def patch_template(template: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``template`` with :data:`PATCHES` applied."""
    patched: dict[str, Any] = json.loads(json.dumps(template))
    resources = patched["Resources"]
    # CDK names a custom resource type's provider (its function and role) after the type.
    providers = tuple(
        f"Custom{kind.removeprefix('Custom::')}CustomResourceProvider"
        for kind in PATCHES
        if kind.startswith("Custom::")
    )
    removed = {
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] in PATCHES or logical_id.startswith(providers)
    }
    stood_in = {logical_id for logical_id in removed if resources[logical_id]["Type"] in STOOD_IN}
    for logical_id in removed:
        del resources[logical_id]
    patched = _stand_in_references(patched, stood_in)
    resources = patched["Resources"]
    for resource in resources.values():
        depends = resource.get("DependsOn")
        if isinstance(depends, list):
            resource["DependsOn"] = [item for item in depends if item not in removed]
        elif depends in removed:
            del resource["DependsOn"]
    patched.get("Parameters", {}).pop("BootstrapVersion", None)
    patched.pop("Rules", None)
    outputs = patched.get("Outputs", {})
    for name in [name for name, output in outputs.items() if "FullName" in json.dumps(output["Value"])]:
        del outputs[name]
    still_used = sorted(name for name in removed if re.search(rf'"(Ref|Fn::GetAtt)": \[?"{name}"', json.dumps(patched)))
    if still_used:
        raise AssertionError(f"patched-out resources are still referenced: {still_used}")
    return patched


STOOD_IN = frozenset(kind for kind in PATCHES if kind.startswith(("AWS::Cognito::", "AWS::WAFv2::", "AWS::Secrets")))
"""Resource types whose references are replaced by ``stand-in-<logical id>[-<attribute>]`` strings."""
SECRETS = ("stand-in-PeerKey",)
"""Stood-in resources that are secrets: their stand-in is an ARN."""


def _stand_in_references(template: Any, stood_in: set[str]) -> Any:
    """``template`` with every ``Ref``/``Fn::GetAtt`` of a ``stood_in`` resource replaced by a stand-in string."""
    if isinstance(template, list):
        return [_stand_in_references(item, stood_in) for item in template]
    if not isinstance(template, dict):
        return template
    if template.keys() == {"Ref"} and template["Ref"] in stood_in:
        name = f"stand-in-{template['Ref']}"
        # A secret's Ref is its ARN, which IAM policies check the form of.
        return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}" if name.startswith(SECRETS) else name
    if template.keys() == {"Fn::GetAtt"} and template["Fn::GetAtt"][0] in stood_in:
        return f"stand-in-{template['Fn::GetAtt'][0]}-{template['Fn::GetAtt'][1]}"
    return {key: _stand_in_references(value, stood_in) for key, value in template.items()}


def stood_in(template: Mapping[str, Any]) -> set[str]:
    """The logical IDs of ``template``'s resources that :func:`patch_template` replaces by stand-in strings."""
    return {logical_id for logical_id, resource in template["Resources"].items() if resource["Type"] in STOOD_IN}


def data_stand_in(outputs: list[str], values: Callable[[str], Any], resources: Mapping[str, Any]) -> dict[str, Any]:
    """A template with ``resources`` and each of ``outputs`` (output names) valued ``values(name)``."""
    return {"Resources": dict(resources), "Outputs": {name: {"Value": values(name)} for name in outputs}}


def outputs_read(template: Mapping[str, Any], stack_name: str) -> list[str]:
    """The names of the outputs of ``stack_name`` that ``template`` reads (``Fn::GetStackOutput``)."""
    read: set[str] = set()

    def record(reference: dict[str, Any]) -> dict[str, Any]:
        if reference["StackName"] == stack_name:
            read.add(reference["OutputName"])
        return {"Fn::GetStackOutput": reference}

    _replace_stack_outputs(template, record)
    return sorted(read)


def _replace_stack_outputs(value: Any, replace: Callable[[dict[str, Any]], Any]) -> Any:
    """``value`` with each ``{"Fn::GetStackOutput": reference}`` replaced by ``replace(reference)``."""
    if isinstance(value, list):
        return [_replace_stack_outputs(item, replace) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::GetStackOutput"}:
        return replace(value["Fn::GetStackOutput"])
    return {key: _replace_stack_outputs(item, replace) for key, item in value.items()}


def zip_directory(directory: Path) -> bytes:
    """``directory``'s files as a zip archive with paths relative to it (how the CDK packages a directory asset)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


@dataclass
class Deployed:
    """The stacks moto created: physical IDs by logical ID, and their outputs."""

    cloudformation: Any
    resources: dict[str, dict[str, str]] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    created: dict[str, set[str]] = field(default_factory=dict)
    """The logical IDs moto reports for each stack (some without a physical ID)."""

    def deploy(self, stack_name: str, template: Mapping[str, Any], stood_in: Collection[str] = ()) -> None:
        """Create ``stack_name`` from ``template`` and record what it made; fail with moto's reason.

        Its ``Fn::GetStackOutput`` references are filled in from the stacks deployed before it (see PATCHES);
        ``stood_in`` names the resources :func:`patch_template` replaced by stand-ins (:func:`stood_in`).
        """
        body = _replace_stack_outputs(
            template, lambda reference: self.outputs[reference["StackName"]][reference["OutputName"]]
        )
        self.cloudformation.create_stack(
            StackName=stack_name, TemplateBody=json.dumps(body), Capabilities=["CAPABILITY_NAMED_IAM"]
        )
        stack = self.cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        if stack["StackStatus"] != "CREATE_COMPLETE":
            raise AssertionError(f"{stack_name}: {stack['StackStatus']} {stack.get('StackStatusReason')}")
        described = self.cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
        self.created[stack_name] = {item["LogicalResourceId"] for item in described}
        self.resources[stack_name] = {
            item["LogicalResourceId"]: item["PhysicalResourceId"] for item in described if "PhysicalResourceId" in item
        }
        # What moto cannot create (STOOD_IN) resolves to the same stand-in the patched template used.
        self.resources[stack_name] |= {
            logical_id: _stand_in_references({"Ref": logical_id}, {logical_id}) for logical_id in stood_in
        }
        self.outputs[stack_name] = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}

    def lookup(self, stack_name: str) -> Callable[[str, str], str]:
        """Deploy-time values of references in ``stack_name``'s template (see tests/infra/cfn.py)."""
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
        }

        def resolve(kind: str, name: str) -> str:
            if kind == "Ref":
                return pseudo.get(name) or self.resources[stack_name][name]
            if kind == "Fn::GetStackOutput":
                producer, output = name.split(":", 1)
                return self.outputs[producer][output]
            raise AssertionError(f"{kind} {name} is not resolved in the rehearsal")

        return resolve
