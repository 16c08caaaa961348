"""What `playbook plan` shows: the JSON contract (PRODUCT.md), the summary line, per-day
and per-account tables, one contact's timeline, and an HTML export of the same.

The JSON is for scripts: the same bytes in every language, so touch reasons and row
problems stay in English there. Tables and timelines are for people: they show the same
reasons in the operator's language (`vocab.reasons`: each reason's code gives its text).
"""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from json.encoder import c_make_encoder  # type: ignore[attr-defined]
from json.encoder import encode_basestring as _quote  # the C function json.dumps(ensure_ascii=False) quotes with
from operator import attrgetter
from typing import Any, TextIO

import numpy as np

from playbook.engine.columns import Audience, Columns, IdOrder
from playbook.i18n import N_, t, tn
from playbook.plan.notes import head_json, render_drawn, render_warnings
from playbook.plan.part import PlanResult, sla_totals
from playbook.plan.touches import PlannedTouches, touches_of
from playbook.vocab.localtime import LocalTime, iso
from playbook.vocab.model import DEFERRED, OK, SKIPPED, StateEvent, Touch, TouchRun, flow_keys
from playbook.vocab.reasons import reason_text

CHANNELS = ("dm", "group", "moment", "task")
# Column headers of the tables.
CHANNEL_WORDS = {"dm": N_("dm"), "group": N_("group posts"), "moment": N_("moments"), "task": N_("tasks")}
# The summary line's counts, (singular, plural); {count} is the number with thousands separators.
CHANNEL_COUNTS = {
    "dm": (N_("{count} dm"), N_("{count} dm")),
    "group": (N_("{count} group post"), N_("{count} group posts")),
    "moment": (N_("{count} moment"), N_("{count} moments")),
    "task": (N_("{count} task"), N_("{count} tasks")),
}
OUTCOME_WORDS = {OK: N_("ok"), DEFERRED: N_("deferred"), SKIPPED: N_("skipped")}
SEPARATOR = N_("; ")  # between reasons, and between the parts of the summary line


class _Iso:
    """ISO text of instants, remembered: a plan has many touches at the same moment."""

    def __init__(self, clock: LocalTime):
        self.clock = clock
        self.cache: dict[int, str] = {}

    def __call__(self, ts: int) -> str:
        text = self.cache.get(ts)
        if text is None:
            text = self.cache[ts] = iso(ts, self.clock)
        return text


def touch_json(t: Touch, when: _Iso) -> dict[str, Any]:
    out: dict[str, Any] = {
        "at": when(t.at),
        "due": when(t.due),
        "channel": t.channel,
        "account": t.account,
        "flow": t.flow,
        "step": t.step,
        "content": t.content,
        "text": t.text,
        "outcome": t.outcome,
        "reason": t.reason,
        "key": t.key,
    }
    if t.contact is not None:
        out["contact"] = t.contact
    if t.group is not None:
        out["group"] = t.group
    if t.audience is not None:
        out["audience"] = t.audience.ids()
    if t.parts:
        out["parts"] = t.parts
    return out


