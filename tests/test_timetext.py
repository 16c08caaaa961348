"""The one reader of times and dates (playbook/timetext.py): every way people write a
time reads as that time; text of any other shape is an error saying which problem, never
another exception."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from playbook.data.values import DataValueError, parse_time, typed_text
from playbook.runtime.store import Store
from playbook.timetext import TimeTextError, parse_clock, parse_datetime
from playbook.vocab.localtime import LocalTime

CLOCK = LocalTime("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[1]
FULL = str.maketrans("0123456789:-/", "０１２３４５６７８９：－／")


@st.composite
def written(draw: st.DrawFn) -> tuple[str, dt.datetime, bool, int | None]:
    """A datetime and one way of writing it: (text, value, has a time, offset)."""
    value = draw(st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2999, 12, 31))).replace(microsecond=0)
    pad = draw(st.booleans())
    m, d = (f"{value.month:02d}", f"{value.day:02d}") if pad else (str(value.month), str(value.day))
    style = draw(st.sampled_from(["-", "/", ".", "年"]))
    date = f"{value.year}年{m}月{d}{draw(st.sampled_from(['日', '号', '']))}" if style == "年" else \
        f"{value.year}{style}{m}{style}{d}"  # fmt: skip
    with_time = draw(st.booleans())
    offset = None
    text = date
    if with_time:
        hour = f"{value.hour:02d}" if draw(st.booleans()) else str(value.hour)
        seconds = draw(st.booleans())
        if not seconds:
            value = value.replace(second=0)
        clock = f"{hour}:{value.minute:02d}" + (f":{value.second:02d}" if seconds else "")
        between = draw(st.sampled_from([" ", "T", "  "] + (["", " "] if date.endswith(("日", "号")) else [])))
        text = f"{date}{between}{clock}"
        if draw(st.booleans()):
            offset = draw(st.integers(-14, 14)) * 3600
            sign = "+" if offset >= 0 else "-"
            text += f"{sign}{abs(offset) // 3600:02d}:00"
    else:
        value = value.replace(hour=0, minute=0, second=0)
    if draw(st.booleans()):
        text = text.translate(FULL)  # full-width digits and punctuation
    return text, value, with_time, offset


@given(written())
def test_every_way_of_writing_a_time_reads_as_that_time(case: tuple[str, dt.datetime, bool, int | None]) -> None:
    text, value, with_time, offset = case
    found = parse_datetime(text)
    assert found.date == value.date()
    if with_time:
        assert found.time is not None and (found.time.hour, found.time.minute, found.time.second) == \
            (value.hour, value.minute, value.second)  # fmt: skip
        assert found.offset == offset
        want = CLOCK.instant(value) if offset is None else \
            int((value - dt.timedelta(seconds=offset)).replace(tzinfo=dt.UTC).timestamp())  # fmt: skip
        assert int(parse_time(text, CLOCK)) == want
    else:
        assert found.time is None
        assert int(parse_time(text, CLOCK)) == CLOCK.midnight(value.date())
    assert typed_text(f" {text} ", CLOCK) == parse_time(text, CLOCK)  # a CSV cell reads the same


@given(st.text(max_size=30))
def test_any_text_is_a_time_or_says_why(text: str) -> None:
    for reader in (parse_datetime, parse_clock):
        try:
            reader(text)
        except TimeTextError as exc:
            assert exc.kind in ("shape", "calendar", "clock")
    try:
        parse_time(text, CLOCK)
    except DataValueError as exc:
        assert exc.message()


@given(st.integers(0, 23), st.integers(0, 59), st.booleans(), st.booleans())
def test_clock_times(hour: int, minute: int, pad: bool, full: bool) -> None:
    text = f"{hour:02d}:{minute:02d}" if pad else f"{hour}:{minute:02d}"
    if full:
        text = text.translate(FULL)
    assert parse_clock(text) == (hour, minute, 0)


@pytest.mark.parametrize(
    ("text", "want"),
    [("2026-12-01 8:00", "2026-12-01T08:00:00+08:00"), ("2026/12/06 16:20", "2026-12-06T16:20:00+08:00"),
     ("2026年12月6日 16:20", "2026-12-06T16:20:00+08:00"), ("2026年12月6日16:20", "2026-12-06T16:20:00+08:00"),
     ("２０２６－１２－０６　８：００", "2026-12-06T08:00:00+08:00"), ("2026-12-06T16:20Z", "2026-12-07T00:20:00+08:00"),
     ("2026/1/5 9:03", "2026-01-05T09:03:00+08:00"), ("2026-12-06 8点30", "2026-12-06T08:30:00+08:00")],
)  # fmt: skip
def test_the_issue_s_values(text: str, want: str) -> None:
    assert int(parse_time(text, CLOCK)) == int(dt.datetime.fromisoformat(want).timestamp())


@pytest.mark.parametrize(
    ("text", "reason"),
    [("2026-02-30", "not a date on the calendar"), ("2026/12/06 25:00", "not a time of day"),
     ("2026-12-06 8:61", "not a time of day"), ("明天", "not a date or time"), ("2026-12", "not a date or time")],
)  # fmt: skip
def test_wrong_values_say_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(DataValueError) as caught:
        parse_time(text, CLOCK)
    assert reason in str(caught.value)


def test_cells_typed_leniently() -> None:
    assert typed_text("３９９", CLOCK) == 399 and typed_text("－３.５", CLOCK) == -3.5
    assert typed_text("ＳＶＩＰ", CLOCK) == "ＳＶＩＰ"  # text stays as written
    assert typed_text("0571-88888888", CLOCK) == "0571-88888888"  # a phone number, not a broken date
    assert typed_text("2026/12/06", CLOCK) == parse_time("2026-12-06", CLOCK)
    with pytest.raises(DataValueError):
        typed_text("2026/02/30", CLOCK)


def test_options_and_event_values_read_leniently(tmp_path: Path) -> None:
    """--start "2026-12-01 8:00", --days ７, --at "2026/12/06 16:20", amount=３９９ (issue 14)."""
    env = {k: v for k, v in os.environ.items() if k != "PLAYBOOK_DB"} | {"PLAYBOOK_LANG": "en"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "playbook", *args], capture_output=True, text=True, cwd=ROOT,
                              env=env, timeout=120)  # fmt: skip

    plan = run("plan", "playbooks/new_customer.pb", "--contacts", "playbooks/contacts.csv", "--start",
               "2026-12-01 8:00", "--days", "７", "--format", "json")  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    doc = json.loads(plan.stdout)
    assert (doc["start"], doc["end"]) == ("2026-12-01T08:00:00+08:00", "2026-12-08T08:00:00+08:00")
    db = str(tmp_path / "s.db")
    event = run("event", "purchase", "--contact", "k1", "amount=３９９", "--at", "2026/12/06 16:20", "--db", db,
                "--timezone", "Asia/Shanghai", "--format", "json")  # fmt: skip
    assert event.returncode == 0, event.stderr
    assert json.loads(event.stdout)["at"] == int(dt.datetime.fromisoformat("2026-12-06T16:20:00+08:00").timestamp())
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        (stored,) = store.next_events(limit=10, after=0)
        assert stored.data == {"amount": 399}


def test_amounts_as_excel_formats_them() -> None:
    assert typed_text("1,299", CLOCK) == 1299 and typed_text("1,299.50", CLOCK) == 1299.5
    assert typed_text("¥399", CLOCK) == 399 and typed_text("￥1,299.00", CLOCK) == 1299.0
    assert typed_text("-12,000", CLOCK) == -12000
    for text in ("1,2", "12,34", "0,123", "a,b", "¥", "¥abc", "¥true"):
        assert typed_text(text, CLOCK) == text  # not a grouped number: text as written


def test_span_seconds_reads_settings_spans_and_refuses_the_rest() -> None:
    from playbook.timetext import span_seconds

    assert span_seconds("90s") == 90
    assert span_seconds(" 1H30m ") == 5400
    assert span_seconds("1d") == 86400
    assert span_seconds("2.5") == 2.5
    for text in ("", "6 hours", "h", "1w", "-5m", "5m!"):
        assert span_seconds(text) is None, text
