"""Times and dates as people write them — the one reader of their text (docs/data.md
"Dates and times"), used by data files (CSV cells, JSON values), events, `--start`,
`--at`, and the language's own time literals.

    8:00  08:00  ８：００  8点  8点30  8点30分  16:20:05
    2026-12-06  2026-12-6  2026/12/06  2026.12.06  2026年12月6日  2026年12月6号
    2026-12-06 16:20  2026-12-06T16:20:05+08:00  2026/12/6 8:00  2026年12月6日 16:20

Full-width digits and punctuation read as their ASCII forms. A text that has the shape but
not a real value (2026-02-30, 25:00) is an error saying so, never something else.

Only shapes: what a time is in which timezone is for the caller (data/values.py).
No imports from playbook: every layer can use it.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

_CLOCK = r"(?P<H>[0-9]{1,2})\s*(?:[:：]\s*(?P<M>[0-9]{2})(?:\s*[:：]\s*(?P<S>[0-9]{2})(?:[.,](?P<F>[0-9]+))?)?|[点點时時]\s*(?:(?P<M2>[0-9]{1,2})\s*分?)?)"
_DATE = (r"(?P<y>[0-9]{4})\s*(?:(?P<sep>[-/.])\s*(?P<m>[0-9]{1,2})\s*(?P=sep)\s*(?P<d>[0-9]{1,2})"
         r"|年\s*(?P<m2>[0-9]{1,2})\s*月\s*(?P<d2>[0-9]{1,2})\s*[日号號]?)")  # fmt: skip
_OFFSET = r"(?P<tz>[zZ]|[+-][0-9]{2}(?::?[0-9]{2})?)"
_DATETIME = re.compile(rf"{_DATE}(?:(?:\s*[T ]\s*|\s*(?<=[日号號])\s*){_CLOCK}\s*{_OFFSET}?)?")
_CLOCK_ONLY = re.compile(_CLOCK)
# what starts like a date (and is then an error rather than text when it is not one)
_DATE_START = re.compile(r"[0-9]{4}(?:[-/.][0-9]{1,2}[-/.][0-9]{1,2}|年)")


class TimeTextError(ValueError):
    """A text shaped like a time or date that is not one; `kind` says which problem:
    "shape" (not a time or date at all), "calendar" (no such day), "clock" (no such time)."""

    def __init__(self, text: str, kind: str) -> None:
        super().__init__(f"{text!r}: {kind}")
        self.text = text
        self.kind = kind


@dataclass(frozen=True, slots=True)
class DateTimeText:
    """What a text said: a date, maybe a time of day on it, maybe an offset (seconds east)."""

    date: dt.date
    time: dt.time | None = None
    offset: int | None = None


def ascii_form(text: str) -> str:
    """Full-width digits, letters and punctuation as ASCII (NFKC), when there are any."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def parse_clock(text: str) -> tuple[int, int, int]:
    """(hour, minute, second) of a time of day: `8:00`, `08:00`, `８：００`, `8点30`."""
    plain = ascii_form(text).strip()
    m = _CLOCK_ONLY.fullmatch(plain)
    if m is None:
        raise TimeTextError(text, "shape")
    return _clock(m, text)


def _clock(m: re.Match[str], text: str) -> tuple[int, int, int]:
    hour = int(m["H"])
    minute = int(m["M"] or m["M2"] or 0)
    second = int(m["S"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise TimeTextError(text, "clock")
    return hour, minute, second


def looks_like_date(text: str) -> bool:
    """Whether a text starts like a date (2026-12-06, 2026/12/6, 2026年…): read as one, or
    an error — not text."""
    return _DATE_START.match(ascii_form(text).lstrip()) is not None


def parse_datetime(text: str) -> DateTimeText:
    """A date, with or without a time of day and an offset (the shapes above)."""
    plain = ascii_form(text).strip()
    m = _DATETIME.fullmatch(plain)
    if m is None:
        raise TimeTextError(text, "shape")
    try:
        date = dt.date(int(m["y"]), int(m["m"] or m["m2"]), int(m["d"] or m["d2"]))
    except ValueError:
        raise TimeTextError(text, "calendar") from None
    if m["H"] is None:
        return DateTimeText(date)
    hour, minute, second = _clock(m, text)
    micro = int((m["F"] or "0")[:6].ljust(6, "0"))
    offset = None
    tz = m["tz"]
    if tz:
        if tz in "zZ":
            offset = 0
        else:
            digits = tz[1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
            if hours > 23 or minutes > 59:
                raise TimeTextError(text, "clock")
            offset = (hours * 3600 + minutes * 60) * (1 if tz[0] == "+" else -1)
    return DateTimeText(date, dt.time(hour, minute, second, micro), offset)


_SPAN_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SPAN = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_SPANS = re.compile(rf"(?:\s*{_SPAN.pattern})+")


def span_seconds(text: str) -> float | None:
    """Seconds from a setting's span as written: "90s", "30m", "2h", "1h30m", "1d" or a
    bare number of seconds; None when the text is not one (the caller says why)."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    if text and _SPANS.fullmatch(text):
        return sum(float(n) * _SPAN_UNITS[unit] for n, unit in _SPAN.findall(text))
    return None
