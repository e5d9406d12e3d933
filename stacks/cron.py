"""Five-field cron expressions (UTC) for the off-peak window: validation and shifting by minutes.

Auto Scaling scheduled actions take the five-field form directly, weekdays numbered as in cron
(0-6 from Sunday); the EventBridge schedule uses ``ScheduleSpec.eventbridge_expression()`` from
services/jobs/spec.py, which turns cron's weekday numbers into EventBridge's (1-7 from Sunday)
and keeps names. :func:`check_cron` accepts exactly what both can say the same way: a weekday
of ``*``, names (``MON-FRI``) or the numbers 0-6 (``1-5``), in forward ranges and lists, and not
together with a day of the month (EventBridge takes one or the other).
"""

from __future__ import annotations

import re

from croniter import croniter

_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_NAME = "|".join(_DAY_NAMES)
_WEEKDAY_ITEM = re.compile(rf"^(?:({_NAME})(?:-({_NAME}))?|([0-6])(?:-([0-6]))?)$")
_MINUTES_PER_DAY = 24 * 60


class CronError(ValueError):
    """A cron expression that the off-peak window cannot use; the message says why."""


def check_cron(cron: str) -> str:
    """Return ``cron`` if it is a valid five-field expression that Auto Scaling and EventBridge read alike."""
    fields = cron.split()
    if len(fields) != 5 or "?" in cron or not croniter.is_valid(cron):
        raise CronError(f"must be a five-field cron expression (minute hour day month weekday), got {cron!r}")
    day, weekday = fields[2], fields[4].upper()
    if weekday != "*":
        for item in weekday.split(","):
            _check_weekday(item, cron)
        if day != "*":
            raise CronError(
                f"a day of the month and a weekday cannot both be set (EventBridge takes one), got {cron!r}"
            )
    return cron


def _check_weekday(item: str, cron: str) -> None:
    match = _WEEKDAY_ITEM.match(item)
    if match is None:
        raise CronError(
            f"weekday must be *, names such as MON-FRI or numbers 0-6 (Sunday = 0) such as 1-5, "
            f"in forward ranges or lists; got {item!r} in {cron!r}"
        )
    first, last = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    if last is not None and _day_number(last) < _day_number(first):
        raise CronError(f"a weekday range must run forward within one week (e.g. MON-FRI), got {item!r} in {cron!r}")


def _day_number(day: str) -> int:
    return int(day) if day.isdigit() else _DAY_NAMES.index(day)


def shift_cron(cron: str, minutes: int) -> str:
    """The same schedule moved by ``minutes`` (negative: earlier), weekdays as numbers 0-6.

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
    return re.sub(_NAME, lambda match: str(_DAY_NAMES.index(match.group(0))), weekday.upper())