def event_json(e: StateEvent, clock: LocalTime, when: Callable[[int], str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"at": when(e.at) if when is not None else iso(e.at, clock), "type": e.type}
    if e.contact is not None:
        out["contact"] = e.contact
    if e.flow is not None:
        out["flow"] = e.flow
    for key, value in e.data.items():
        out[key] = iso(value, clock) if key in _TIMES and isinstance(value, int) else value
    return out


def events_in_order(result: PlanResult) -> list[StateEvent]:
    """What the playbooks did (enter, exit, tags, goals, groups, service levels) and the
    events --simulate drew, by time, account and contact, then in the order they happened;
    the input file's own events are not repeated. (So ordered, the list is the same whether
    the accounts were planned together or in shards.)"""
    fields = result.contacts.fields
    drawn = [
        StateEvent(e.at, e.type, e.contact, None, {**e.data}, None, fields.get(e.contact, {}).get("account"))
        for e in result.inputs
        if e.data.get("simulated")
    ]
    return sorted([*result.events, *drawn], key=lambda e: (e.at, e.account or "", e.contact or ""))


def summary(result: PlanResult) -> dict[str, Any]:
    by_channel: Counter[str] = Counter()
    by_outcome: Counter[str] = Counter()
    for (_, _, channel, outcome, _), n in result.counts().items():
        by_channel[channel] += n
        by_outcome[outcome] += n
    return {"by_channel": dict(sorted(by_channel.items())), "by_outcome": dict(sorted(by_outcome.items()))}


def json_head(result: PlanResult) -> dict[str, Any]:
    """The contract's fields before the events and touches."""
    clock = result.clock
    # per SLA, per staff account: met / late / missed — where the playbooks declare service levels
    slas = {"service_levels": result.service_levels} if any(pb.slas for pb in result.playbooks) else {}
    return {
        **head_json(result),  # what --simulate drew (at a rate), A/B sample-size warnings: where there are
        **slas,
        "version": 1,
        "playbook": result.version,
        "start": iso(result.start, clock),
        "end": iso(result.end, clock),
        "summary": summary(result),
        "metrics": result.metrics,
        "problems": [{"file": p.file, "row": p.row, "reason": p.reason} for p in result.problems]
        + [{"event": e.type, "contact": e.contact, "reason": "unknown contact"} for e in result.unknown_contacts],
    }


def write_json(result: PlanResult, out: TextIO) -> None:
    """The stable JSON contract, streamed: same inputs, same bytes; one touch or event per
    line, so a million-contact plan never sits in memory as one string."""
    head = json_head(result)
    dump = Dump()  # one encoder for every line

    out.write("{\n")
    for key in sorted(head):
        out.write(f"  {dump(key)}: {dump(head[key])},\n")
    sections = _sections(result, dump)
    for number, (name, _, blocks) in enumerate(sections):
        out.write(f"  {dump(name)}: [")
        if result.sections is not None:  # planned in shards: their lines, put together
            result.sections.write(name, out)
            out.write(",\n" if number + 1 < len(sections) else "\n")
            continue
        separator = "\n    "
        for block in blocks:
            if block.__class__ is list:
                out.write(separator + LINE_SEPARATOR.join(block))  # type: ignore[arg-type]
            else:  # a line in pieces, each written as it is (see TouchLines.pieces)
                head, audience, tail = block
                out.write(separator + head)
                out.write(audience)
                out.write(tail)
            separator = LINE_SEPARATOR
        out.write("]" if separator == "\n    " else "\n  ]")
        out.write(",\n" if number + 1 < len(sections) else "\n")
    out.write("}\n")


def _sections(result: PlanResult, dump: Dump, binary: bool = False) -> list[tuple[str, list[Any], Iterator[Any]]]:
    """The JSON's two sections, events and touches: each with its items in order and their
    lines in blocks (see TouchLines.blocks)."""
    when = _Iso(result.clock)
    touch_line = TouchLines(when, dump, binary)
    event_line = EventLines(result.clock, when, dump)
    events = events_in_order(result)
    touches = result.touches
    if isinstance(touches, PlannedTouches):
        touch_blocks = touch_line.blocks(touches)
    else:
        touch_blocks = _in_blocks(map(touch_line.pieces, touches))
    event_blocks = ([event_line(e) for e in events[i : i + BLOCK]] for i in range(0, len(events), BLOCK))
    return [("events", events, event_blocks), ("touches", touches, touch_blocks)]


BLOCK = 4096  # lines in a block: a list of lines is joined and written at once


def _in_blocks(parts: Iterable[str | list[str] | tuple[str, Any, str]]) -> Iterator[list[str] | tuple[str, Any, str]]:
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


LINE_SEPARATOR = ",\n    "  # between two lines of a section (after "[\n    ")
_AT = attrgetter("at")


def write_section_lines(result: PlanResult, directory: str) -> dict[str, SectionLines]:
    """A shard's share of the JSON (plan/shards.py): for the events and the touches, a file
    of their lines in order, each followed by LINE_SEPARATOR, and for each line its time,
    its account and where it ends in the file — all the shards' lines put in that order
    are the lines `write_json` writes for the whole plan."""
    out: dict[str, SectionLines] = {}
    for name, items, blocks in _sections(result, Dump(), binary=True):
        path = f"{directory}/{name}"
        ends = np.empty(len(items), dtype=np.int64)
        with open(path, "wb") as fh:
            written = done = 0
            chunk: list[str] = []
            for block in blocks:
                if block.__class__ is list:
                    chunk += block  # type: ignore[arg-type]
                    # written a few thousand lines (1–3 MB) at a time: larger buffers are memory
                    # the system maps and unmaps at each write (page faults cost more than the writes)
                    if len(chunk) < BLOCK:
                        continue
                written = _write_lines(fh, chunk, ends, done, written)
                done += len(chunk)
                chunk = []
                if block.__class__ is not list:  # a Moments post: its audience's bytes as they are
                    head, audience, tail = block
                    for data in (head.encode(), audience, (tail + LINE_SEPARATOR).encode()):
                        fh.write(data)
                        written += len(data)
                    ends[done] = written
                    done += 1
            _write_lines(fh, chunk, ends, done, written)
        out[name] = SectionLines(path, *_merge_keys(items), ends)
    return out


def _merge_keys(items: Any) -> tuple[list[str], np.ndarray, list[str], np.ndarray, np.ndarray]:
    """What the shards' lines are put in order by (SectionLines): each line's account, its
    contact where it has no account (contacts without one may be in any shard), its time."""
    if isinstance(items, PlannedTouches):
        names, account = items.accounts, items.account
        others, contact = items.contact_of_lines()
        if "" not in names or not len(account):
            return names, account, [""], np.zeros(len(items), dtype=np.int32), items.at
        return names, account, others, np.where(account == names.index(""), contact, 0), items.at
    accounts = [x.account or "" for x in items]
    codes = {a: i for i, a in enumerate(dict.fromkeys(accounts))}
    codes_of_lines = np.fromiter(map(codes.__getitem__, accounts), np.int32, len(items))
    seen: dict[str, int] = {"": 0}
    contacts = np.zeros(len(items), dtype=np.int32)
    if "" in codes:
        contacts[:] = [seen.setdefault(x.contact or "", len(seen)) if not x.account else 0 for x in items]
    times = np.fromiter(map(_AT, items), dtype=np.int64, count=len(items))
    return list(codes), codes_of_lines, list(seen), contacts, times


def _write_lines(fh: Any, lines: list[str], ends: np.ndarray, done: int, written: int) -> int:
    """Lines, each with its separator, into a file; where each ends goes into `ends` from
    index `done`. A JSON line has no line break of its own (json escapes it in a string),
    so the line breaks in the encoded bytes are the separators': found by numpy, not by
    measuring each line."""
    if not lines:
        return written
    data = (LINE_SEPARATOR.join(lines) + LINE_SEPARATOR).encode()
    breaks = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    if len(breaks) != len(lines):  # not so after all (never, with json's own quoting): measure each
        breaks = np.cumsum([len(x.encode()) + len(LINE_SEPARATOR) for x in lines]) - len(LINE_SEPARATOR) + 1
    ends[done : done + len(lines)] = breaks + (written + len(LINE_SEPARATOR) - 1)
    fh.write(data)
    return written + len(data)


@dataclass
class SectionLines:
    """One shard's lines of a section (see write_section_lines)."""

    path: str
    accounts: list[str]  # the accounts its lines name ("" for none) …
    account: np.ndarray  # … and each line's, as an index into them
    contacts: list[str]  # the contacts of its lines without an account ("" for the others) …
    contact: np.ndarray  # … and each line's, as an index into them
    at: np.ndarray  # each line's time
    ends: np.ndarray  # where each line (with its separator) ends in the file


class Dump:
    """`json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode`, its C part made once:
    JSONEncoder makes it anew at each call, which costs more than encoding a small dict
    (a plan writes a line per event, a million of them)."""

    def __init__(self) -> None:
        self.plain = json.JSONEncoder(ensure_ascii=False, sort_keys=True)
        self.encoder = self._make()

    def _make(self) -> Any:
        if c_make_encoder is None:  # no C accelerator: json's own way
            return None
        # the arguments JSONEncoder.iterencode gives it: markers, default, quoting, indent,
        # separators, sort_keys, skipkeys, allow_nan
        return c_make_encoder({}, self.plain.default, _quote, None, ": ", ", ", True, False, True)

    def __call__(self, o: Any) -> str:
        if self.encoder is None:
            return self.plain.encode(o)
        try:
            return "".join(self.encoder(o, 0))
        except Exception:
            self.encoder = self._make()  # its circular-reference markers may be left dirty
            return self.plain.encode(o)  # the same text, or the same error


class TouchLines:
    """A touch's JSON line, written by hand: the bytes `dump(touch_json(t, when))` gives
    (keys sorted, `json.dumps` quoting; tests/test_plan_output.py holds them equal), at a
    fraction of the cost — a plan has millions. A touch with a field of an unexpected type
    goes the generic way."""

    def __init__(self, when: _Iso, dump: Callable[[Any], str], binary: bool = False):
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
        """The lines of a plan's touches in order, in blocks (see _in_blocks): a single
        touch's as `pieces` gives it, a run's members' from one template each."""
        return _in_blocks(
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

    def __init__(self, clock: LocalTime, when: _Iso, dump: Callable[[Any], str]):
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
                if kind is str:
                    values.append(_quote(value))
                elif kind is int:
                    values.append(times[value] if key in _TIMES else int.__repr__(value))
                elif key in _TIMES:
                    values.append(self.dump(event_json(e, self.clock, self.when)[key]))
                else:
                    values.append(self.dump(value))  # the text json gives a value inside a line
        except TypeError:  # not a str where one was expected: let json say how it reads
            return self.dump(event_json(e, self.clock, self.when))
        return fmt.format(*values)


_TIMES = ("closes", "deadline")  # event data that are instants, written as ISO text


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


def to_json(result: PlanResult) -> str:
    buffer = io.StringIO()
    write_json(result, buffer)
    return buffer.getvalue()


def summary_line(result: PlanResult) -> str:
    """Like `terraform plan`: '1,204 dm · 36 group posts · 90 moments · 412 tasks; …'."""
    going: Counter[str] = Counter()
    deferred: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for (_, _, channel, outcome, cause), n in result.counts().items():
        if outcome != SKIPPED:
            going[channel] += n
        if outcome == DEFERRED:
            deferred[cause] += n
        elif outcome == SKIPPED:
            skipped[cause] += n
    parts = [tn(*CHANNEL_COUNTS[c], going[c], count=f"{going[c]:,}") for c in CHANNELS]
    tail = [t("{count} deferred by {cause}", count=f"{n:,}", cause=_cause_text(c)) for c, n in sorted(deferred.items())]
    tail += [t("{count} skipped by {cause}", count=f"{n:,}", cause=_cause_text(c)) for c, n in sorted(skipped.items())]
    line = " · ".join(parts)
    return t("{counts}; {causes}", counts=line, causes=t(SEPARATOR).join(tail)) if tail else line


# The causes the summary groups reasons into.
CAUSES = {
    "quiet hours": N_("quiet hours"),
    "limits": N_("limits"),
    "missing fields": N_("missing fields"),
    "exits": N_("exits"),
}


def _cause_text(cause: str) -> str:
    return t(CAUSES[cause]) if cause in CAUSES else reason_text(cause)


def counts_by(result: PlanResult, key: str) -> dict[str, Counter[str]]:
    """Per day (local date) or per account: touches by channel and outcome."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for (day, account, channel, outcome, _), n in result.counts().items():
        row = day if key == "day" else (account or "—")
        if outcome != SKIPPED:
            table[row][channel] += n
        table[row][outcome] += n
    return dict(sorted(table.items()))


def render_tables(result: PlanResult, console: Any) -> None:
    from rich.table import Table

    from playbook.tables import print_table

    span = f"{iso(result.start, result.clock)} → {iso(result.end, result.clock)}"
    head = t("Plan {version}  {span}", version="\0", span=span)
    console.print(_styled(head, result.version, style="", title=True))
    console.print(summary_line(result), markup=False)
    render_drawn(result, console)
    names = {a: (rec.get("name") or a) for a, rec in result.contacts.accounts.items()}
    if result.service_levels:
        totals = sla_totals(result.service_levels)
        console.print(t("service levels: {met} met · {late} late · {missed} missed", met=f"{totals['met']:,}",
                        late=f"{totals['late']:,}", missed=f"{totals['missed']:,}"), markup=False)  # fmt: skip
        print_table(console, sla_table(result.service_levels, names))
    for key, title, header in (("day", N_("per day"), N_("day")), ("account", N_("per account"), N_("account"))):
        table = Table(title=t(title), title_justify="left")
        table.add_column(t(header))
        for c in CHANNELS:
            table.add_column(t(CHANNEL_WORDS[c]), justify="right")
        for o in (DEFERRED, SKIPPED):
            table.add_column(t(OUTCOME_WORDS[o]), justify="right")
        for row, counts in counts_by(result, key).items():
            label = f"{row} {names.get(row, '')}".strip() if key == "account" and names.get(row, row) != row else row
            table.add_row(label, *(f"{counts.get(c, 0):,}" for c in (*CHANNELS, DEFERRED, SKIPPED)))
        print_table(console, table)
    if result.metrics:
        table = Table(title=t("journeys"), title_justify="left")
        for col in (N_("journey"), N_("entered"), N_("goal"), N_("conversion"), N_("by arm")):
            table.add_column(t(col), justify="right" if col in ("entered", "goal", "conversion") else "left")
        no_goal = journeys_without_goal(result)
        for name, m in result.metrics.items():
            arms = ", ".join(f"{a} {v['goal']}/{v['entered']}" for a, v in m["by_arm"].items())
            if name in no_goal:  # not 0%: there is nothing to convert to (nor 0 goals in an arm)
                arms = ", ".join(f"{a} —/{v['entered']}" for a, v in m["by_arm"].items())
                table.add_row(name, f"{m['entered']:,}", "—", t("no goal"), arms)
            else:
                table.add_row(name, f"{m['entered']:,}", f"{m['goal']:,}", f"{m['conversion']:.1%}", arms)
        print_table(console, table)
    render_warnings(result, console)
    render_problems(result, console)


def sla_table(service_levels: dict[str, dict[str, dict[str, int]]], names: dict[str, str]) -> Any:
    """Met / late / missed per staff account and SLA (the plan's `service_levels`, or the
    report's `service_levels_by_account`: the same shape), as a table."""
    from rich.table import Table

    table = Table(title=t("service levels per staff"), title_justify="left")
    for header in (N_("account"), N_("service level"), N_("met"), N_("late"), N_("missed")):
        table.add_column(t(header), justify="left" if header in ("account", "service level") else "right")
    rows = sorted((account, sla, c) for sla, accounts in service_levels.items() for account, c in accounts.items())
    for account, sla, c in rows:
        label = f"{account} {names[account]}" if names.get(account, account) != account else (account or "—")
        table.add_row(label, sla, *(f"{c.get(k, 0):,}" for k in ("met", "late", "missed")))
    return table


def account_caps(result: PlanResult) -> dict[str, int]:
    """Per channel (dm, task), the smallest `limit CHANNEL N per account per day` among the
    playbooks: what one staff account is meant to handle in a day."""
    caps: dict[str, int] = {}
    for pb in result.playbooks:
        for limit in pb.limits:
            if limit.scope == "account" and limit.period == "day" and limit.channel in ("dm", "task"):
                caps[limit.channel] = min(caps.get(limit.channel, limit.count), limit.count)
    return caps


def render_account_day(result: PlanResult, console: Any) -> None:
    """`plan --by account-day`: each account's dm and tasks sent per day, "dm/task" in a
    cell, marked "!" where one is over the account's daily cap (account_caps)."""
    from rich.table import Table

    from playbook.tables import print_table

    cells: dict[str, dict[str, Counter[str]]] = {}
    days: set[str] = set()
    for (day, account, channel, outcome, _), n in result.counts().items():
        if outcome == "ok" and channel in ("dm", "task"):
            cells.setdefault(account or "—", {}).setdefault(day, Counter())[channel] += n
            days.add(day)
    caps = account_caps(result)
    names = {a: (rec.get("name") or a) for a, rec in result.contacts.accounts.items()}
    cap_text = ", ".join(f"{t(CHANNEL_WORDS[c])} {n}" for c, n in sorted(caps.items())) or "—"
    table = Table(title=t("dm/tasks per account and day (caps: {caps})", caps=cap_text), title_justify="left")
    table.add_column(t("account"))
    ordered = sorted(days)
    for day in ordered:
        table.add_column(day[5:], justify="right")
    over = 0
    for account in sorted(cells):
        row = [f"{account} {names[account]}" if names.get(account, account) != account else account]
        for day in ordered:
            c = cells[account].get(day)
            if c is None:
                row.append("")
                continue
            mark = any(c[ch] > cap for ch, cap in caps.items())
            over += mark
            row.append(f"{c['dm']}/{c['task']}" + ("!" if mark else ""))
        table.add_row(*row)
    print_table(console, table)
    if over:
        console.print(t("{n} account-days over a cap (marked !)", n=over), style="red", markup=False)


def journeys_without_goal(result: PlanResult) -> set[str]:
    """The metrics keys of the journeys that declare no goal ("playbook/journey" when
    playbooks side by side share a journey name, as the metrics are keyed)."""
    pairs = {(pb.title or pb.name, name): j.goal is not None for pb in result.playbooks
             for name, j in pb.journeys.items()}  # fmt: skip
    keys = flow_keys(pairs)
    return {keys[pair] for pair, has in pairs.items() if not has}


def render_problems(result: PlanResult, console: Any) -> None:
    for p in result.problems:
        line = t("{file}:{row}: skipped row: {reason}", file=p.file, row=p.row, reason=p.message())
        console.print(line, style="yellow", markup=False, highlight=False)
    for e in result.unknown_contacts:
        line = t("event {type} for unknown contact '{contact}' ignored", type=e.type, contact=e.contact)
        console.print(line, style="yellow", markup=False, highlight=False)


def _styled(text: str, value: str, style: str = "bold", title: bool = False) -> Any:
    """A translated line as rich Text, `value` put in where `text` has a NUL, in `style`
    (with `title`, the words before it in bold): styles without markup in the catalogue."""
    from rich.text import Text

    before, _, after = text.partition("\0")
    if title:
        words = before.rstrip()
        return Text.assemble((words, "bold"), before[len(words) :], (value, style), after)
    return Text.assemble(before, (value, style), after)


def render_contact(result: PlanResult, contact: str, console: Any) -> bool:
    """One contact's timeline, oldest first, with the full rendered text of each touch.
    False when the contact is unknown."""
    from rich.text import Text

    from playbook.textcells import pad_cells
    from playbook.words import channel_word, event_details, event_label

    if contact not in result.contacts.fields:
        return False
    record = result.contacts.fields[contact]
    account = record.get("account", "—")
    head = t("{name} ({id}) · account {account}", name="\0", id=contact, account=account)
    console.print(_styled(head, str(record.get("name", contact))))
    clock = result.clock
    rows: list[tuple[int, int, Text, str]] = []
    for x in touches_of(result.touches, contact):
        style = {OK: "green", DEFERRED: "yellow", SKIPPED: "red"}[x.outcome]
        outcome = t(OUTCOME_WORDS[x.outcome])
        if x.reason:
            outcome = t("{outcome} ({reason})", outcome=outcome, reason=reason_text(x.reason))
        head = Text.assemble(
            (clock.local(x.at).strftime("%Y-%m-%d %H:%M"), "bold"),
            f"  {pad_cells(channel_word(x.channel), 6)} {x.flow} · {x.step}  ", (outcome, style),
        )  # fmt: skip
        if x.outcome == DEFERRED:
            head.append("  " + t("due {when}", when=clock.local(x.due).strftime("%m-%d %H:%M")), style="dim")
        rows.append((x.at, 1, head, x.text))
    inputs = [StateEvent(e.at, e.type, e.contact, None, e.data) for e in result.inputs if e.contact == contact]
    for e in [*inputs, *result.events]:
        if e.contact == contact:
            detail = event_details(e.type, e.data)  # the engine's records in words, inputs' fields as they are
            head = Text.assemble(
                (clock.local(e.at).strftime("%Y-%m-%d %H:%M"), "bold"), f"  {event_label(e.type)}",
                (f"  {e.flow or ''}", "cyan"),
            )  # fmt: skip
            rows.append((e.at, 0, head, detail))
    for _, _, head, body in sorted(rows, key=lambda r: (r[0], r[1])):
        console.print(head)
        for line in body.splitlines():
            console.print(f"      {line}", markup=False, highlight=False)
    return True
