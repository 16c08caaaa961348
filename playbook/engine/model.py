"""What goes into the engine (events) and what comes out (touches with their outcome, state
events)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OK, DEFERRED, SKIPPED = "ok", "deferred", "skipped"

# What goes first among timeline items at the same instant (docs/semantics.md, "The timeline").
PHASE_EVENT, PHASE_TICK, PHASE_SCHEDULE, PHASE_STEP, PHASE_RETRY = 0, 1, 2, 3, 4


@dataclass(slots=True)
class Event:
    type: str
    contact: str
    at: int
    data: dict[str, Any] = field(default_factory=dict)
    seq: int = 0  # arrival order: breaks ties between events with the same `at`


@dataclass(slots=True)
class Touch:
    """One touch and its single outcome. `at` is when it goes out (for a skipped touch:
    when it was given up); `due` is when the flow wanted it."""

    at: int
    due: int
    channel: str  # dm | group | moment | task
    account: str | None
    flow: str
    step: str
    content: str | None
    text: str
    outcome: str
    reason: str
    playbook: str  # the playbook's version id
    key: str  # idempotency key: playbook version, flow, contact or group, step, occurrence
    contact: str | None = None
    group: str | None = None
    audience: Any = None  # a Moments post: engine.columns.Audience
    priority: float = 0
    step_order: int = 0
    parts: dict[str, Any] | None = None  # rendered image/link/mini-program parts


@dataclass(slots=True)
class StateEvent:
    """Something the playbook did or saw that is not a touch: enter, exit, tag, goal, group
    opened/closed, SLA met/missed, and the inputs it reacted to."""

    at: int
    type: str
    contact: str | None = None
    flow: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    playbook: str | None = None
    account: str | None = None  # whose it is (the plan orders events by it); set by the plan


@dataclass(slots=True, eq=False)
class TouchRequest:
    """A touch waiting to go out: it competes for limits at each instant it is ready."""

    due: int
    channel: str
    account: str | None
    flow: str
    step: str
    step_order: int
    priority: float
    playbook: Any  # the Program it belongs to
    key: str
    contact: str | None = None
    group: str | None = None
    audience_of: Callable[[], Any] | None = None  # moments: an Audience, computed when it goes out
    content: str | None = None  # content name (dm, post) …
    task_text: str | None = None  # … or task text
    event: dict[str, Any] | None = None  # the event a journey was entered on
    origin: tuple | None = None  # the step that waits for this touch (FlowSet.touch_done)
    cancelled: str | None = None  # why it will not go out any more
    reasons: list[str] = field(default_factory=list)  # why it was deferred so far
    not_after: int | None = None  # give up when it cannot go out by then (group closed)

    def order(self) -> tuple[float, int, str, int, str]:
        """Competition order (LANGUAGE.md §12): priority, due time, flow name, step order."""
        return (-self.priority, self.due, self.flow, self.step_order, self.key)
