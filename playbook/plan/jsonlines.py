"""The plan's JSON lines written by hand, for speed: a touch's (`TouchLines`), an event's
(`EventLines`) and a Moments audience's id list (`AudienceLists`), each the bytes the contract's
dict gives through `Dump` (plan/contract.py; tests/test_plan_output.py holds them equal), and
the lines in blocks (`in_blocks`) written at once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from json.encoder import encode_basestring as _quote  # the C function json.dumps(ensure_ascii=False) quotes with
from typing import Any

import numpy as np

from playbook.engine.columns import Audience, Columns, IdOrder
from playbook.plan.contract import TIME_KEYS, IsoTimes, event_json, touch_json
from playbook.plan.touches import PlannedTouches
from playbook.vocab.localtime import LocalTime
from playbook.vocab.model import StateEvent, Touch, TouchRun
from playbook.vocab.reasons import Reason

BLOCK = 4096  # lines in a block: a list of lines is joined and written at once


def in_blocks(parts: Iterable[str | list[str] | tuple[str, Any, str]]) -> Iterator[list[str] | tuple[str, Any, str]]:
    """Lines as blocks: lists of up to about BLOCK whole lines (from single lines and lists
    of them), and a line in pieces on its own. No block is empty."""
    block: list[str] = []
    for part in parts:
        kind = part.__class__
        if kind is str:
            block.append(part)  # type: ignore[arg-type]
        elif kind is list:
            block += part  # type: ignore[arg-type]
        else:
            if block:
                yield block
                block = []
            yield part  # type: ignore[misc]
            continue
        if len(block) >= BLOCK:
            yield block
            block = []
    if block:
        yield block


class TouchLines:
    """A touch's JSON line, written by hand: the bytes `dump(touch_json(t, when))` gives
    (keys sorted, `json.dumps` quoting; tests/test_plan_output.py holds them equal), at a
    fraction of the cost — a plan has millions. A touch with a field of an unexpected type
    goes the generic way."""

    def __init__(self, when: IsoTimes, dump: Callable[[Any], str], binary: bool = False):
        self.when = when
        self.dump = dump
        self.binary = binary  # audiences as UTF-8 bytes (for a file of bytes: no round trip through str)
        self.times = _QuotedTimes(when.clock)
        # account -> its last audience ((columns, rows), JSON)
        self.audiences: dict[str | None, tuple[tuple[Columns, bytes], Any]] = {}
        self.lists: AudienceLists | None = None
        self.quoted = _Quoted()
        # id(run) -> _run_template(run) (the plan's touches hold their runs while lines are made)
        self.run_parts: dict[int, tuple[str, str, str] | None] = {}

    def _audience(self, audience: Any, account: str | None) -> Any:
        """An audience's id list (str, or bytes when `binary`). Most posts have an audience of
        their own (contacts come and go between posts), so only each account's last one is
        remembered."""
        if not isinstance(audience, Audience):
            text = self._ids_json(audience.ids())
            return text.encode() if self.binary else text
        key = (audience.columns, audience.rows.tobytes())
        last = self.audiences.get(account)
        if last is not None and last[0][0] is key[0] and last[0][1] == key[1]:
            return last[1]
        lists = self.lists
        if lists is None or not lists.order.covers(audience):
            lists = self.lists = AudienceLists(audience.columns)
        if lists.table is not None:
            text: Any = lists.json_bytes(audience.rows) if self.binary else lists.json(audience.rows)
        else:
            text = self._ids_json(lists.order.ids(audience.rows))
            if self.binary:
                text = text.encode()
        self.audiences[account] = (key, text)
        return text

    def _ids_json(self, ids: list[str]) -> str:
        try:
            joined = "".join(ids)
        except TypeError:
            return self.dump(ids)
        if not ids:
            return "[]"
        if len(_quote(joined)) == len(joined) + 2:  # no id needs escaping
            return '["' + '", "'.join(ids) + '"]'
        return "[" + ", ".join(map(_quote, ids)) + "]"

    def __call__(self, t: Touch) -> str:
        line = self.pieces(t)
        if isinstance(line, str):
            return line
        head, audience, tail = line
        return head + (audience.decode() if isinstance(audience, bytes) else audience) + tail

    def pieces(self, t: Touch) -> str | tuple[str, Any, str]:
        """The line, or for a Moments post the line in three pieces with the audience (its
        ids, ASCII and most of the plan's bytes; bytes when `binary`) apart: joined with the
        post's Chinese text into one string, the ids would be widened into a copy only to be
        encoded back."""
        if t.audience is None:
            return self._line(t, "")
        try:
            audience = self._audience(t.audience, t.account)
        except TypeError:
            return self.dump(touch_json(t, self.when))
        line = self._line(t, "\0")
        if line.count("\0") != 1:  # a NUL of the data's own (escaped as \u0000 by json, so never)
            return line.replace("\0", audience.decode() if isinstance(audience, bytes) else audience)
        head, _, tail = line.partition("\0")
        return (head, audience, tail)

    def blocks(self, touches: PlannedTouches) -> Iterator[list[str] | tuple[str, Any, str]]:
        """The lines of a plan's touches in order, in blocks (see in_blocks): a single
        touch's as `pieces` gives it, a run's members' from one template each."""
        return in_blocks(
            self.pieces(x) if x.__class__ is Touch else self.run_lines(x, first, stop)  # type: ignore[arg-type]
            for x, first, stop in touches.segments()
        )

    def run_lines(self, run: TouchRun, first: int, stop: int) -> list[str]:
        """The lines of a run's members `first` to `stop`: the bytes `_line` gives each."""
        parts = self.run_parts.get(id(run), False)
        if parts is False:
            parts = self.run_parts[id(run)] = self._run_template(run)
        if parts is not None:
            head, middle, tail = parts
            try:
                return ["".join((head, _quote(c), middle, _quote(k), tail, _quote(x), "}"))
                        for c, k, x in zip(run.contacts[first:stop], run.keys[first:stop], run.texts[first:stop], strict=True)]  # fmt: skip
            except TypeError:  # not a str where one was expected: the generic way
                pass
        return [self._line(x, "") for x in run.touches(first, stop)]

    def _run_template(self, run: TouchRun) -> tuple[str, str, str] | None:
        """A run's line around its member's contact, key and text (None: a field of an
        unexpected type). Made once: a run's members are often far apart in the order."""
        like, q, times = run.like, self.quoted, self.times
        try:
            content = "null" if like.content is None else q[like.content]
            group = "" if like.group is None else f', "group": {_quote(like.group)}'
            return (
                f'{{"account": {q[like.account]}, "at": {times[run.at]}, "channel": {q[like.channel]}, "contact": ',  # type: ignore[index]
                f', "content": {content}, "due": {times[like.due]}, "flow": {q[like.flow]}{group}, "key": ',
                f', "outcome": {q[run.outcome]}, "reason": {q[run.reason]}, "step": {q[like.step]}, "text": ',
            )
        except TypeError:
            return None

    def _line(self, t: Touch, audience_mark: str) -> str:
        try:
            times = self.times
            at, due = times[t.at], times[t.due]
            q = self.quoted  # the fields that repeat (a few channels, flows, steps, reasons, accounts)
            account = "null" if t.account is None else q[t.account]
            content = "null" if t.content is None else q[t.content]
            # the optional keys, each with its place in the sorted order
            audience = "" if t.audience is None else f', "audience": {audience_mark}'
            contact = "" if t.contact is None else f', "contact": {_quote(t.contact)}'
            group = "" if t.group is None else f', "group": {_quote(t.group)}'
            parts = f', "parts": {self.dump(t.parts)}' if t.parts else ""
            return (
                f'{{"account": {account}, "at": {at}{audience}, "channel": {q[t.channel]}{contact}, '
                f'"content": {content}, "due": {due}, "flow": {q[t.flow]}{group}, "key": {_quote(t.key)}, '
                f'"outcome": {q[t.outcome]}{parts}, "reason": {q[t.reason]}, "step": {q[t.step]}, '
                f'"text": {_quote(t.text)}}}'
            )
        except TypeError:  # not a str where one was expected: let json say how it reads
            return self.dump(touch_json(t, self.when))


class EventLines:
    """An event's JSON line, written by hand: the bytes `dump(event_json(e, clock, when))`
    gives (tests/test_plan_output.py holds them equal) — a plan has a million events, and
    building a dict for each to sort its keys cost more than the line. Each shape of event
    gets a format with its keys in sorted order, filled with the quoted values in one call;
    a value of a type json would write otherwise than here goes the generic way."""

    def __init__(self, clock: LocalTime, when: IsoTimes, dump: Callable[[Any], str]):
        self.clock = clock
        self.when = when
        self.dump = dump
        self.times = _QuotedTimes(clock)
        self.quoted = _Quoted()
        self.formats: dict[tuple, str] = {}

    def _format(self, shape: tuple) -> str:
        """The line of a shape with a positional field for each value: 0 the time, 1 the
        type, 2 the contact, 3 the flow, then the data's values in their order."""
        has_contact, has_flow, *data = shape
        slots = {"at": 0, "type": 1, **({"contact": 2} if has_contact else {}), **({"flow": 3} if has_flow else {})}
        slots.update((key, 4 + n) for n, key in enumerate(data))
        fields = [
            (("{" if n == 0 else ", ") + _quote(key) + ": ").replace("{", "{{").replace("}", "}}") + f"{{{slots[key]}}}"
            for n, key in enumerate(sorted(slots))
        ]
        fmt = self.formats[shape] = "".join(fields) + "}}"
        return fmt

    def __call__(self, e: StateEvent) -> str:
        data = e.data
        if "at" in data or "type" in data or "contact" in data or "flow" in data:
            return self.dump(event_json(e, self.clock, self.when))  # a data key that shadows one of ours
        q, times = self.quoted, self.times
        try:
            shape = (e.contact is not None, e.flow is not None, *data)
            fmt = self.formats.get(shape) or self._format(shape)
            values = [times[e.at], q[e.type], "" if e.contact is None else _quote(e.contact),
                      "" if e.flow is None else q[e.flow]]  # fmt: skip
            for key, value in data.items():
                kind = value.__class__
                if kind is str or kind is Reason:  # an exit's reason: its English text
                    values.append(_quote(value))
                elif kind is int:
                    values.append(times[value] if key in TIME_KEYS else int.__repr__(value))
                elif key in TIME_KEYS:
                    values.append(self.dump(event_json(e, self.clock, self.when)[key]))
                else:
                    values.append(self.dump(value))  # the text json gives a value inside a line
        except TypeError:  # not a str where one was expected: let json say how it reads
            return self.dump(event_json(e, self.clock, self.when))
        return fmt.format(*values)


class _QuotedTimes(dict[int, str]):
    """Instants and their quoted ISO text, remembered: touches share a few instants (events'
    times hardly repeat, so the memory is bounded)."""

    def __init__(self, clock: LocalTime):
        super().__init__()
        self.clock = clock

    def __missing__(self, ts: int) -> str:
        if len(self) >= 100_000:
            self.clear()
        text = self[ts] = _quote(self.clock.iso(ts))
        return text


class _Quoted(dict[str, str]):
    """Strings and their JSON, remembered (up to a bound)."""

    def __missing__(self, text: str) -> str:
        quoted = _quote(text)  # a TypeError for what is not a str, as _quote gives it
        if len(self) < 100_000:
            self[text] = quoted
        return quoted


class AudienceLists:
    """The JSON of Moments audiences, ≈ 1,000 sorted ids for each post, which add up to
    most of a plan's JSON. When every id is ASCII of one length and needs no escaping (the
    usual case), a list is put together by numpy from a table of each id's bytes as it is
    written (`"id", `): one gather, no Python string touched (at a million contacts,
    fetching them from all over memory was the cost)."""

    def __init__(self, columns: Columns):
        self.order = IdOrder(columns)
        ids = columns.ids
        self.table: np.ndarray | None = None
        joined = "".join(ids)
        if ids and len(set(map(len, ids))) == 1 and joined.isascii() and len(_quote(joined)) == len(joined) + 2:
            written = ('"' + '", "'.join(ids) + '", ').encode("ascii")
            self.table = np.frombuffer(written, dtype=f"V{len(ids[0]) + 4}")  # one item per id

    def json(self, rows: np.ndarray) -> str:
        """'["c1", "c2"]' for the rows (with a table)."""
        return self.json_bytes(rows).decode("ascii")

    def json_bytes(self, rows: np.ndarray) -> bytes:
        """b'["c1", "c2"]' for the rows (with a table)."""
        assert self.table is not None
        if len(rows) == 0:
            return b"[]"
        written = self.table[self.order.sorted_rows(rows)].tobytes()
        return b"[" + written[:-2] + b"]"  # the last id without its ", "
