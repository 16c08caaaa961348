"""The effect of a change to a playbook: the plan of the old version and the plan of the
new one over the same customers, events and days, touch by touch (`playbook diff`).

`effect(plan)` takes a way to plan each side — `plan("old")`, `plan("new")`, each a `Side` —
and does not care where the plans come from: data files (`cli/diff.py` runs the `plan`
command's engine over them), or a live store's forecast. Touches are matched across the
versions by their idempotency key without the version (flow, contact or group, step,
occurrence): the same step for the same customer. A touch *goes out* when the engine let
it go (sent on time or deferred); skipped touches do not.

- added: goes out in the new plan and not in the old; removed: the other way round;
- changed: goes out in both, at another time, with another text or from another account;
- the first-hour burst: what each version sends in the first hour from the start, and its
  busiest hour (a burst held back by quiet hours goes out when they end).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from playbook.vocab.localtime import LocalTime, iso
from playbook.vocab.model import Touch

SKIPPED = "skipped"
OLD, NEW = "old", "new"
BURST_SECONDS = 3600
EXAMPLES = 3  # per kind of difference


@dataclass
class Side:
    """One version's plan, as much of it as a diff needs: its touches over [start, end)."""

    touches: Iterable[Touch]
    start: int
    end: int
    clock: LocalTime


Planner = Callable[[str], Side]  # "old" | "new" -> the plan of that side


@dataclass
class Effect:
    start: int
    end: int
    clock: LocalTime
    sent: dict[str, int]  # side -> touches that go out
    added: list[tuple[Touch | None, Touch]] = field(default_factory=list)  # (the old one, if skipped there; new)
    removed: list[tuple[Touch, Touch | None]] = field(default_factory=list)
    changed: list[tuple[Touch, Touch, list[str]]] = field(default_factory=list)  # old, new, what differs
    burst: dict[str, Counter[str]] = field(default_factory=dict)  # side -> channel -> touches in the first hour
    # side -> (the hour's start, touches): the busiest hour from the start (hours counted from
    # it), where a burst held back by quiet hours shows; (start, 0) when nothing goes out
    peak: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def alters_sending(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def by_flow(self) -> dict[tuple[str, str], dict[str, int]]:
        """(flow, channel) -> {"added", "removed", "changed"} counts."""
        out: dict[tuple[str, str], dict[str, int]] = {}

        def bump(x: Touch, what: str) -> None:
            slot = out.setdefault((x.flow, x.channel), {"added": 0, "removed": 0, "changed": 0})
            slot[what] += 1

        for _, new in self.added:
            bump(new, "added")
        for old, _ in self.removed:
            bump(old, "removed")
        for _, new, _ in self.changed:
            bump(new, "changed")
        return dict(sorted(out.items()))


def goes_out(x: Touch) -> bool:
    return x.outcome != SKIPPED


def side_key(x: Touch) -> str:
    """The touch's idempotency key without the version: the same step for the same customer."""
    return x.key.split("/", 1)[1] if "/" in x.key else x.key


def effect(plan: Planner) -> Effect:
    old, new = plan(OLD), plan(NEW)
    result = Effect(new.start, new.end, new.clock, {OLD: 0, NEW: 0})
    before = _by_key(old.touches)
    after = _by_key(new.touches)
    for side, touches in ((OLD, before), (NEW, after)):
        result.sent[side] = sum(1 for x in touches.values() if goes_out(x))
        result.burst[side] = Counter(x.channel for x in touches.values()
                                     if goes_out(x) and x.at < new.start + BURST_SECONDS)  # fmt: skip
        hours = Counter(new.start + (x.at - new.start) // 3600 * 3600 for x in touches.values() if goes_out(x))
        result.peak[side] = min(hours.items(), key=lambda h: (-h[1], h[0])) if hours else (new.start, 0)
    for key in sorted({*before, *after}, key=lambda k: _order(before.get(k) or after[k])):
        a, b = before.get(key), after.get(key)
        out_a, out_b = a is not None and goes_out(a), b is not None and goes_out(b)
        if out_b and not out_a:
            result.added.append((a, b))  # type: ignore[arg-type]
        elif out_a and not out_b:
            result.removed.append((a, b))  # type: ignore[arg-type]
        elif out_a and out_b:
            what = _differences(a, b)  # type: ignore[arg-type]
            if what:
                result.changed.append((a, b, what))  # type: ignore[arg-type]
    return result


def _by_key(touches: Iterable[Touch]) -> dict[str, Touch]:
    return {side_key(x): x for x in touches}


def _order(x: Touch) -> tuple[int, str, str, str]:
    return x.at, x.account or "", x.contact or x.group or "", x.key


def _differences(a: Touch, b: Touch) -> list[str]:
    what = []
    if a.at != b.at:
        what.append("time")
    if a.text != b.text or a.parts != b.parts:
        what.append("text")
    if a.account != b.account:
        what.append("account")
    if a.channel != b.channel:
        what.append("channel")
    return what


# ---- as data ---------------------------------------------------------------------------------------------


def touch_doc(x: Touch | None, clock: LocalTime) -> dict[str, Any] | None:
    if x is None:
        return None
    return {"at": iso(x.at, clock), "channel": x.channel, "account": x.account, "flow": x.flow, "step": x.step,
            "contact": x.contact, "group": x.group, "text": x.text, "outcome": x.outcome, "reason": x.reason}  # fmt: skip


def effect_doc(e: Effect, examples: int = EXAMPLES) -> dict[str, Any]:
    """The effect as JSON-ready data (times as ISO 8601 with the playbook's offset, as `plan --format json`)."""
    c = e.clock
    return {
        "start": iso(e.start, c),
        "end": iso(e.end, c),
        "sent": dict(e.sent),
        "counts": {"added": len(e.added), "removed": len(e.removed), "changed": len(e.changed)},
        "by_journey": [{"flow": flow, "channel": channel, **n} for (flow, channel), n in e.by_flow().items()],
        "examples": {
            "added": [{"old": touch_doc(a, c), "new": touch_doc(b, c)} for a, b in e.added[:examples]],
            "removed": [{"old": touch_doc(a, c), "new": touch_doc(b, c)} for a, b in e.removed[:examples]],
            "changed": [
                {"old": touch_doc(a, c), "new": touch_doc(b, c), "what": what} for a, b, what in e.changed[:examples]
            ],  # fmt: skip
        },
        "first_hour": {side: dict(sorted(n.items())) for side, n in e.burst.items()},
        "busiest_hour": {side: {"at": iso(at, c), "touches": n} for side, (at, n) in e.peak.items()},
    }
