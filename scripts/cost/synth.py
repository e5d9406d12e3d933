"""Synthesizing the stage to price: the CDK CLI as ``make synth`` runs it, plus the placeholders a stage needs.

A prod synth needs values only a real deployment has (a certificate for HTTPS, an alarm
subscriber); none of them changes a price, so the estimate passes well-formed dummies, names
them in its header, and never overrides a key the caller set in ``CDK_ARGS``. A placeholder is
passed only when this checkout's CDK app declares its key (stacks/context.py), so the tool works
before and after the issues that add them.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Placeholder:
    """A context value the estimate passes when the caller has not: for which stages, and why it is harmless."""

    key: str
    value: str
    stages: tuple[str, ...]
    why: str


PLACEHOLDERS: Final = (
    Placeholder(
        "certificateArn",
        "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-4000-8000-000000000000",
        ("prod",),
        "prod serves HTTPS only; a dummy ARN (public certificates are free)",
    ),
    Placeholder("alarmEmail", "alarms@example.com", ("prod",), "prod needs an alarm subscriber; e-mail is free"),
)
ACCOUNT_PLACEHOLDER: Final = Placeholder(
    "account", "123456789012", ("dev", "prod"), "cross-region references need an account id; a dummy one"
)


@dataclass(frozen=True)
class SynthPlan:
    """The context to synthesize with, what of it is a placeholder (key -> why), and notes for the header."""

    context: dict[str, str]
    placeholders: dict[str, str]
    notes: list[str]


def given_keys(cdk_args: str) -> set[str]:
    """The context keys ``cdk_args`` sets (``-c key=value``, ``--context key=value``, ``--context=key=value``)."""
    words = shlex.split(cdk_args)
    keys = set()
    for i, word in enumerate(words):
        value = None
        if word in ("-c", "--context") and i + 1 < len(words):
            value = words[i + 1]
        elif word.startswith("--context="):
            value = word.split("=", 1)[1]
        if value and "=" in value:
            keys.add(value.split("=", 1)[0])
    return keys


def plan(stage: str, regions: list[str], cdk_args: str, known_keys: Collection[str]) -> SynthPlan:
    """The context for ``stage`` (and ``regions`` when the app can deploy to several), given the caller's args."""
    given = given_keys(cdk_args)
    context = {"stage": stage}
    placeholders: dict[str, str] = {}
    notes: list[str] = []
    wanted = [p for p in PLACEHOLDERS if stage in p.stages]
    if regions:
        if "regions" in known_keys:
            context["regions"] = ",".join(regions)
            wanted.append(ACCOUNT_PLACEHOLDER)
        else:
            notes.append(
                f"REGIONS={','.join(regions)}: this checkout's CDK app has no `regions` context key yet (issue 13), "
                f"so the templates are single-region; priced at {regions[0]} prices"
            )
    for placeholder in wanted:
        if placeholder.key in known_keys and placeholder.key not in given:
            context[placeholder.key] = placeholder.value
            placeholders[placeholder.key] = placeholder.why
    return SynthPlan(context, placeholders, notes)


def command(synth_plan: SynthPlan, cdk_args: str, outdir: Path) -> list[str]:
    """The CDK CLI command that synthesizes ``synth_plan`` into ``outdir``."""
    context = [arg for key, value in synth_plan.context.items() for arg in ("-c", f"{key}={value}")]
    return [
        "npx",
        "--no-install",
        "cdk",
        "synth",
        "--quiet",
        "--no-notices",
        "-o",
        str(outdir),
        *context,
        *shlex.split(cdk_args),
    ]


class SynthError(RuntimeError):
    """The CDK app refused the context (its own one-line error is the message)."""


def synthesize(synth_plan: SynthPlan, cdk_args: str, outdir: Path) -> None:
    """Run the CDK CLI; raise :class:`SynthError` with the app's error lines when it fails."""
    env = {**os.environ, "NODE_NO_WARNINGS": "1", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
    result = subprocess.run(
        command(synth_plan, cdk_args, outdir), cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        noise = ("Subprocess exited with error", "Successfully synthesized")
        errors = [line for line in result.stderr.splitlines() if line.strip() and not any(n in line for n in noise)]
        raise SynthError("\n".join(errors[-5:]) or f"cdk synth failed with status {result.returncode}")
