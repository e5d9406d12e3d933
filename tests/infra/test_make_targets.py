"""The CDK make targets: synth keeps the last templates when it fails; diff/deploy/destroy name missing credentials."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
CREDENTIALS_CHECK = ROOT / "scripts" / "aws_credentials.py"
FAKE_CDK = textwrap.dedent(
    """\
    import os, pathlib, sys
    # Stands in for `npx cdk synth ... -o DIR ...`: writes DIR like the CLI, then succeeds or fails.
    out = pathlib.Path(sys.argv[sys.argv.index("-o") + 1])
    out.mkdir(parents=True)
    (out / "manifest.json").write_text("{}")
    if os.environ["FAKE_CDK"] == "fail":
        print("context error: stage must be one of dev, prod; got 'prd'", file=sys.stderr)
        print("python3 app.py: Subprocess exited with error 1", file=sys.stderr)
        sys.exit(1)
    print(f"Successfully synthesized to {out.resolve()}", file=sys.stderr)
    print("Supply a stack id (ScaledRef-dev-Network) to display its template.", file=sys.stderr)
    print("a line the CLI prints on stdout")
    """
)


def _make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``make`` as a user runs it, also when the tests themselves run under ``make test``."""
    if shutil.which("make") is None:
        skip_or_fail("make is not installed")
    inherited = {"MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES"}
    environ = {key: value for key, value in (env or os.environ).items() if key not in inherited}
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    """An output folder holding the templates of an earlier synth."""
    out = tmp_path / "cdk.out"
    out.mkdir()
    (out / "earlier.template.json").write_text("{}")
    return out


def _fake_synth(tmp_path: Path, out: Path, mode: str) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "fake_cdk.py"
    fake.write_text(FAKE_CDK)
    return _make("synth", f"CDK={sys.executable} {fake}", f"CDK_OUT={out}", env={**os.environ, "FAKE_CDK": mode})


def test_synth_swaps_in_the_new_templates_only_when_it_succeeds(tmp_path: Path, previous: Path) -> None:
    result = _fake_synth(tmp_path, previous, "ok")
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in previous.iterdir()) == ["manifest.json"]
    assert not Path(f"{previous}.next").exists()
    assert result.stdout == f"a line the CLI prints on stdout\ndev templates in {previous}/\n"
    assert result.stderr == "", "the CLI's lines about the temporary folder are dropped"


def test_a_failed_synth_keeps_the_previous_templates_and_prints_one_line(tmp_path: Path, previous: Path) -> None:
    result = _fake_synth(tmp_path, previous, "fail")
    assert result.returncode != 0
    assert sorted(path.name for path in previous.iterdir()) == ["earlier.template.json"]
    assert not Path(f"{previous}.next").exists()
    lines = result.stderr.splitlines()
    assert lines[0] == "context error: stage must be one of dev, prod; got 'prd'"
    assert lines[1:] == [line for line in lines[1:] if line.startswith("make: ***")], "only make's own status line"


@pytest.mark.slow
def test_make_synth_with_a_bad_stage_prints_the_apps_line_and_keeps_cdk_out(previous: Path) -> None:
    if not (ROOT / "node_modules" / ".bin" / "cdk").exists():
        skip_or_fail("node_modules missing: run make test (it runs npm ci)")
    result = _make("synth", "STAGE=prd", f"CDK_OUT={previous}")
    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == "context error: stage must be one of dev, prod; got 'prd'"
    assert "Traceback" not in result.stderr
    assert "Subprocess exited" not in result.stderr
    assert len(result.stderr.splitlines()) == 2, result.stderr  # the app's line and make's
    assert sorted(path.name for path in previous.iterdir()) == ["earlier.template.json"]


def _without_aws(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment with no AWS credentials anywhere botocore looks (offline: no instance role)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CDK_"))}
    missing = str(tmp_path / "none")
    return env | {
        "AWS_CONFIG_FILE": missing,
        "AWS_SHARED_CREDENTIALS_FILE": missing,
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }


def _check(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CREDENTIALS_CHECK), "deploy"],
        env=_without_aws(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "no AWS credentials found"),
        ({"AWS_PROFILE": "nope"}, "AWS_PROFILE=nope names no profile in ~/.aws/config or ~/.aws/credentials"),
        ({"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"}, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"),
        ({"AWS_SECRET_ACCESS_KEY": "secret"}, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"),
    ],
)
def test_missing_credentials_are_named_in_one_line(tmp_path: Path, extra: dict[str, str], expected: str) -> None:
    result = _check(tmp_path, **extra)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"make deploy needs AWS credentials: {expected}")
    assert result.stderr.count("\n") == 1
    if not extra:
        assert "AWS_PROFILE" in result.stderr
        assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in result.stderr


def test_credentials_from_the_environment_or_a_profile_pass_silently(tmp_path: Path) -> None:
    keys = _check(tmp_path, AWS_ACCESS_KEY_ID="AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY="secret")
    assert (keys.returncode, keys.stdout, keys.stderr) == (0, "", "")
    config = tmp_path / "config"
    config.write_text("[profile ops]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = secret\n")
    profile = _check(tmp_path, AWS_PROFILE="ops", AWS_CONFIG_FILE=str(config))
    assert (profile.returncode, profile.stdout, profile.stderr) == (0, "", "")


@pytest.mark.parametrize("target", ["diff", "deploy", "destroy"])
def test_cdk_targets_stop_before_the_cli_when_credentials_are_missing(tmp_path: Path, target: str) -> None:
    # A CDK stand-in that records being run: the check must stop make before it.
    ran = tmp_path / "cdk-ran"
    result = _make(target, f"CDK=touch {ran};", env=_without_aws(tmp_path))
    assert result.returncode != 0
    assert result.stderr.startswith(f"make {target} needs AWS credentials: no AWS credentials found")
    assert not ran.exists()
