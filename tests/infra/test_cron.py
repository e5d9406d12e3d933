"""Shifting the off-peak cron for the worker's scheduled capacity."""

from __future__ import annotations

import pytest

from stacks.cron import CronError, check_cron, shift_cron


@pytest.mark.parametrize(
    ("cron", "minutes", "expected"),
    [
        ("0 3 * * *", -15, "45 2 * * *"),
        ("0 3 * * *", 60, "0 4 * * *"),
        ("10 0 * * *", -15, "55 23 * * *"),
        ("50 23 * * *", 20, "10 0 * * *"),
        ("30 1 * * MON-FRI", -15, "15 1 * * 1-5"),
        ("0 12 1 * SAT,SUN", 90, "30 13 1 * 6,0"),
    ],
)
def test_shift_moves_minute_and_hour(cron: str, minutes: int, expected: str) -> None:
    assert shift_cron(cron, minutes) == expected


def test_crossing_midnight_is_refused_when_the_day_is_restricted() -> None:
    with pytest.raises(CronError, match="crosses midnight"):
        shift_cron("5 0 * * MON", -15)
    with pytest.raises(CronError, match="crosses midnight"):
        shift_cron("50 23 1 * *", 20)


@pytest.mark.parametrize("cron", ["0 3 * * 1", "0 3 * * 1-5", "0 3 * *", "61 3 * * *", "0 3 * * FUNDAY"])
def test_check_refuses_invalid_or_ambiguous_expressions(cron: str) -> None:
    with pytest.raises(CronError):
        check_cron(cron)
