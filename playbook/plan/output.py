"""What `playbook plan` shows: the JSON contract (PRODUCT.md), the summary line, per-day
and per-account tables, one contact's timeline, and an HTML export of the same."""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any, TextIO

from playbook.engine.model import DEFERRED, SKIPPED, StateEvent, Touch
from playbook.engine.timeutil import LocalTime, iso
from playbook.plan.run import PlanResult

CHANNELS = ("dm", "group", "moment", "task")
CHANNEL_WORDS = {"dm": "dm", "group": "group posts", "moment": "moments", "task": "tasks"}


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


def event_json(e: StateEvent, clock: LocalTime) -> dict[str, Any]:
    out: dict[str, Any] = {"at": iso(e.at, clock), "type": e.type}
    if e.contact is not None:
        out["contact"] = e.contact
    if e.flow is not None:
        out["flow"] = e.flow
    for key, value in e.data.items():
        out[key] = iso(value, clock) if key in ("closes", "deadline") and isinstance(value, int) else value
    return out


def _events_in_order(result: PlanResult) -> list[StateEvent]:
    """What the playbooks did (enter, exit, tags, goals, groups, service levels) and the
    events --simulate drew, in time order; the input file's own events are not repeated."""
    drawn = [StateEvent(e.at, e.type, e.contact, None, {**e.data}) for e in result.inputs if e.data.get("simulated")]
    return sorted([*result.events, *drawn], key=lambda e: e.at)


def summary(result: PlanResult) -> dict[str, Any]:
    return {
        "by_channel": dict(sorted(Counter(t.channel for t in result.touches).items())),
        "by_outcome": dict(sorted(Counter(t.outcome for t in result.touches).items())),
    }


def write_json(result: PlanResult, out: TextIO) -> None:
    """The stable JSON contract, streamed: same inputs, same bytes; one touch or event per
    line, so a million-contact plan never sits in memory as one string."""
    clock = result.clock
    head = {
        "version": 1,
        "playbook": result.version,
        "start": iso(result.start, clock),
        "end": iso(result.end, clock),
        "summary": summary(result),
        "metrics": result.metrics,
        "problems": [{"file": p.file, "row": p.row, "reason": p.reason} for p in result.problems]
        + [{"event": e.type, "contact": e.contact, "reason": "unknown contact"} for e in result.unknown_contacts],
    }

    dump = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode  # one encoder for every line

    out.write("{\n")
    for key in sorted(head):
        out.write(f"  {dump(key)}: {dump(head[key])},\n")
    when = _Iso(clock)
    sections: list[tuple[str, Iterable[dict[str, Any]]]] = [
        ("events", (event_json(e, clock) for e in _events_in_order(result))),
        ("touches", (touch_json(t, when) for t in result.touches)),
    ]
    for number, (name, items) in enumerate(sections):
        out.write(f"  {dump(name)}: [")
        separator = "\n"
        for item in items:
            out.write(f"{separator}    {dump(item)}")
            separator = ",\n"
        out.write("\n  ]" if separator != "\n" else "]")
        out.write(",\n" if number + 1 < len(sections) else "\n")
    out.write("}\n")


def to_json(result: PlanResult) -> str:
    buffer = io.StringIO()
    write_json(result, buffer)
    return buffer.getvalue()


def summary_line(result: PlanResult) -> str:
    """Like `terraform plan`: '1,204 dm · 36 group posts · 90 moments · 412 tasks; …'."""
    going = Counter(t.channel for t in result.touches if t.outcome != SKIPPED)
    parts = [f"{going.get(c, 0):,} {CHANNEL_WORDS[c]}" for c in CHANNELS]
    deferred = Counter(_cause(t.reason) for t in result.touches if t.outcome == DEFERRED)
    skipped = Counter(_cause(t.reason) for t in result.touches if t.outcome == SKIPPED)
    tail = [f"{n:,} deferred by {cause}" for cause, n in sorted(deferred.items())]
    tail += [f"{n:,} skipped by {cause}" for cause, n in sorted(skipped.items())]
    return " · ".join(parts) + ("; " + "; ".join(tail) if tail else "")


def _cause(reason: str) -> str:
    """Group reasons for the summary: 'quiet hours', 'limits', or the reason itself."""
    first = reason.split(";")[0].strip()
    if first.startswith("quiet hours"):
        return "quiet hours"
    if first.startswith("limit "):
        return "limits"
    if first.startswith("missing "):
        return "missing fields"
    if first.startswith("exited"):
        return "exits"
    return first


