"""A CloudFormation intrinsic-function evaluator for the tests: what a template value becomes at deploy time.

The caller says what each reference resolves to (``lookup(kind, name)`` for ``Ref``,
``Fn::GetAtt`` and ``Fn::GetStackOutput``, CDK's cross-stack reference with cdk.json's
``defaultCrossStackReferences: weak``); the evaluator does the rest (``Fn::Join``, ``Fn::Sub``,
``Fn::Select``, ``Fn::Base64``, ``Fn::Split``) the way CloudFormation does; any other function
goes to the lookup with its argument as JSON.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

Lookup = Callable[[str, str], str]
"""``lookup(kind, name)``: kind is ``Ref``, ``Fn::GetAtt`` (name ``Logical.Attribute``) or
``Fn::GetStackOutput`` (name ``Stack:Output``)."""
_THIS_REGION = {"Ref": "AWS::Region"}

_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


def evaluate(value: Any, lookup: Lookup) -> Any:
    """``value`` with every intrinsic function evaluated."""
    if isinstance(value, list):
        return [evaluate(item, lookup) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return lookup("Ref", argument)
        if function == "Fn::GetAtt":
            name = ".".join(argument) if isinstance(argument, list) else argument
            return lookup("Fn::GetAtt", name)
        if function == "Fn::GetStackOutput":
            same_place = argument.get("Region", _THIS_REGION) == _THIS_REGION and "RoleArn" not in argument
            assert same_place, f"a reference to another region or account: {argument}"
            return lookup("Fn::GetStackOutput", f"{argument['StackName']}:{argument['OutputName']}")
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(str(part) for part in evaluate(parts, lookup))
        if function == "Fn::Sub":
            return _sub(argument, lookup)
        if function == "Fn::Select":
            index, items = argument
            evaluated, position = evaluate(items, lookup), int(evaluate(index, lookup))
            if not isinstance(evaluated, list) or position >= len(evaluated):
                # A list only known at deploy time (zones, a split attribute): left to the lookup.
                return lookup("Fn::Select", json.dumps([position, evaluated]))
            return evaluated[position]
        if function == "Fn::Split":
            separator, text = argument
            return str(evaluate(text, lookup)).split(separator)
        if function == "Fn::Base64":
            return base64.b64encode(str(evaluate(argument, lookup)).encode()).decode()
        if function.startswith("Fn::"):
            # Conditions, mappings, zones: left to the lookup (markers show them as they are).
            return lookup(function, json.dumps(argument, sort_keys=True))
    return {key: evaluate(item, lookup) for key, item in value.items()}


def _sub(argument: Any, lookup: Lookup) -> str:
    template, variables = (argument, {}) if isinstance(argument, str) else argument

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return str(evaluate(variables[name], lookup))
        if "." in name:
            return lookup("Fn::GetAtt", name)
        return lookup("Ref", name)

    return _SUB.sub(replace, template)


def markers(kind: str, name: str) -> str:
    """A lookup that keeps each reference visible: ``<Ref:Name>``, ``<Fn::GetStackOutput:Stack:Output>``."""
    return f"<{kind}:{name}>"
