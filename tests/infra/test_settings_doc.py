"""docs/settings.md is generated from the settings models, and a stale copy fails here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stacks.context import KEYS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "settings.md"


def _generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/settings_doc.py", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_docs_settings_md_is_what_the_code_says() -> None:
    result = _generate("--check")
    assert result.returncode == 0, result.stderr


def test_a_stale_copy_fails_the_check_and_says_how_to_regenerate(tmp_path: Path) -> None:
    stale = tmp_path / "settings.md"
    stale.write_text(DOC.read_text().replace("| `maxAzs` | `2` | `3` |", "| `maxAzs` | `2` | `4` |"))
    result = _generate("--check", "--output", str(stale))
    assert result.returncode == 1
    assert result.stderr == f"{stale} is stale: run make docs (scripts/settings_doc.py) and commit it\n"
    assert _generate("--output", str(stale)).returncode == 0
    assert stale.read_text() == DOC.read_text()


def test_the_reference_lists_every_context_key_and_the_services_variables() -> None:
    text = DOC.read_text()
    context_part, services_part = text.split("## Services' environment variables")
    for key in KEYS:
        assert f"| `{key}` |" in context_part
    assert "| `webDesiredCapacity` | unset | unset |" in context_part
    for heading in ("### API node", "### Worker", "### DLQ tool", "### Local scheduler"):
        assert heading in services_part
    for variable in ("DATABASE_URL", "QUEUE_URL", "API_PORT", "LOG_LEVEL"):
        assert f"| `{variable}` |" in services_part
