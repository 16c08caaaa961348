"""What the store reads and writes: one dataclass per kind of row, the `Journal` of changes
written in one transaction, and the `State` loaded back.

Times are as in the tables (codec.py): `int` seconds since the epoch (UTC) for engine
instants, aware UTC `datetime`s for bookkeeping.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from playbook.runtime.codec import reason_doc, reason_of_doc
from playbook.vocab.model import SKIPPED, StateEvent, Touch, TouchRequest
from playbook.vocab.reasons import Reason, joined

FlowStateKey = tuple[str, str, str]  # (version, runner, item)
EnrolmentKey = tuple[str, str, str, int]  # (version, journey, contact, n)
CounterKey = tuple[str, str, str, int]  # (scope, rule, scope_id, period_start)
ACCOUNT_ONLY = {"account_only": True}  # `request` of a decided row that counts for its account only


@dataclass(slots=True)
class VersionRow:
    version: str
    name: str
    document: dict[str, Any]
    created_at: dt.datetime
    activated_at: dt.datetime | None = None
    retired_at: dt.datetime | None = None


@dataclass(slots=True)
class EnrolmentRow:
    version: str
    journey: str
    contact: str
    n: int
    entered_at: int
    status: str = "active"  # active | done | exited
    epoch: int = 0
    event: dict[str, Any] | None = None
    arms: dict[str, str] = field(default_factory=dict)
    wait: str | None = None  # the wait node's id
    touch: str | None = None  # the key of the touch it waits for
    goal_at: int | None = None
    segments: list[str] = field(default_factory=list)

    @property
    def key(self) -> EnrolmentKey:
        return (self.version, self.journey, self.contact, self.n)


@dataclass(slots=True)
class TimerRow:
    """One engine timeline item (engine/timeline.py `Item`): its time, phase, order and seq,
    its kind and payload's fields in order (runtime/state.py), and who owns it."""

    seq: int
    due: int
    phase: int
    order: tuple[Any, ...]
    kind: str
    payload: tuple[Any, ...]
    version: str | None = None
    shard: int = 0
    account: str | None = None


@dataclass(slots=True)
class CounterRow:
    scope: str  # a playbook (its identity: every version counts together), or "platform" for an adapter's quotas
    rule: str  # what the rule counts (LimitRule.key): "dm per contact per day"
    scope_id: str
    period_start: int
    period_end: int
    count: int

    @property
    def key(self) -> CounterKey:
        return (self.scope, self.rule, self.scope_id, self.period_start)


