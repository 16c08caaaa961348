"""LocalTime remembers the day it was last asked about (the engine asks about the same day
again and again); the answers must be datetime's, in every zone and across DST changes."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from playbook.vocab.localtime import LocalTime

ZONES = ["Asia/Shanghai", "America/New_York", "Asia/Tehran", "Australia/Lord_Howe", "Pacific/Chatham",
         "America/Santiago", "Asia/Beirut", "Europe/London", "America/Havana", "Africa/Casablanca", "Pacific/Apia",
         "America/St_Johns", "Asia/Kathmandu", "Europe/Moscow"]  # fmt: skip
STEPS = st.sampled_from([1, 59, 600, 3599, 3600, 7200, 40000, 86399, -86400, -1])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ZONES), st.integers(-(10**9), 2 * 10**9), st.lists(STEPS, min_size=1, max_size=200))
def test_date_and_minute_as_datetime_says(zone: str, start: int, steps: list[int]) -> None:
    clock = LocalTime(zone)
    t = start
    for step in steps:
        t += step
        local = dt.datetime.fromtimestamp(t, clock.tz)
        assert clock.date_of(t) == local.date(), (zone, t)
        assert clock.minute_of_day(t) == local.hour * 60 + local.minute, (zone, t)


def test_around_dst_in_new_york() -> None:
    clock = LocalTime("America/New_York")
    for day in (dt.date(2026, 3, 8), dt.date(2026, 11, 1)):
        t = clock.midnight(day) - 7200
        for _ in range(30 * 60):
            t += 120
            local = dt.datetime.fromtimestamp(t, clock.tz)
            assert (clock.date_of(t), clock.minute_of_day(t)) == (local.date(), local.hour * 60 + local.minute)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([*ZONES, "Asia/Kolkata", "America/Caracas", "Etc/GMT+5", "UTC"]),
       st.integers(-(10**10), 10**10), st.lists(STEPS, min_size=1, max_size=100))  # fmt: skip
def test_iso_as_isoformat_writes_it(zone: str, start: int, steps: list[int]) -> None:
    clock = LocalTime(zone)
    t = start
    for step in steps:
        t += step
        assert clock.iso(t) == dt.datetime.fromtimestamp(t, clock.tz).isoformat(timespec="seconds"), (zone, t)
