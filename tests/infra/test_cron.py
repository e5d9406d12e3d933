"""The off-peak cron: checked so Auto Scaling and EventBridge read it alike, and shifted for the scaling window."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from croniter import croniter

from services.jobs.spec import ScheduleSpec
from stacks.cron import CronError, check_cron, shift_cron

NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@pytest.mark.parametrize(
    ("cron", "minutes", "expected"),
    [
        ("0 3 * * *", -15, "45 2 * * *"),
        ("0 3 * * *", 60, "0 4 * * *"),
        ("10 0 * * *", -15, "55 23 * * *"),
        ("50 23 * * *", 20, "10 0 * * *"),
        ("30 1 * * MON-FRI", -15, "15 1 * * 1-5"),
        ("0 12 * * SAT,SUN", 90, "30 13 * * 6,0"),
        ("30 1 * * 1-5", -15, "15 1 * * 1-5"),
        ("0 12 * * 0,6", 90, "30 13 * * 0,6"),
        ("0 12 * * mon,3", 5, "5 12 * * 1,3"),
        ("0 12 1 * *", 30, "30 12 1 * *"),
    ],
)
def test_shift_moves_minute_and_hour(cron: str, minutes: int, expected: str) -> None:
    assert shift_cron(cron, minutes) == expected


def test_crossing_midnight_is_refused_when_the_day_is_restricted() -> None:
    with pytest.raises(CronError, match="crosses midnight"):
        shift_cron("5 0 * * MON", -15)
    with pytest.raises(CronError, match="crosses midnight"):
        shift_cron("50 23 1 * *", 20)


@pytest.mark.parametrize(
    ("cron", "problem"),
    [
        ("0 3 * *", "five-field"),
        ("61 3 * * *", "five-field"),
        ("0 3 * * FUNDAY", "five-field"),
        ("0 3 ? * MON", "five-field"),
        ("0 3 * * 7", "numbers 0-6 (Sunday = 0)"),
        ("0 3 * * */2", "numbers 0-6 (Sunday = 0)"),
        ("0 3 * * MON-5", "numbers 0-6 (Sunday = 0)"),
        ("0 3 * * FRI-MON", "run forward"),
        ("0 3 * * 5-1", "run forward"),
        ("0 3 1 * MON", "cannot both be set"),
    ],
)
def test_check_refuses_what_auto_scaling_and_eventbridge_would_read_differently(cron: str, problem: str) -> None:
    with pytest.raises(CronError, match=re.escape(problem)):
        check_cron(cron)


def _cron_weekdays(cron: str) -> set[int]:
    """The weekdays (Sunday = 0) on which ``cron`` fires, from croniter over two weeks."""
    start = datetime(2026, 11, 1, tzinfo=UTC)  # a Sunday
    firings = croniter(cron, start).all_next(datetime)
    days = set()
    for firing in firings:
        if (firing - start).days >= 14:
            break
        days.add(firing.isoweekday() % 7)
    return days


def _eventbridge_weekdays(expression: str) -> set[int]:
    """The weekdays (Sunday = 0) of an EventBridge ``cron(m h ? M W Y)``: numbers 1-7 from Sunday, or names."""
    weekday = expression.removeprefix("cron(").removesuffix(")").split()[4]
    if weekday == "?":
        return set(range(7))
    days: set[int] = set()
    for item in weekday.split(","):
        first, _, last = item.partition("-")
        low, high = (NAMES.index(end) if end in NAMES else int(end) - 1 for end in (first, last or first))
        days.update(range(low, high + 1))
    return days


@pytest.mark.parametrize(
    "cron",
    ["0 3 * * *", "30 1 * * 1-5", "30 1 * * MON-FRI", "0 1 * * 0,6", "0 1 * * SAT,SUN", "0 4 * * 0", "0 4 * * 6"],
)
def test_an_accepted_weekday_means_the_same_days_to_auto_scaling_and_eventbridge(cron: str) -> None:
    check_cron(cron)
    days = _cron_weekdays(cron)
    assert _cron_weekdays(shift_cron(cron, -15)) == days, "the scaling window's recurrence"
    assert _eventbridge_weekdays(ScheduleSpec(cron=cron, job_type="x").eventbridge_expression()) == days
