"""Evaluating segment and condition expressions.

An IR expression is compiled once into a Python closure (never `eval`): it reads only the
contact's fields, its account's fields and the event at hand. Semantics (LANGUAGE.md §4,
docs/semantics.md):
- a missing field makes any comparison false, so `not x within 7d` is true without x;
- numbers compare with numbers, text with text, times with times; anything else is false;
- a date literal compares by local day (`added_at >= 2026-12-01` means "added on or
  after that day"); a datetime literal compares to the minute;
- `x within D` is true when x lies in the last D, up to now;
- `x not in [..]` is `not (x in [..])`, so it is true when x is missing.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping
from typing import Any

from playbook.vocab.localtime import LocalTime
from playbook.vocab.values import Instant, kind_of

# What an expression sees: the contact's fields, the account's fields, the event's data,
# and the moment of evaluation.


class Scope:
    __slots__ = ("contact", "account", "event", "now")

    def __init__(
        self, contact: Mapping[str, Any], account: Mapping[str, Any] | None, event: Mapping[str, Any] | None, now: int
    ):
        self.contact = contact
        self.account = account or {}
        self.event = event or {}
        self.now = now


Predicate = Callable[[Scope], bool]
# segment name -> predicate, filled in as segments compile (forward references allowed)
SegmentTable = dict[str, Predicate]

_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def getter(path: str) -> Callable[[Scope], Any]:
    """Read `field`, `account.field` or `event.field` from a scope (None when missing)."""
    head, _, rest = path.partition(".")
    if rest and head == "account":
        return lambda s: s.account.get(rest)
    if rest and head == "event":
        return lambda s: s.event.get(rest)
    return lambda s: s.contact.get(path)


class Compiler:
    """Turns IR expressions into predicates for one playbook's timezone and segments."""

    def __init__(self, clock: LocalTime, segments: SegmentTable):
        self.clock = clock
        self.segments = segments

    def compile(self, e: Mapping[str, Any]) -> Predicate:
        op = e["op"]
        if op == "and":
            parts = [self.compile(a) for a in e["args"]]
            return lambda s: all(p(s) for p in parts)
        if op == "or":
            parts = [self.compile(a) for a in e["args"]]
            return lambda s: any(p(s) for p in parts)
        if op == "not":
            inner = self.compile(e["arg"])
            return lambda s: not inner(s)
        if op == "tag":
            tag = e["tag"]
            return lambda s: tag in (s.contact.get("tags") or ())
        if op == "group":
            group = e["group"]
            return lambda s: group in (s.contact.get("groups") or ())
        if op == "segment":
            name = e["segment"]
            table = self.segments
            return lambda s: table[name](s)
        get = getter(e["field"])
        if op == "is_set":
            return lambda s: get(s) not in (None, "", frozenset())
        if op == "within":
            span = e["minutes"] * 60

            def within(s: Scope) -> bool:
                v = get(s)
                return isinstance(v, Instant) and s.now - span <= v <= s.now

            return within
        if op == "in":
            tests = [self._compare("==", v) for v in e["values"]]
            return lambda s: (v := get(s)) is not None and any(t(v, s) for t in tests)
        assert op == "cmp"
        test = self._compare(e["cmp"], e["value"])
        return lambda s: (v := get(s)) is not None and test(v, s)

    def _compare(self, cmp: str, operand: Mapping[str, Any]) -> Callable[[Any, Scope], bool]:
        """A test `value CMP operand` for a present value."""
        fn = _OPS[cmp]
        if "field" in operand:
            other = getter(operand["field"])

            def against_field(v: Any, s: Scope) -> bool:
                w = other(s)
                kv = kind_of(v)
                return w is not None and kv is not None and kv == kind_of(w) and fn(v, w)

            return against_field
        kind, literal = operand["kind"], operand["value"]
        if kind == "date":
            # Compare the local day of a time with the literal day.
            day = dt.date.fromisoformat(literal).toordinal()
            clock = self.clock
            return lambda v, s: isinstance(v, Instant) and fn(clock.date_of(v).toordinal(), day)
        if kind == "datetime":
            instant = self.clock.instant(dt.datetime.fromisoformat(literal))
            return lambda v, s: isinstance(v, Instant) and fn(v, instant)
        if kind == "number":
            return lambda v, s: isinstance(v, int | float) and not isinstance(v, bool | Instant) and fn(v, literal)
        if kind == "bool":
            return lambda v, s: isinstance(v, bool) and fn(v, literal)
        return lambda v, s: isinstance(v, str) and fn(v, literal)


def segment_table(segments: Mapping[str, Mapping[str, Any]], clock: LocalTime) -> SegmentTable:
    """Predicates for every segment of a playbook (the compiler has rejected cycles)."""
    table: SegmentTable = {}
    compiler = Compiler(clock, table)
    for name, seg in segments.items():
        table[name] = compiler.compile(seg["expr"])
    return table


def uses_time(
    e: Mapping[str, Any], segments: Mapping[str, Mapping[str, Any]], seen: frozenset[str] = frozenset()
) -> bool:
    """Whether an expression's truth can change with time alone (`within`, directly or
    through the segments it uses)."""
    op = e["op"]
    if op == "within":
        return True
    if op == "segment":
        name = e["segment"]
        return name not in seen and name in segments and uses_time(segments[name], segments, seen | {name})
    return any(uses_time(a, segments, seen) for a in e.get("args", ())) or (
        "arg" in e and uses_time(e["arg"], segments, seen)
    )


def fields_read(
    e: Mapping[str, Any], segments: Mapping[str, Mapping[str, Any]], seen: frozenset[str] = frozenset()
) -> set[str] | None:
    """The contact fields an expression's truth for a contact depends on (besides time):
    a change to any other field cannot change it. `tags` for a tag test, `account` for an
    `account.` field; None when unsure (an unknown operator or segment)."""
    op = e.get("op")
    if op in ("and", "or"):
        out: set[str] = set()
        for a in e["args"]:
            part = fields_read(a, segments, seen)
            if part is None:
                return None
            out |= part
        return out
    if op == "not":
        return fields_read(e["arg"], segments, seen)
    if op == "tag":
        return {"tags"}
    if op == "group":
        return {"groups"}
    if op == "segment":
        name = e["segment"]
        if name in seen:
            return set()  # a cycle (the compiler rejects them): nothing new
        if name not in segments:
            return None
        return fields_read(segments[name], segments, seen | {name})
    if op not in ("is_set", "within", "in", "cmp"):
        return None
    paths = [e["field"]]
    if op == "cmp" and "field" in e["value"]:
        paths.append(e["value"]["field"])
    out = set()
    for path in paths:
        head, _, rest = path.partition(".")
        if rest and head == "event":
            continue  # no event in a membership's scope
        out.add("account" if rest and head == "account" else path)
    return out