def counts_by(result: PlanResult, key: str) -> dict[str, Counter[str]]:
    """Per day (local date) or per account: touches by channel and outcome."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for t in result.touches:
        row = result.clock.date_of(t.at).isoformat() if key == "day" else (t.account or "—")
        if t.outcome != SKIPPED:
            table[row][t.channel] += 1
        table[row][t.outcome] += 1
    return dict(sorted(table.items()))


def render_tables(result: PlanResult, console: Any) -> None:
    from rich.table import Table

    console.print(
        f"[bold]Plan[/bold] {result.version}  {iso(result.start, result.clock)} → {iso(result.end, result.clock)}"
    )
    console.print(summary_line(result), markup=False)
    names = {a: (rec.get("name") or a) for a, rec in result.contacts.accounts.items()}
    for key, title in (("day", "per day"), ("account", "per account")):
        table = Table(title=title, title_justify="left")
        table.add_column(key)
        for c in CHANNELS:
            table.add_column(CHANNEL_WORDS[c], justify="right")
        for o in (DEFERRED, SKIPPED):
            table.add_column(o, justify="right")
        for row, counts in counts_by(result, key).items():
            label = f"{row} {names.get(row, '')}".strip() if key == "account" and names.get(row, row) != row else row
            table.add_row(label, *(f"{counts.get(c, 0):,}" for c in (*CHANNELS, DEFERRED, SKIPPED)))
        console.print(table)
    if result.metrics:
        table = Table(title="journeys", title_justify="left")
        for col in ("journey", "entered", "goal", "conversion", "by arm"):
            table.add_column(col, justify="right" if col in ("entered", "goal", "conversion") else "left")
        for name, m in result.metrics.items():
            arms = ", ".join(f"{a} {v['goal']}/{v['entered']}" for a, v in m["by_arm"].items())
            table.add_row(name, f"{m['entered']:,}", f"{m['goal']:,}", f"{m['conversion']:.1%}", arms)
        console.print(table)
    render_problems(result, console)


def render_problems(result: PlanResult, console: Any) -> None:
    for p in result.problems:
        console.print(f"[yellow]{p.file}:{p.row}: skipped row: {p.reason}[/yellow]", highlight=False)
    for e in result.unknown_contacts:
        console.print(f"[yellow]event {e.type} for unknown contact '{e.contact}' ignored[/yellow]", highlight=False)


def render_contact(result: PlanResult, contact: str, console: Any) -> bool:
    """One contact's timeline, oldest first, with the full rendered text of each touch.
    False when the contact is unknown."""
    from rich.text import Text

    if contact not in result.contacts.fields:
        return False
    record = result.contacts.fields[contact]
    console.print(
        Text.assemble(
            (str(record.get("name", contact)), "bold"), f" ({contact}) · account {record.get('account', '—')}"
        )
    )
    clock = result.clock
    rows: list[tuple[int, int, Text, str]] = []
    for t in result.touches:
        if t.contact == contact or (t.audience is not None and contact in t.audience):
            style = {"ok": "green", "deferred": "yellow", "skipped": "red"}[t.outcome]
            head = Text.assemble(
                (clock.local(t.at).strftime("%Y-%m-%d %H:%M"), "bold"), f"  {t.channel:<6} {t.flow} · {t.step}  ",
                (t.outcome + (f" ({t.reason})" if t.reason else ""), style),
            )  # fmt: skip
            if t.outcome == "deferred":
                head.append(f"  due {clock.local(t.due).strftime('%m-%d %H:%M')}", style="dim")
            rows.append((t.at, 1, head, t.text))
    inputs = [StateEvent(e.at, e.type, e.contact, None, e.data) for e in result.inputs if e.contact == contact]
    for e in [*inputs, *result.events]:
        if e.contact == contact:
            detail = ", ".join(f"{k}={v}" for k, v in e.data.items() if k not in ("deadline", "closes"))
            head = Text.assemble(
                (clock.local(e.at).strftime("%Y-%m-%d %H:%M"), "bold"), f"  {e.type}", (f"  {e.flow or ''}", "cyan")
            )
            rows.append((e.at, 0, head, detail))
    for _, _, head, body in sorted(rows, key=lambda r: (r[0], r[1])):
        console.print(head)
        for line in body.splitlines():
            console.print(f"      {line}", markup=False, highlight=False)
    return True
