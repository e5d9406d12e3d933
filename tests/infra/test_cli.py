"""The pinned CDK CLI runs the app from cdk.json, offline, without warnings, and makes what the tests check."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import skip_or_fail
from tests.infra.conftest import CERTIFICATE_ARN, PARTS, Synthesized

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"


@pytest.mark.slow
def test_npx_cdk_synth_prod_writes_the_templates_quietly(tmp_path: Path, prod: Synthesized) -> None:
    if not CDK.exists():
        skip_or_fail("node_modules missing: run make test (it runs npm ci)")
    # No AWS credentials, no banner switch: the app command in cdk.json must cope on its own.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "CDK_")) and key != "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"
    }
    missing = str(tmp_path / "none")
    env |= {"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": missing, "AWS_SHARED_CREDENTIALS_FILE": missing}
    result = subprocess.run(
        [
            str(CDK),
            "synth",
            "--quiet",
            "--no-notices",
            "-c",
            "stage=prod",
            "-c",
            f"certificateArn={CERTIFICATE_ARN}",
            "-o",
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    output = (result.stdout + result.stderr).lower()
    for noise in ("warn", "deprecat", "end-of-life", "node.js"):
        assert noise not in output, result.stdout + result.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    stacks = {
        name for name, artifact in manifest["artifacts"].items() if artifact["type"] == "aws:cloudformation:stack"
    }
    assert stacks == {f"ScaledRef-prod-{part}" for part in ("Network", "Data", "Messaging", "Compute", "Observability")}
    # The tests' own synthesis (tests/infra/conftest.py) must make the same stacks, or they check something else.
    for part, stack in zip(PARTS, prod.deployment.stacks, strict=True):
        template = json.loads((tmp_path / "out" / f"{stack.artifact_id}.template.json").read_text())
        assert _shape(template) == _shape(prod.templates[part]), part


def _shape(template: dict[str, Any]) -> tuple[dict[str, str], set[str]]:
    """Each resource's type by logical ID, and the output names (the CLI adds only CDKMetadata)."""
    resources = {logical_id: resource["Type"] for logical_id, resource in template["Resources"].items()}
    resources.pop("CDKMetadata", None)
    return resources, set(template.get("Outputs", {}))
