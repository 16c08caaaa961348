"""What goes into the engine (events) and what comes out (touches with their outcome, state
events)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
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
    version: str  # the playbook's version id
    key: str  # idempotency key: playbook version, flow, contact or group, step, occurrence
    contact: str | None = None
    group: str | None = None
    audience: Any = None  # a Moments post: engine.columns.Audience
    priority: float = 0
    step_order: int = 0
    parts: dict[str, Any] | None = None  # rendered image/link/mini-program parts
    account_only: bool = False  # counted for its account only (TouchRequest.account_only)


@dataclass(slots=True)
class StateEvent:
    """Something the playbook did or saw that is not a touch: enter, exit, tag, goal, group
    opened/closed, SLA met/missed, and the inputs it reacted to."""

    at: int
    type: str
    contact: str | None = None
    flow: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    version: str | None = None  # the playbook's version id
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
    program: Any  # the Program (engine.core) it belongs to: a version of a playbook, compiled
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
    entered_at: int | None = None  # a journey touch: when its contact entered (for `event`)
    # The account's touch only: it counts against the limits of its account (per account, and
    # `any`) and not against its contact's, whom it names but does not reach — an SLA's
    # escalation, a supervisor's task about a customer (docs/semantics.md, "Service levels").
    account_only: bool = False

    def order(self) -> tuple[float, int, str, int, str]:
        """Competition order (LANGUAGE.md §12): priority, due time, flow name, step order."""
        return (-self.priority, self.due, self.flow, self.step_order, self.key)

    @property
    def counted_contact(self) -> str | None:
        """The contact whose limits it counts against and whose hand-over to another shard
        takes it along: its contact, None for the account's touch only (`account_only`)."""
        return None if self.account_only else self.contact

    def member(self, contact: str, key: str) -> TouchRequest:
        """This request for one contact (a TouchBatch's member on its own)."""
        return TouchRequest(self.due, self.channel, self.account, self.flow, self.step, self.step_order, self.priority,
                            self.program, key, contact, self.group, content=self.content, task_text=self.task_text,
                            event=self.event, not_after=self.not_after)  # fmt: skip


@dataclass(slots=True, eq=False)
class TouchBatch:
    """Touches alike but for their contact — a rotation's day for one account, a group's
    invitations — requested at once: in the competition they take the place their keys
    give them, member by member, as that many TouchRequests would (engine.core), without
    making each. A plan makes a million."""

    like: TouchRequest  # every field but contact and key; no origin, no audience, an account
    contacts: list[str]
    keys: list[str]  # one per contact, ascending

    def order(self) -> tuple[float, int, str, int, str]:
        like = self.like
        return (-like.priority, like.due, like.flow, like.step_order, self.keys[0])


@dataclass(slots=True)
class TouchRun:
    """Members of one TouchBatch that ended alike at one instant (sent, or skipped for one
    reason): what a plan keeps of them, a Touch each only when asked (`touches`)."""

    at: int
    like: TouchRequest
    outcome: str
    reason: str
    contacts: list[str]
    keys: list[str]
    texts: list[str]

    def touch(self, i: int) -> Touch:
        """Member `i` as a Touch."""
        like = self.like
        return Touch(self.at, like.due, like.channel, like.account, like.flow, like.step, like.content, self.texts[i],
                     self.outcome, self.reason, like.program.version, self.keys[i], self.contacts[i], like.group, None,
                     like.priority, like.step_order)  # fmt: skip

    def touches(self, first: int = 0, stop: int | None = None) -> list[Touch]:
        """Members `first` to `stop` as Touches."""
        return [self.touch(i) for i in range(first, len(self.contacts) if stop is None else stop)]


def flow_keys(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(playbook, flow) -> the key metrics are reported under: the flow's name, or
    "playbook/flow" when playbooks given side by side share the name — as the plan does.
    Versions of one playbook share its name, so a flow's figures add up across versions."""
    pairs = sorted(set(pairs))
    count = Counter(name for _, name in pairs)
    return {(pb, name): name if count[name] == 1 else f"{pb}/{name}" for pb, name in pairs}
