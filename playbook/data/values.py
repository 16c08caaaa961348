"""Typed values of contact, account and event fields.

Data files carry text; a value's type is read from its look (PRODUCT.md "Dry-run"):
`3000` is a number, `99.5` a number, `2026-12-01…` a date or datetime, `true`/`false` a
boolean, anything else text. `id`, `name`, `account` and `tags` are always text. Numbers
with leading zeros (`007`, `0571`) stay text: they are codes, not quantities.

Dates and datetimes become the engine's `Instant` / `DateValue` (vocab/values.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from playbook.i18n import N_, t
from playbook.timetext import TimeTextError, ascii_form, looks_like_date, parse_datetime
from playbook.vocab.localtime import LocalTime
from playbook.vocab.values import DateValue, Instant

ALWAYS_TEXT = frozenset({"id", "name", "account", "tags", "groups"})
# Fields that hold a set of names, written like tags: `tags`, and `groups` (the groups the
# contact is in, which `in group G` reads: docs/language.md §7.2)
SET_FIELDS = frozenset({"tags", "groups"})
EXAMPLE_TIME = "2026-12-01T09:00:00+08:00"  # how a time is written, in messages

_INT = re.compile(r"^-?(0|[1-9]\d*)$")
_FLOAT = re.compile(r"^-?(0|[1-9]\d*)\.\d+$")
_GROUPED = re.compile(r"^-?[1-9]\d{0,2}(,\d{3})+(\.\d+)?$")


Value = str | int | float | bool | Instant


class DataValueError(ValueError):
    """A value in a data file that cannot be read.

    `str(exc)` is the reason in English — it goes into the plan's and the import's JSON,
    which read the same in every language — and `message()` is the same reason in the
    operator's language. `template` is an `N_` template, `values` its placeholders.
    """

    def __init__(self, template: str, /, **values: object) -> None:
        super().__init__(template.format(**values))
        self.template = template
        self.values = values

    def message(self) -> str:
        return t(self.template, **self.values)


# The common shape of a time in data files, 2026-12-01T09:00:00+08:00, read from its parts:
# each part seen once in a text that datetime parsed is remembered (a million contacts'
# times share a few hundred days, 1,440 minutes of the day, 60 seconds and one offset).
_COMMON = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}", re.ASCII)
_DAYS: dict[str, int] = {}  # "2026-12-01" -> its 00:00 UTC, seconds since the epoch
_MINUTES: dict[str, int] = {}  # "09:00" -> seconds into the day
_SECONDS: dict[str, int] = {}  # "05" -> 5
_OFFSETS: dict[str, int] = {}  # "+08:00" -> seconds east of UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def parse_time(text: str, clock: LocalTime) -> Instant:
    """ISO 8601 (or `2026-12-01 09:00`); without an offset it is local to `clock`."""
    text = text.strip()
    remembered = _remembered_instant(text)
    if remembered is not None:
        return remembered
    if len(text) > 10 and text[10] in "T " and text[-6] in "+-" and text[-3] == ":":
        try:  # the common shape, 2026-12-01T09:00:00+08:00, without the checks below
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            if _COMMON.fullmatch(text) and len(_DAYS) < 100_000:
                midnight = dt.datetime.combine(value.date(), dt.time(), dt.UTC)
                _DAYS[text[:10]] = int((midnight - _EPOCH).total_seconds())
                _MINUTES[text[11:16]] = value.hour * 3600 + value.minute * 60
                _SECONDS[text[17:19]] = value.second
                _OFFSETS[text[19:]] = int(value.utcoffset().total_seconds())  # type: ignore[union-attr]
            return Instant(int(value.timestamp()))
    try:
        found = parse_datetime(text)  # the one reader of times as people write them (playbook/timetext.py)
    except TimeTextError as exc:
        if exc.kind == "calendar":
            raise DataValueError(N_("'{text}' is not a date on the calendar"), text=text) from None
        if exc.kind == "clock":
            raise DataValueError(N_("'{text}' is not a time of day"), text=text) from None
        raise DataValueError(N_("'{text}' is not a date or time like {example}"), text=text, example=EXAMPLE_TIME) \
            from None  # fmt: skip
    if found.time is None:
        return DateValue(clock.midnight(found.date))
    value = dt.datetime.combine(found.date, found.time)
    if found.offset is None:
        return Instant(clock.instant(value))
    return Instant(int((value - dt.timedelta(seconds=found.offset)).replace(tzinfo=dt.UTC).timestamp()))


def _remembered_instant(text: str) -> Instant | None:
    """The usual time shape, 2026-12-01T09:00:00+08:00, read from the parts parse_time
    remembered (its day, minute, second and offset); None for anything else."""
    if len(text) == 25 and text[16] == ":" and text[10] in "T ":
        day, minute = _DAYS.get(text[:10]), _MINUTES.get(text[11:16])
        second, offset = _SECONDS.get(text[17:19]), _OFFSETS.get(text[19:])
        if day is not None and minute is not None and second is not None and offset is not None:
            return Instant(day + minute + second - offset)
    return None


def text_value(raw: object) -> str | None:
    """A text field's value (id, name, account): stripped; a whole float without its ".0"."""
    if raw is None:
        return None
    text = str(raw).strip() if not isinstance(raw, float) or not raw.is_integer() else str(int(raw))
    return text or None


