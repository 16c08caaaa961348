"""How engine values are kept in the store's JSON columns, and how times are stored.

JSON has strings, numbers, booleans, arrays and objects; the engine also has tags
(frozenset), instants and dates (`Instant`, `DateValue`: int subclasses), tuples (timeline
items), lists and sets (runner state) and `Event`s (timeline payloads). `encode` writes
those as one-key objects tagged with a `$` name and `decode` brings back the same types:

    frozenset  {"$tags": [...sorted]}     Instant    {"$time": 1764550800}
    set        {"$set": [...sorted]}      DateValue  {"$date": 1764518400}
    list       {"$list": [...]}           Event      {"$event": [type, contact, at, data, seq]}
    tuple      [...]                      a dict whose only key starts with "$": {"$dict": {...}}

JSON arrays are tuples because timeline items (order, payload) are the bulk of what is
stored; lists are rarer (rotation queues). Plain str/int/float/bool/None pass through, so
a contact's fields stay readable in `sqlite3` or `psql`.

Reasons (vocab/reasons.py) are kept as their English text (the `reason` columns, for people
and SQL) and as data: a touch's and a state event's in the `reason_code` and `reason_args`
columns (`reason_columns`, read back by `stored_reason`), a held request's in its JSON as
`{"code": …, "args": {…}}` (`reason_doc`, `reason_of_doc`). Rows written before the store
kept codes (revision 0007) have only the text: it is read back through the templates.

Times: instants the engine computes with (due, at, entered_at, period starts, event times)
are BIGINT seconds since the epoch, UTC — the engine's own unit. Moments that are
bookkeeping (a row's created/updated time, when an event was received, leases) are
timezone-aware UTC timestamps (`UTCDateTime`).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from playbook.vocab.model import Event
from playbook.vocab.reasons import Reason, from_data, read
from playbook.vocab.values import DateValue, Instant

_TAGS = ("$tags", "$set", "$list", "$time", "$date", "$event", "$dict")


def _sorted(items: frozenset[Any] | set[Any]) -> list[Any]:
    encoded = [encode(x) for x in items]
    try:
        return sorted(encoded)
    except TypeError:  # mixed kinds: any stable order will do
        return sorted(encoded, key=lambda x: json.dumps(x, sort_keys=True))


def encode(value: Any) -> Any:
    """An engine value as plain JSON data (see the module docstring)."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is float or kind is bool:
        return value
    if kind is tuple:
        return [encode(x) for x in value]
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"cannot store a dict key of type {type(key).__name__}: {key!r}")
            out[key] = encode(item)
        if len(out) == 1 and next(iter(out)).startswith("$"):
            return {"$dict": out}  # would read back as a tag otherwise
        return out
    if kind is DateValue:
        return {"$date": int(value)}
    if kind is Instant:
        return {"$time": int(value)}
    if kind is frozenset:
        return {"$tags": _sorted(value)}
    if kind is set:
        return {"$set": _sorted(value)}
    if kind is list:
        return {"$list": [encode(x) for x in value]}
    if kind is Event:
        return {"$event": [value.type, value.contact, value.at, encode(value.data), value.seq]}
    raise TypeError(f"cannot store a value of type {kind.__name__}: {value!r}")


_NESTED = (dict, list)  # what `decode` has to look into; anything else is stored as it is


def decode(value: Any) -> Any:
    """The engine value `encode` was given. (Restoring a shard decodes every contact's
    fields: scalars are kept without a call each.)"""
    kind = type(value)
    if kind is list:
        return tuple([decode(x) if type(x) in _NESTED else x for x in value])
    if kind is not dict:
        return value
    if len(value) == 1:
        key, item = next(iter(value.items()))
        if key in _TAGS:
            if key == "$time":
                return Instant(item)
            if key == "$date":
                return DateValue(item)
            if key == "$tags":
                return frozenset([decode(x) if type(x) in _NESTED else x for x in item])
            if key == "$set":
                return {decode(x) if type(x) in _NESTED else x for x in item}
            if key == "$list":
                return [decode(x) if type(x) in _NESTED else x for x in item]
            if key == "$event":
                kind_, contact, at, data, seq = item
                return Event(kind_, contact, at, decode(data), seq)
            return {k: decode(x) if type(x) in _NESTED else x for k, x in item.items()}  # $dict
    return {k: decode(x) if type(x) in _NESTED else x for k, x in value.items()}


def dumps(doc: Any) -> str:
    """JSON text as the store writes it: compact, readable Chinese, no NaN/Infinity (which
    PostgreSQL's json type rejects and the data readers never produce)."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class Value(sa.TypeDecorator[Any]):
    """A JSON column holding engine values (tagged, see `encode`); NULL is None."""

    impl = sa.JSON(none_as_null=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else encode(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else decode(value)


def Doc() -> sa.JSON:  # noqa: N802 — reads like a type in the table definitions
    """A JSON column of plain JSON data (IR documents, rendered parts, id lists)."""
    return sa.JSON(none_as_null=True)


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp: TIMESTAMPTZ on PostgreSQL; on SQLite (which has no
    zone) the UTC wall time, read back with UTC attached. Naive datetimes are refused."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"a naive datetime cannot be stored: {value!r}")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# ---- reasons -----------------------------------------------------------------------------------------------
def reason_columns(reason: str) -> tuple[str | None, dict[str, Any] | None]:
    """A reason as the `reason_code` and `reason_args` columns beside its text; (None,
    None) for no reason, and for a text that is no Reason (not the engine's: it is kept as
    text only)."""
    if not isinstance(reason, Reason):
        return None, None
    data = reason.data()
    return data["code"], data["args"]


def stored_reason(text: str, code: str | None, args: dict[str, Any] | None, *,
                  codes: tuple[str, ...] | None = None) -> Reason | str:  # fmt: skip
    """The reason a row keeps (its text, code and arguments): "" for none. A row written
    before the store kept codes has its text only, read back through the templates (of
    `codes`, when only those can be meant); a code this version does not know is its
    English text as it is (code "other")."""
    if code is None:
        return read(text, codes=codes) if text else ""
    try:
        return from_data({"code": code, "args": args or {}})
    except ValueError:
        return Reason("other", text=text)


def reason_doc(reason: Reason | str | None) -> dict[str, Any] | str | None:
    """A reason in a held request's JSON: its data; a text that is no Reason (not the
    engine's) as text, which is read back as a request held before the codes is."""
    return reason.data() if isinstance(reason, Reason) else reason


def reason_of_doc(doc: dict[str, Any] | str | None) -> Reason | None:
    """The reason `reason_doc` wrote; a request held before the store kept codes has the
    English text, read back through the templates."""
    if doc is None:
        return None
    if isinstance(doc, str):
        return read(doc)
    try:
        return from_data(doc)
    except ValueError:  # written by a version that knows a code this one does not: shown by its name
        return Reason("other", text=str(doc.get("code") if isinstance(doc, dict) else doc))