@dataclass(slots=True)
class TouchRow:
    """A row of the ledger (outbox)."""

    key: str
    version: str
    flow: str
    step: str
    channel: str
    due: int
    state: str
    account: str | None = None
    contact: str | None = None
    group: str | None = None
    at: int | None = None
    content: str | None = None
    text: str = ""
    parts: dict[str, Any] | None = None
    audience: list[str] | None = None
    outcome: str | None = None  # the engine's: ok | deferred | skipped
    reason: Reason | str = ""  # the engine's; "" for none (stored as text, code and arguments: codec.py)
    error: str | None = None
    attempts: int = 0
    next_attempt_at: int | None = None
    owner: str | None = None
    adapter: str | None = None
    adapter_ref: str | None = None
    request: dict[str, Any] | None = None  # held: the rest of the TouchRequest
    receipt: str | None = None  # what the platform said later (confirmed, not_friend, quota …)
    receipt_at: int | None = None
    created_at: dt.datetime | None = None  # set by the store
    updated_at: dt.datetime | None = None

    @classmethod
    def from_touch(cls, touch: Touch) -> TouchRow:
        """An engine outcome as a ledger row: a skipped touch is final; one that went out
        (on time or deferred) is pending, for a dispatcher to take from `touch.at` on."""
        skipped = touch.outcome == SKIPPED
        audience = touch.audience
        if audience is not None and not isinstance(audience, list):
            audience = audience.ids()  # engine.columns.Audience
        return cls(
            key=touch.key,
            version=touch.version,
            flow=touch.flow,
            step=touch.step,
            channel=touch.channel,
            due=touch.due,
            state="skipped" if skipped else "pending",
            account=touch.account,
            contact=touch.contact,
            group=touch.group,
            at=touch.at,
            content=touch.content,
            text=touch.text,
            parts=touch.parts,
            audience=audience,
            outcome=touch.outcome,
            reason=touch.reason,
            next_attempt_at=None if skipped else touch.at,
            request=dict(ACCOUNT_ONLY) if touch.account_only else None,
        )

    @classmethod
    def held(cls, req: TouchRequest) -> TouchRow:
        """A touch the engine holds (quiet hours, a `defer` limit). `request` keeps what a
        restarted engine needs to rebuild the TouchRequest besides its Program (found by
        `version`) and a Moments post's audience function (rebuilt from flow and step order)."""
        return cls(
            key=req.key,
            version=req.program.version,
            flow=req.flow,
            step=req.step,
            channel=req.channel,
            due=req.due,
            state="held",
            account=req.account,
            contact=req.contact,
            group=req.group,
            content=req.content,
            reason=joined(req.reasons) if req.reasons else "",  # why it is held (status shows it)
            request={
                "step_order": req.step_order,
                "priority": req.priority,
                "task_text": req.task_text,
                "event": req.event,
                "origin": req.origin,
                "cancelled": reason_doc(req.cancelled),
                "reasons": [reason_doc(r) for r in req.reasons],
                "not_after": req.not_after,
                "moments": req.audience_of is not None,
                "account_only": req.account_only,
            },
        )

    def held_reasons(self) -> list[Reason]:
        """Why a held touch is held (its request's reasons)."""
        found = (reason_of_doc(doc) for doc in (self.request or {}).get("reasons") or ())
        return [reason for reason in found if reason is not None]

    def cancelled(self) -> Reason | None:
        """Why a held touch is given up when it is next tried (its request's `cancelled`)."""
        return reason_of_doc((self.request or {}).get("cancelled"))

    def account_only(self) -> bool:
        """Whether it counts for its account only (TouchRequest.account_only: an SLA's escalation)."""
        return bool((self.request or {}).get("account_only"))


@dataclass(slots=True)
class ForwardRow:
    """A touch one shard's engine decided for an account another shard owns — an SLA's
    escalation task for a supervisor (`Engine.forward`). Written with the deciding shard's
    journal; the receiving shard's engine requests it at `due` (never before its now) and
    takes it off in the commit of that step (storage/forwards.py)."""

    key: str  # the touch's idempotency key
    due: int  # when it was decided
    version: str  # the playbook version that decided it
    account: str  # the account it is for: the receiving shard is that account's
    contact: str | None  # the contact it is about (not reached: the account's touch only)
    flow: str
    step: str
    step_order: int
    priority: float
    text: str  # the task's text, rendered where it was decided


@dataclass(slots=True)
class GroupRow:
    version: str
    id: str
    group: str
    account: str
    opens: int
    closes: int
    members: list[str] = field(default_factory=list)
    closed: bool = False  # the closing steps have begun
    dissolved: bool = False  # the closing steps are done (`group_closed`)


@dataclass(slots=True)
class Settlement:
    """How one claimed touch ended up, for `Store.settle`."""

    key: str
    state: str  # sent | failed | dead | unknown | pending
    error: str | None = None
    adapter: str | None = None
    adapter_ref: str | None = None
    next_attempt_at: int | None = None  # failed: when to try again
    attempted: bool = True  # False: the adapter put it off without trying (its own throttle)


@dataclass
class Handoff:
    """A contact moving to another shard (its account changed to one of that shard's), in
    the journal's transaction: its rows go there, and the other shard's engine is rebuilt."""

    shard: int  # where it goes
    timers: list[int] = field(default_factory=list)  # seqs of the timeline items that name it
    counters: list[CounterKey] = field(default_factory=list)  # its contact-scoped limit counts
    held: list[str] = field(default_factory=list)  # keys of its held touches (not its account's only ones)


