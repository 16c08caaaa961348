"""When a schedule fires, in local (playbook-timezone) wall-clock time.

Pure calendar arithmetic over naive local datetimes; turning them into instants (and
what a DST gap or overlap does) is the engine's job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from playbook.i18n import t


def parse_clock(text: str) -> dt.time:
    hour, minute = text.split(":")
    return dt.time(int(hour), int(minute))


def cron_problem(expr: str) -> str | None:
    """Why a cron expression is invalid, or None when it is fine."""
    if len(expr.split()) != 5:
        return t("a cron expression has five fields: minute hour day-of-month month day-of-week")
    from croniter import croniter  # imported here: only cron schedules need it

    try:
        valid = croniter.is_valid(expr)
    except Exception:  # croniter raises for some malformed fields instead of answering False
        valid = False
    return None if valid else t("'{expr}' is not a valid cron expression", expr=expr)


def occurrences(schedule: dict[str, Any], start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    """Local firing times t with start <= t < end, in order (schedule in IR form)."""
    if schedule["kind"] == "cron":
        from croniter import croniter

        it = croniter(schedule["expr"], start - dt.timedelta(minutes=1))
        while True:
            t = it.get_next(dt.datetime)
            if t >= end:
                return
            if t >= start:
                yield t
    day = start.date()
    while dt.datetime.combine(day, dt.time()) < end:
        for t in day_times(schedule, day):
            if start <= t < end:
                yield t
        day += dt.timedelta(days=1)


def day_times(schedule: dict[str, Any], day: dt.date) -> list[dt.datetime]:
    """The firing times of a non-cron schedule on one local day."""
    kind = schedule["kind"]
    if kind == "weekly" and day.weekday() not in schedule["weekdays"]:
        return []
    if kind == "monthly" and day.day not in schedule["days"]:
        return []
    if kind in ("weekly", "monthly"):
        return [dt.datetime.combine(day, parse_clock(t)) for t in schedule["times"]]
    # interval: from the window start (or midnight), every N minutes, through the window
    # end (inclusive) or to midnight.
    step = dt.timedelta(minutes=schedule["minutes"])
    between = schedule.get("between")
    t = dt.datetime.combine(day, parse_clock(between[0]) if between else dt.time())
    out = []
    if between:
        stop = dt.datetime.combine(day, parse_clock(between[1]))
        while t <= stop:
            out.append(t)
            t += step
    else:
        stop = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
        while t < stop:
            out.append(t)
            t += step
    return out