def typed(key: str, raw: object, clock: LocalTime) -> Value | frozenset[str] | None:
    """A field's value from a data file (CSV text or JSON value); None means missing."""
    if raw is None:
        return None
    if key in SET_FIELDS:
        return parse_tags(raw)
    if key in ALWAYS_TEXT:
        return text_value(raw)
    if isinstance(raw, str):
        return typed_text(raw, clock)
    if isinstance(raw, bool | int | float):
        return raw
    raise DataValueError(
        N_("field '{key}' has a value of an unsupported kind ({kind})"), key=key, kind=type(raw).__name__
    )


def typed_text(raw: str, clock: LocalTime) -> Value | None:
    """A text cell read by its look; the common shapes are tried first, cheaply."""
    text = raw.strip()
    if not text:
        return None
    first = text[0]
    if first.isascii() and first.isdigit():
        if text.isascii() and text.isdigit():
            return int(text) if first != "0" or len(text) == 1 else text  # 0571 is a code
        if len(text) >= 8 and text[4] in "-/.年" and looks_like_date(text):
            return parse_time(text, clock)
    elif "０" <= first <= "９" or first == "－":  # full-width digits: read as their ASCII forms
        plain = ascii_form(text)
        value = typed_text(plain, clock) if plain != text else text
        return value if not isinstance(value, str) else text
    elif first in "¥￥":  # an amount as Excel formats it: ¥399, ¥1,299.00
        value = typed_text(text[1:], clock)
        return value if isinstance(value, int | float) and not isinstance(value, bool) else text
    elif first != "-" and first not in "tTfF":
        return text
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    if "," in text and _GROUPED.match(text):  # 1,299 and 1,299.50: thousands grouped, as Excel shows them
        plain = text.replace(",", "")
        return float(plain) if "." in plain else int(plain)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return text


def typed_texts(cells: Iterable[str], clock: LocalTime) -> list[Value | None]:
    """`typed_text` of each cell, for a column of a million: the usual time shape is read
    from the remembered parts straight away (a remembered day starts with a digit and an
    offset ends with one: nothing to strip, and typed_text would take it to parse_time)."""
    out: list[Value | None] = []
    for text in cells:
        value = _remembered_instant(text)
        out.append(value if value is not None else typed_text(text, clock))
    return out


# What separates tags in one cell, the ways people type them (docs/data.md): ASCII and
# full-width semicolons and commas, the enumeration comma 、 and the bar.
TAG_SEPARATORS = ";；,，、|"
_TAG_SPLIT = re.compile("[" + re.escape(TAG_SEPARATORS) + "]")


def parse_tags(raw: object) -> frozenset[str]:
    """A contact's tags, wherever tags are read (data files, events, intake): one text
    split on any of TAG_SEPARATORS, or a JSON list of tags (taken as they are); each
    trimmed (full-width spaces too), empty ones dropped, duplicates once."""
    if isinstance(raw, list):
        parts = (str(t) for t in raw)
    else:
        text = str(raw)
        parts = _TAG_SPLIT.split(text) if _TAG_SPLIT.search(text) else (text,)
    return frozenset(p for t in parts if (p := t.strip()))
