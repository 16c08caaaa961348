"""Expressions → IR (a segment's condition, `where`, `if`, `exit when`, group members,
Moments visibility): each AST class lowered by its function, listed in a table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from playbook.compiler import resolve
from playbook.compiler.context import Doc, Site, obj
from playbook.syntax import ast as A


def expr(site: Site, e: A.Expr, *, events: bool, segment_uses: list[str] | None = None) -> Doc:
    """Lower an expression; `events` says whether `event.*` means something here; the
    segments it refers to are added to SEGMENT_USES (a segment's own condition)."""
    return _EXPRS[type(e)](site, e, events, segment_uses)


def _bool_op(site: Site, e: A.BoolOp, events: bool, segment_uses: list[str] | None) -> Doc:
    args = []
    for side in (e.left, e.right):
        lowered = expr(site, side, events=events, segment_uses=segment_uses)
        # a and b and c nests to the left in the AST; the IR keeps one flat list.
        if lowered["op"] == e.op:
            args.extend(lowered["args"])
        else:
            args.append(lowered)
    return obj(op="and", args=args) if e.op == "and" else obj(op="or", args=args)


def _not(site: Site, e: A.Not, events: bool, segment_uses: list[str] | None) -> Doc:
    return obj(op="not", arg=expr(site, e.operand, events=events, segment_uses=segment_uses))


def _compare(site: Site, e: A.Compare, events: bool, segment_uses: list[str] | None) -> Doc:
    field = resolve.contact_field(site, e.field, events)
    if isinstance(e.operand, A.Field):
        value: Doc = obj(field=resolve.contact_field(site, e.operand, events))
    else:
        value = _lit(e.operand)
    return obj(op="cmp", field=field, cmp=e.op, value=value)  # type: ignore[arg-type]


def _in_list(site: Site, e: A.InList, events: bool, segment_uses: list[str] | None) -> Doc:
    field = resolve.contact_field(site, e.field, events)
    lowered = obj(op="in", field=field, values=[_lit(v) for v in e.values])
    return obj(op="not", arg=lowered) if e.negated else lowered


def _within(site: Site, e: A.Within, events: bool, segment_uses: list[str] | None) -> Doc:
    return obj(op="within", field=resolve.contact_field(site, e.field, events), minutes=e.duration.minutes)


def _is_set(site: Site, e: A.IsSet, events: bool, segment_uses: list[str] | None) -> Doc:
    lowered = obj(op="is_set", field=resolve.contact_field(site, e.field, events))
    return obj(op="not", arg=lowered) if e.negated else lowered


def _has_tag(site: Site, e: A.HasTag, events: bool, segment_uses: list[str] | None) -> Doc:
    return obj(op="tag", tag=e.tag.value)


def _in_group(site: Site, e: A.InGroup, events: bool, segment_uses: list[str] | None) -> Doc:
    resolve.known(site, "group", e.group)
    return obj(op="group", group=e.group.value)


def _in_segment(site: Site, e: A.InSegment, events: bool, segment_uses: list[str] | None) -> Doc:
    name = resolve.segment_ref(site, e.segment)
    if segment_uses is not None:
        segment_uses.append(name)
    return obj(op="segment", segment=name)


# an expression's AST class -> how it is lowered
_EXPRS: dict[type, Callable[[Site, Any, bool, list[str] | None], Doc]] = {
    A.BoolOp: _bool_op,
    A.Not: _not,
    A.Compare: _compare,
    A.InList: _in_list,
    A.Within: _within,
    A.IsSet: _is_set,
    A.HasTag: _has_tag,
    A.InGroup: _in_group,
    A.InSegment: _in_segment,
}


def where(site: Site, where: A.Expr | None, events: bool) -> Doc | None:
    return None if where is None else expr(site, where, events=events)


def _lit(v: A.Literal) -> Doc:
    value = v.value
    if isinstance(value, dt.datetime):
        value = value.isoformat(timespec="minutes")
    elif isinstance(value, dt.date):
        value = value.isoformat()
    return obj(kind=v.kind, value=value)  # type: ignore[arg-type]
