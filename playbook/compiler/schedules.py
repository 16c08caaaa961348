"""When a schedule fires, in local (playbook-timezone) wall-clock time.

Pure calendar arithmetic over naive local datetimes; turning them into instants (and
what a DST gap or overlap does) is the engine's job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from croniter import croniter

from playbook.compiler import ir


def parse_clock(text: str) -> dt.time:
    hour, minute = text.split(":")
    return dt.time(int(hour), int(minute))


def cron_problem(expr: str) -> str | None:
    """Why a cron expression is invalid, or None when it is fine."""
    if len(expr.split()) != 5:
        return "a cron expression has five fields: minute hour day-of-month month day-of-week"
    try:
        valid = croniter.is_valid(expr)
    except Exception:  # croniter raises for some malformed fields instead of answering False
        valid = False
    return None if valid else f"'{expr}' is not a valid cron expression"


def occurrences(schedule: ir.Schedule, start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    """Local firing times t with start <= t < end, in order."""
    if isinstance(schedule, ir.CronSchedule):
        it = croniter(schedule.expr, start - dt.timedelta(minutes=1))
        while True:
            t = it.get_next(dt.datetime)
            if t >= end:
                return
            if t >= start:
                yield t
        return
    day = start.date()
    while True:
        moment = dt.datetime.combine(day, dt.time())
        if moment >= end:
            return
        for t in _day_times(schedule, day):
            if start <= t < end:
                yield t
        day += dt.timedelta(days=1)


def _day_times(schedule: ir.Schedule, day: dt.date) -> list[dt.datetime]:
    if isinstance(schedule, ir.Weekly):
        if day.weekday() not in schedule.weekdays:
            return []
        return sorted(dt.datetime.combine(day, parse_clock(t)) for t in schedule.times)
    if isinstance(schedule, ir.Monthly):
        if day.day not in schedule.days:
            return []
        return sorted(dt.datetime.combine(day, parse_clock(t)) for t in schedule.times)
    assert isinstance(schedule, ir.Interval)
    first, last = (schedule.between or ["00:00", "23:59"])[0], (schedule.between or ["00:00", "23:59"])[1]
    t = dt.datetime.combine(day, parse_clock(first))
    stop = dt.datetime.combine(day, parse_clock(last))
    if schedule.between is None:
        stop = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
        out = []
        while t < stop:
            out.append(t)
            t += dt.timedelta(minutes=schedule.minutes)
        return out
    out = []
    while t <= stop:
        out.append(t)
        t += dt.timedelta(minutes=schedule.minutes)
    return out
