"""``make load`` (``python -m load``): a very short run against a local system it starts itself,
checked through its JSON interface; and its mix parser's one-line refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

from load.mix import Mix


def test_the_mix_is_parsed_and_described() -> None:
    mix = Mix.parse("reads=80,writes=15,jobs=5")
    assert (mix.reads, mix.writes, mix.jobs) == (80, 15, 5)
    assert mix.describe() == "80% reads, 15% writes, 5% jobs"
    assert Mix.parse("reads=1").describe() == "100% reads"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("reads=x", "--mix part 'reads=x': 'x' is not a number"),
        ("deletes=3", "--mix part 'deletes=3' must be reads=N, writes=N or jobs=N"),
        ("reads=0", "needs shares >= 0 and at least one above 0"),
    ],
)
def test_a_bad_mix_names_its_part(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Mix.parse(text)


@pytest.mark.slow
def test_a_short_load_writes_its_figures(tmp_path: Path) -> None:
    out, chart = tmp_path / "load.json", tmp_path / "load.png"
    run = subprocess.run(
        [
            sys.executable, "-m", "load", "--data-dir", str(tmp_path / "state"), "--duration", "4", "--users", "4",
            "--keys", "100", "--warmup", "1", "--mix", "reads=70,writes=20,jobs=10", "--out", str(out),
            "--chart", str(chart),
        ],
        capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'scripts'}:{ROOT}"},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "no local system runs from" in run.stdout  # it started one for the run
    result = json.loads(out.read_text())
    assert result["requests"] > 0
    assert result["requests_per_s"] > 0
    assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"]
    assert result["errors"] == 0, result["errors_by_status"]
    assert set(result["endpoints"]) == {"GET /items/[key]", "PUT /items/[key]", "POST /jobs"}
    for endpoint in result["endpoints"].values():
        assert {"requests", "requests_per_s", "p50_ms", "p95_ms", "p99_ms"} <= set(endpoint)
    # owner-served reads are split over the 3 nodes, and a read of a written key is mostly a cache hit
    assert len(result["node_share"]) == 3
    assert abs(sum(result["node_share"].values()) - 1) < 0.01
    assert result["hit_rate"] > 0.5
    assert result["settings"]["mix"] == "70% reads, 20% writes, 10% jobs"
    assert chart.stat().st_size > 0
    assert f"json: {out}" in run.stdout
    # the system it started was stopped: the state directory is free again
    from services.local.state_lock import StateLock

    assert StateLock(tmp_path / "state").holder_url() is None
