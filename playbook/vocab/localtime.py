"""Time in the playbook timezone.

The engine works on instants: integer seconds since the Unix epoch (UTC). Everything a
playbook says in wall-clock terms — `at 10:00`, `day 3 at 20:00`, quiet hours, calendar
days/weeks/months for limits — is turned into instants here, and only here.

DST rule (docs/semantics.md): a local time that does not exist (the hour skipped when
clocks go forward) shifts forward by the length of the gap (02:30 → 03:30); a local time
that happens twice (clocks go back) means its first occurrence.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from playbook.vocab.reasons import Reason

# The timezone of a playbook that names none, and of the engine and store before any playbook
# is loaded (LANGUAGE.md: `timezone`).
DEFAULT_TIMEZONE = "Asia/Shanghai"


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class LocalTime:
    """Conversions between instants and wall-clock time in one timezone."""

    def __init__(self, tz_name: str):
        self.name = tz_name
        self.tz = zone(tz_name)
        self._midnights: dict[int, int] = {}
        self._at: dict[tuple[int, int], int] = {}
        # Local days whose UTC offset is the same all day: (their instants lo, hi, date, offset
        # in seconds, ISO offset suffix, ISO date with "T"). The engine asks about the same few
        # days again and again: the last one, and all of them by the UTC days they touch.
        self._day: tuple[int, int, dt.date, int, str, str] = (0, 0, dt.date.min, 0, "", "")
        self._hms: list[str] | None = None  # "HH:MM:SS" of each second of a day, once asked for
        self._days: dict[int, list[tuple[int, int, dt.date, int, str, str]]] = {}

    # ---- instants <-> local ---------------------------------------------------------------
    def local(self, ts: int) -> dt.datetime:
        """The aware local datetime of an instant."""
        return dt.datetime.fromtimestamp(ts, self.tz)

    def instant(self, local: dt.datetime) -> int:
        """The instant of a naive local datetime (DST rule above). fold=0 gives both halves
        of the rule: an ambiguous time takes its first occurrence, and a time in a gap is
        read with the offset from before the transition, which lands it after the gap by
        the gap's length."""
        return int(local.replace(tzinfo=self.tz, fold=0).timestamp())

    def _same_day(self, ts: int) -> tuple[int, int, dt.date, int, str, str] | None:
        """The cached day holding `ts`, made anew when `ts` is outside it; None for a day
        whose offset changes (a DST day), which is left to datetime."""
        day = self._day
        if day[0] <= ts < day[1]:
            return day
        for day in self._days.get(ts // 86400, ()):  # days seen before, by the UTC days they touch
            if day[0] <= ts < day[1]:
                self._day = day
                return day
        local = self.local(ts)
        date = local.date()
        lo, hi = self.midnight(date), self.midnight(date + dt.timedelta(days=1))
        offset = local.utcoffset()
        if not all(self.local(x).utcoffset() == offset for x in (lo, (lo + hi) // 2, hi - 1)):
            return None
        seconds = int(offset.total_seconds())  # type: ignore[union-attr]
        sign, minutes = ("-", -seconds // 60) if seconds < 0 else ("+", seconds // 60)
        suffix = f"{sign}{minutes // 60:02d}:{minutes % 60:02d}" if seconds % 60 == 0 else ""  # as isoformat writes it
        # the ISO text around the time of day: "2026-12-02T" and "+08:00"
        day = self._day = (lo, hi, date, seconds, suffix, f"{date.isoformat()}T" if suffix else "")
        if len(self._days) < 100_000:
            for utc_day in range(lo // 86400, (hi - 1) // 86400 + 1):
                self._days.setdefault(utc_day, []).append(day)
        return day

    def iso(self, ts: int) -> str:
        """ISO 8601 in this timezone, to the second: 2026-12-02T08:00:00+08:00."""
        day = self._same_day(ts)
        if day is None or not day[4]:
            return self.local(ts).isoformat(timespec="seconds")
        hms = self._hms
        if hms is None:  # a plan writes a million times: 86,400 short strings are cheaper than formatting each
            hms = self._hms = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]
        return day[5] + hms[(ts + day[3]) % 86400] + day[4]

    def date_of(self, ts: int) -> dt.date:
        day = self._same_day(ts)
        return day[2] if day is not None else self.local(ts).date()

    def minute_of_day(self, ts: int) -> int:
        day = self._same_day(ts)
        if day is not None:
            return (ts + day[3]) % 86400 // 60
        t = self.local(ts)
        return t.hour * 60 + t.minute

    def at(self, day: dt.date, minute_of_day: int) -> int:
        """The instant of `day` at HH:MM (minutes since midnight); remembered, since a plan
        asks for the same few local times of the same days again and again."""
        key = (day.toordinal(), minute_of_day)
        ts = self._at.get(key)
        if ts is None:
            hour, minute = divmod(minute_of_day, 60)
            ts = self._at[key] = self.instant(dt.datetime.combine(day, dt.time(hour, minute)))
        return ts

    def midnight(self, day: dt.date) -> int:
        """The first instant of a local day (cached: limits ask for it constantly)."""
        key = day.toordinal()
        ts = self._midnights.get(key)
        if ts is None:
            ts = self.instant(dt.datetime.combine(day, dt.time()))
            self._midnights[key] = ts
        return ts

    # ---- timing clauses --------------------------------------------------------------------
    def next_clock(self, after: int, minute_of_day: int) -> int:
        """`at HH:MM`: the next HH:MM strictly after `after`."""
        day = self.date_of(after)
        ts = self.at(day, minute_of_day)
        while ts <= after:
            day += dt.timedelta(days=1)
            ts = self.at(day, minute_of_day)
        return ts

    def day_at(self, entry: int, day_number: int, minute_of_day: int) -> int:
        """`day N at HH:MM`: day N counted from the calendar day of `entry` (day 0)."""
        return self.at(self.date_of(entry) + dt.timedelta(days=day_number), minute_of_day)

    # ---- calendar periods -----------------------------------------------------------------
    def period_start(self, ts: int, period: str) -> dt.date:
        """The first local day of the day/week/month that contains `ts` (weeks start Monday)."""
        day = self.date_of(ts)
        if period == "day":
            return day
        if period == "week":
            return day - dt.timedelta(days=day.weekday())
        return day.replace(day=1)

    def next_period_start(self, ts: int, period: str) -> int:
        """The first instant of the period after the one containing `ts`."""
        start = self.period_start(ts, period)
        if period == "day":
            nxt = start + dt.timedelta(days=1)
        elif period == "week":
            nxt = start + dt.timedelta(days=7)
        else:
            nxt = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return self.midnight(nxt)


def parse_clock(text: str) -> int:
    """'HH:MM' -> minutes since midnight."""
    hour, minute = text.split(":")
    return int(hour) * 60 + int(minute)


class QuietWindow:
    """`quiet A-B`: touches due in [A, B) local time are held until B; may wrap midnight."""

    def __init__(self, start: str, end: str, clock: LocalTime):
        self.start = parse_clock(start)
        self.end = parse_clock(end)
        self.clock = clock
        self.label = Reason("quiet_hours", start=start, end=end)

    def contains_minute(self, m: int) -> bool:
        if self.start < self.end:
            return self.start <= m < self.end
        return m >= self.start or m < self.end

    def contains(self, ts: int) -> bool:
        return self.contains_minute(self.clock.minute_of_day(ts))

    def release(self, ts: int) -> int:
        """The end of the window that holds `ts` (call only when `contains(ts)`)."""
        day = self.clock.date_of(ts)
        m = self.clock.minute_of_day(ts)
        if self.start > self.end and m >= self.start:
            day += dt.timedelta(days=1)
        return self.clock.at(day, self.end)


def iso(ts: int, clock: LocalTime) -> str:
    """ISO 8601 in the playbook timezone, to the second: 2026-12-02T08:00:00+08:00."""
    return clock.iso(ts)


def stamp(ts: float, clock: LocalTime) -> str:
    """A time for people (log lines, `status`): local to the playbook, to the second, with
    the offset — 2026-12-06 16:12:03+08:00."""
    return dt.datetime.fromtimestamp(int(ts), clock.tz).isoformat(sep=" ", timespec="seconds")