@dataclass
class Journal:
    """Changes to the engine's state, written by `Store.write` in one transaction.

    Contacts and accounts are engine records ({"id", …fields}); their rows are replaced.
    Touches are inserted, or replace a row that is still `held` — a row a dispatcher has
    taken over is never overwritten by the engine. Events listed as processed/rejected are
    marked so in the same transaction, so a crash never loses or repeats their effect."""

    contacts: list[dict[str, Any]] = field(default_factory=list)
    deleted_contacts: set[str] = field(default_factory=set)  # contacts (in `contacts`) now deleted
    accounts: list[dict[str, Any]] = field(default_factory=list)
    enrolments: list[EnrolmentRow] = field(default_factory=list)
    enrolments_removed: list[EnrolmentKey] = field(default_factory=list)
    timers: list[TimerRow] = field(default_factory=list)
    timers_removed: list[int] = field(default_factory=list)  # seqs
    counters: list[CounterRow] = field(default_factory=list)
    counters_removed: list[CounterKey] = field(default_factory=list)
    touches: list[TouchRow] = field(default_factory=list)
    groups: list[GroupRow] = field(default_factory=list)
    flow_state: dict[FlowStateKey, Any] = field(default_factory=dict)
    flow_state_removed: list[FlowStateKey] = field(default_factory=list)
    events_processed: list[int] = field(default_factory=list)
    events_rejected: dict[int, str] = field(default_factory=dict)  # seq -> reason
    state_events: list[StateEvent] = field(default_factory=list)  # appended to the state event log
    engine_state: dict[str, Any] = field(default_factory=dict)  # name -> value (the engine's clock …)
    handoffs: dict[str, Handoff] = field(default_factory=dict)  # contact -> the shard it moves to, with what names it
    forwards: list[ForwardRow] = field(default_factory=list)  # touches for other shards' accounts, handed there
    forwards_taken: list[str] = field(default_factory=list)  # keys of forwards to this shard taken in
    # scale-out: the shard's generation the engine was built at; a write finding another one
    # (a contact handed over to this shard meanwhile) is refused with `ShardMoved`
    generation: int | None = None

    def __bool__(self) -> bool:
        return any(getattr(self, f) for f in self.__dataclass_fields__ if f != "generation")

    def decides(self) -> bool:
        """Whether it holds more than engine values (a step's clock): rows decided or taken in."""
        return any(getattr(self, f) for f in self.__dataclass_fields__ if f not in ("generation", "engine_state"))


@dataclass
class State:
    """Everything `Store.load_state` reads back for an engine to resume."""

    contacts: list[dict[str, Any]]
    deleted_contacts: set[str]
    accounts: list[dict[str, Any]]
    enrolments: list[EnrolmentRow]
    timers: list[TimerRow]
    counters: list[CounterRow]
    held: list[TouchRow]
    groups: list[GroupRow]
    flow_state: dict[FlowStateKey, Any]
    engine_state: dict[str, Any] = field(default_factory=dict)


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: UpsertCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged


@dataclass
class StoreStatus:
    """Counts for `playbook status`."""

    touches: dict[str, int]  # by state
    events: dict[str, int]  # by status
    enrolments: dict[str, int]  # by status
    timers: int
    next_due: int | None
    contacts: int
    deleted_contacts: int
    accounts: int
    versions: list[VersionRow]  # active ones (activated, not retired), without their documents
    dead: list[TouchRow]  # the latest dead letters
    errors: list[TouchRow]  # the latest failed/unknown rows
    # pending touches an adapter put off with a reason (WeCom blocked: trusted IP …): (reason, count, next try)
    held: list[tuple[str, int, int | None]] = field(default_factory=list)
