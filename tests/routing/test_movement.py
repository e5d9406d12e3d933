"""The movement report: 4 -> 5 servers moves about 20%, about 5% from each old server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.routing.movement import main, movement, optimum_moved

FOUR = {f"S{i}": 1.0 for i in range(1, 5)}
FIVE = {**FOUR, "S5": 1.0}


def test_adding_a_fifth_server_takes_about_five_percent_from_each() -> None:
    report = movement(FOUR, FIVE, keys=40_000)
    ring = report.ring
    assert 0.17 < ring.moved_fraction(report.keys) < 0.23
    assert set(ring.moved) == {"S1", "S2", "S3", "S4"}
    for news in ring.moved.values():
        assert set(news) == {"S5"}  # never a cascade S1 -> S2 -> S3 ...
        assert 0.03 < news["S5"] / report.keys < 0.07
    assert ring.moved_between_survivors == 0
    assert abs(report.exact_moved - report.exact_share_after["S5"]) < 1e-12
    assert report.modulo.moved_fraction(report.keys) > 0.75
    assert report.modulo.moved_between_survivors > 0.5 * report.keys


def test_removing_a_server_moves_only_its_keys() -> None:
    report = movement(FIVE, FOUR, keys=20_000)
    assert set(report.ring.moved) == {"S5"}
    assert report.ring.moved_total == report.ring.keys_before["S5"]
    assert report.ring.moved_between_survivors == 0


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [(FOUR, FIVE, 0.2), (FIVE, FOUR, 0.2), ({"a": 1.0}, {"a": 1.0, "b": 3.0}, 0.75), (FOUR, FOUR, 0.0)],
)
def test_the_optimum_is_the_least_any_scheme_can_move(
    before: dict[str, float], after: dict[str, float], expected: float
) -> None:
    assert optimum_moved(before, after) == pytest.approx(expected)


def test_the_command_prints_json_and_draws_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chart = tmp_path / "chart.png"
    assert main(["--nodes", "4", "--add", "1", "--keys", "5000", "--json", "--chart", str(chart)]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["joined"] == ["S5"]
    assert data["optimum"] == pytest.approx(0.2)
    assert 0.15 < data["ring"]["moved_fraction"] < 0.25
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(chart) in err


def test_the_command_prints_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--nodes", "4", "--add", "1", "--keys", "2000", "--no-chart"]) == 0
    out = capsys.readouterr().out
    assert "4 -> 5 servers (+S5)" in out
    assert "consistent hashing" in out
    assert "hash % n" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--remove", "S9"], "unknown server 'S9'"),
        (["--weights", "S1=heavy", "--add", "1"], "weight of 'S1' must be a number"),
        (["--weights", "S1", "--add", "1"], "NAME=WEIGHT"),
        (["--weights", "S1=0", "--add", "1"], "weight of node 'S1'"),
        (["--nodes", "3"], "nothing changes"),
        (["--nodes", "0", "--add", "1"], "--nodes must be at least 1"),
        (["--keys", "0", "--add", "1"], "--keys must be a positive integer"),
        (["--nodes", "1", "--remove", "S1"], "leaves no servers"),
    ],
)
def test_bad_arguments_get_one_line_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--no-chart"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_a_chart_in_a_missing_folder_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "missing" / "deeper" / "x.png"
    with pytest.raises(SystemExit) as exit_:
        main(["--nodes", "4", "--add", "1", "--keys", "1000", "--chart", str(chart)])
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""  # refused before the report was computed or printed
    assert err.count("\n") == 1
    assert f"--chart {chart}: the folder {chart.parent} does not exist" in err
    assert not (tmp_path / "missing").exists()


def test_a_chart_path_that_is_a_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--nodes", "4", "--add", "1", "--keys", "1000", "--chart", str(tmp_path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"--chart {tmp_path} is a folder" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_chart_that_cannot_be_written_gets_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "x.png"
    chart.symlink_to(tmp_path / "gone" / "x.png")  # its folder exists; writing through it fails
    with pytest.raises(SystemExit) as exit_:
        main(["--nodes", "4", "--add", "1", "--keys", "1000", "--json", "--chart", str(chart)])
    assert exit_.value.code == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["joined"] == ["S5"]  # the report itself was delivered
    assert err == f"error: --chart {chart}: No such file or directory\n"
    assert not (tmp_path / "gone").exists()
