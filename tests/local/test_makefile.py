"""The Makefile's front door: ``make demo`` needs neither Node nor npm and takes ``PORT``; a
virtualenv made by another Python than the ``PYTHON`` named is made again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _project_copy(tmp_path: Path, *, with_venv: bool) -> Path:
    """The Makefile, package files and (empty) requirements in ``tmp_path``, optionally a venv marked installed."""
    tmp_path.mkdir(exist_ok=True)
    shutil.copy(ROOT / "Makefile", tmp_path)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(ROOT / name, tmp_path)
    (tmp_path / "requirements").mkdir()
    for name in ("services", "dev", "constraints"):
        (tmp_path / "requirements" / f"{name}.txt").write_text("# nothing to install in this test\n")
    if with_venv:
        bin_dir = tmp_path / ".venv" / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / "python").symlink_to(sys.executable)
        (tmp_path / ".venv" / ".installed").touch()
    return tmp_path


def _make(directory: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    env = {"PATH": path or os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}  # no PYTHON variable
    return subprocess.run(
        [make, "--no-print-directory", *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_demo_needs_no_node_and_takes_a_port(tmp_path: Path) -> None:
    project = _project_copy(tmp_path / "project", with_venv=True)
    nothing = tmp_path / "empty-bin"  # a PATH without node or npm
    nothing.mkdir()
    demo = _make(project, "-n", "demo", "PORT=9090", path=str(nothing))
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert demo.stdout.splitlines() == [
        ".venv/bin/python -m services.routing.movement --nodes 4 --add 1 --keys 100000",
        ".venv/bin/python -m services.local demo --port 9090",
    ]
    assert _make(project, "-n", "demo", path=str(nothing)).stdout.splitlines()[-1].endswith("demo --port 8080")
    # the CDK targets do need the CLI from npm (so does make test, for its CLI synth test)
    assert "npm ci" in _make(project, "-n", "synth", path=str(nothing)).stdout


def _interpreters() -> dict[str, str]:
    """Python 3.11+ interpreters on this machine: minor version -> command."""
    candidates = [f"python3.{minor}" for minor in range(11, 16)]
    candidates += sorted(str(p) for p in (Path.home() / ".pyenv" / "versions").glob("3.*/bin/python3"))
    found: dict[str, str] = {}
    for candidate in candidates:
        try:
            answer = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        version = answer.stdout.strip()
        if tuple(int(part) for part in version.split(".")) >= (3, 11):
            found.setdefault(version, shutil.which(candidate) or candidate)
    return found


@pytest.mark.slow
def test_a_venv_of_another_python_than_the_one_named_is_made_again(tmp_path: Path) -> None:
    interpreters = _interpreters()
    if len(interpreters) < 2:
        pytest.skip(f"needs two Python 3.11+ versions to switch between; found {sorted(interpreters) or 'none'}")
    (first, first_python), (second, second_python) = sorted(interpreters.items())[:2]
    project = _project_copy(tmp_path, with_venv=False)
    venv_python = project / ".venv" / "bin" / "python"

    def venv_version() -> str:
        return subprocess.run(
            [str(venv_python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    made = _make(project, f"PYTHON={first_python}", ".venv/.installed")
    assert made.returncode == 0, made.stdout + made.stderr
    assert venv_version() == first

    switched = _make(project, f"PYTHON={second_python}", ".venv/.installed")
    assert switched.returncode == 0, switched.stdout + switched.stderr
    assert f".venv was made with Python {first}, PYTHON={second_python} is Python {second}: making .venv again" in (
        switched.stdout
    )
    assert venv_version() == second

    kept = _make(project, ".venv/.installed")  # no PYTHON named: whatever venv there is serves
    assert kept.returncode == 0
    assert "making .venv again" not in kept.stdout
    assert venv_version() == second
