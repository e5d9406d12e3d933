"""Five-field cron expressions (UTC) for the off-peak window: validation and shifting by minutes.

Auto Scaling scheduled actions take the five-field form directly; the EventBridge schedule uses
``ScheduleSpec.eventbridge_expression()`` from services/jobs/spec.py. The two formats number
weekdays differently (cron 0-6 from Sunday, EventBridge 1-7 from Sunday), so only ``*`` or weekday
names (``MON``, ``MON-FRI``) are accepted: they mean the same day in both.
"""

from __future__ import annotations

import re

from croniter import croniter

_DAY = "(SUN|MON|TUE|WED|THU|FRI|SAT)"
_DAYS = f"{_DAY}(-{_DAY})?"
_WEEKDAY_NAMES = re.compile(rf"^(\*|{_DAYS}(,{_DAYS})*)$")
_DAY_NUMBERS = {name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_MINUTES_PER_DAY = 24 * 60


class CronError(ValueError):
    """A cron expression that the off-peak window cannot use; the message says why."""


def check_cron(cron: str) -> str:
    """Return ``cron`` if it is a valid five-field expression whose weekday means the same everywhere."""
    fields = cron.split()
    if len(fields) != 5 or not croniter.is_valid(cron):
        raise CronError(f"must be a five-field cron expression (minute hour day month weekday), got {cron!r}")
    if not _WEEKDAY_NAMES.match(fields[4].upper()):
        raise CronError(
            f"weekday must be * or names such as MON-FRI (numbers mean different days in cron and EventBridge), "
            f"got {fields[4]!r}"
        )
    return cron


def shift_cron(cron: str, minutes: int) -> str:
    """The same schedule moved by ``minutes`` (negative: earlier), weekday names as numbers.

    The minute and hour fields must be plain numbers. Crossing midnight is allowed only when
    day, month and weekday are all ``*``: otherwise the shifted firing would land on another day.
    """
    minute, hour, day, month, weekday = check_cron(cron).split()
    if not (minute.isdigit() and hour.isdigit()):
        raise CronError(f"needs a fixed minute and hour to place the scaling window around it, got {cron!r}")
    total = int(hour) * 60 + int(minute) + minutes
    if not 0 <= total < _MINUTES_PER_DAY and (day, month, weekday) != ("*", "*", "*"):
        raise CronError(
            f"shifting {cron!r} by {minutes} minutes crosses midnight, which only works for daily schedules"
        )
    total %= _MINUTES_PER_DAY
    return f"{total % 60} {total // 60} {day} {month} {_numbered_weekdays(weekday)}"


def _numbered_weekdays(weekday: str) -> str:
    """Weekday names as the 0-6 (Sunday = 0) numbers that Auto Scaling recurrences document."""
    return re.sub(_DAY, lambda match: str(_DAY_NUMBERS[match.group(0)]), weekday.upper())
