"""What is on the engine's timeline: `Item`s, each a time and a typed payload.

An item is ordered on the heap by (due, phase, order, seq) — its first four fields, as a
tuple compares — and says what to do by its payload: one small type per `Kind`, with named
fields (which playbook by its position among the engine's playbooks, which runner, contact,
enrolment, node, …). Every payload says which contact (`contact`) and, where it knows,
which account (`account`) it concerns, None where it concerns none (the day tick, a
schedule firing): whoever keeps a contact's timers elsewhere (a shard of the store) can tell
them apart.

Payloads are plain values, so a store can keep them: its fields in order (`tuple(payload)`;
the daemon's store names the playbook by its version instead of its position: `stored`), and
`loaded(kind, fields, …)` builds one back; fields added since a store was written have
defaults, so an older row still loads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, NamedTuple

from playbook.vocab.model import PHASE_EVENT, PHASE_RETRY, PHASE_SCHEDULE, PHASE_STEP, PHASE_TICK, Event


class Kind(StrEnum):
    """What a timeline item does (its name is what the store's `timers.kind` holds)."""

    EVENT = "event"  # an input event is processed
    TICK = "tick"  # 00:00: segment membership looked at again
    RETRY = "retry"  # a held touch is tried again
    FIRE = "fire"  # a schedule fires (a journey's segment entry, a group's opening, a Moments post …)
    STEP = "step"  # a journey step is due
    TIMEOUT = "timeout"  # a journey's wait runs out
    GROUP_STEP = "group_step"  # a group instance's step (or closing step) is due
    CLOSE = "close"  # a group instance closes
    SLA_REMIND = "sla_remind"  # a service level's reminder
    SLA_DEADLINE = "sla_deadline"  # a service level's deadline
    SLA_ESCALATE = "sla_escalate"  # a service level's escalation
    FORWARDED = "forwarded"  # a touch another engine decided for one of this engine's accounts


_NONE = property(lambda self: None)  # a payload that names no contact, or no account


class Arrival(NamedTuple):
    """An input event, processed at its time (never before the engine's now)."""

    event: Event

    kind = Kind.EVENT
    phase = PHASE_EVENT

    @property
    def contact(self) -> str | None:
        return self.event.contact

    account = _NONE  # the contact's account is the contacts' to say


class Tick(NamedTuple):
    """The day tick at 00:00."""

    kind = Kind.TICK
    phase = PHASE_TICK
    contact = _NONE
    account = _NONE


class Retry(NamedTuple):
    """A held touch (by its key) is tried again; the contact and account it is for."""

    key: str
    contact: str | None = None  # None: a touch for no contact (a group post, a task), or a store's older row
    account: str | None = None

    kind = Kind.RETRY
    phase = PHASE_RETRY


class Fire(NamedTuple):
    """A runner's schedule fires (`rule`: which of its schedules); `once`: a one-off date."""

    flow: int
    runner: str  # the runner's key: "journey:NAME", "group:NAME", "moments:NAME" …
    rule: int
    once: bool = False

    kind = Kind.FIRE
    phase = PHASE_SCHEDULE
    contact = _NONE
    account = _NONE


class Step(NamedTuple):
    """A journey's step `node` is due for an enrolment (contact, n) as of its `epoch`."""

    flow: int
    journey: str
    contact: str
    n: int
    node: str
    epoch: int

    kind = Kind.STEP
    phase = PHASE_STEP
    account = _NONE


class Timeout(Step):
    """A journey's wait at `node` runs out for an enrolment (contact, n) as of its `epoch`
    (the fields of a step's)."""

    __slots__ = ()
    kind = Kind.TIMEOUT


class GroupStep(NamedTuple):
    """A group instance's step `node` is due; `closing`: the closing steps still to run after
    it (None: one of the group's own steps)."""

    flow: int
    group: str
    instance: str
    node: str
    closing: tuple[str, ...] | None
    account: str | None = None  # the instance's (None in a store's older row)

    kind = Kind.GROUP_STEP
    phase = PHASE_STEP
    contact = _NONE


class Close(NamedTuple):
    """A group instance closes."""

    flow: int
    group: str
    instance: str
    account: str | None = None  # the instance's (None in a store's older row)

    kind = Kind.CLOSE
    phase = PHASE_SCHEDULE
    contact = _NONE


class SlaRemind(NamedTuple):
    """Reminder `n` of a service level's watch (contact, serial)."""

    flow: int
    sla: int
    contact: str
    serial: int
    deadline: int
    account: str | None  # the account that should answer
    name: str  # the contact's name when the watch opened
    n: int = 0  # a store's older row has one reminder

    kind = Kind.SLA_REMIND
    phase = PHASE_STEP


class SlaDeadline(NamedTuple):
    """The deadline of a service level's watch (contact, serial)."""

    flow: int
    sla: int
    contact: str
    serial: int

    kind = Kind.SLA_DEADLINE
    phase = PHASE_STEP
    account = _NONE


class SlaEscalate(NamedTuple):
    """Escalation `n` of a service level's missed watch (contact, serial)."""

    flow: int
    sla: int
    contact: str
    serial: int
    n: int

    kind = Kind.SLA_ESCALATE
    phase = PHASE_STEP
    account = _NONE


class Forwarded(NamedTuple):
    """A task another engine decided for one of this engine's accounts (an SLA's escalation
    to a supervisor whose account another shard owns: `Contacts.owns`), its text rendered
    there; requested here at its time, for the account only (`TouchRequest.account_only`).
    It names the customer (`about`) but is not the customer's: it stays with the account,
    whichever shard the customer moves to (`contact` is None)."""

    flow: int
    key: str
    account: str  # the supervisor's
    about: str | None  # the contact it is about (the customer; not this engine's)
    name: str  # the flow (the SLA's name)
    step: str
    step_order: int
    priority: float
    text: str  # the task's text, rendered by the engine that decided it

    kind = Kind.FORWARDED
    phase = PHASE_STEP
    contact = _NONE


_TYPES = (Arrival, Tick, Retry, Fire, Step, Timeout, GroupStep, Close, SlaRemind, SlaDeadline, SlaEscalate, Forwarded)
Payload = Arrival | Tick | Retry | Fire | Step | Timeout | GroupStep | Close | SlaRemind | SlaDeadline | SlaEscalate | Forwarded  # fmt: skip
PAYLOADS: dict[Kind, type[Any]] = {cls.kind: cls for cls in _TYPES}
# Kinds whose payload names a playbook (`flow`, its position among the engine's playbooks:
# always the first field)
IN_FLOW = frozenset(kind for kind, cls in PAYLOADS.items() if "flow" in cls._fields)
assert all(PAYLOADS[kind]._fields[0] == "flow" for kind in IN_FLOW)
SLA_KINDS = frozenset({Kind.SLA_REMIND, Kind.SLA_DEADLINE, Kind.SLA_ESCALATE})
_BY_NAME = {str(kind): cls for kind, cls in PAYLOADS.items()}  # a store's kind names, plain strings
_IN_FLOW_NAMES = frozenset(str(kind) for kind in IN_FLOW)
_new = tuple.__new__


class Item(NamedTuple):
    """One timeline item. Compared as a tuple: (due, phase, order, seq) decide, and `seq`
    is unique, so the payload is never compared."""

    due: int
    phase: int
    order: tuple[Any, ...]  # within an instant and phase: an event's sequence, a contact, a group instance
    seq: int
    payload: Payload

    @property
    def kind(self) -> Kind:
        return self.payload.kind  # type: ignore[no-any-return]


def stored(payload: Payload, version: str | None) -> tuple[Any, ...]:
    """A payload's fields in order as a store keeps them: a plain tuple, the playbook named
    by its `version` instead of its position (a kind in IN_FLOW)."""
    if payload.kind in IN_FLOW:
        return (version, *payload[1:])
    return tuple(payload)


def loaded(kind: str, fields: Sequence[Any], positions: Mapping[str, int]) -> Payload | None:
    """The payload of a store's row (what `stored` gave): the playbook named by its position
    again (`positions`: version → position), None when the engine has no such version; fields
    added since the row was written take their defaults. A ValueError for a kind or a number
    of fields there is no payload for."""
    cls = _BY_NAME.get(kind)
    if cls is None:
        raise ValueError(f"unknown timeline item kind {kind!r}")
    if kind in _IN_FLOW_NAMES:
        position = positions.get(fields[0]) if fields else None
        if position is None:
            return None
        fields = (position, *fields[1:])
    if len(fields) == len(cls._fields):
        return _new(cls, fields)  # type: ignore[no-any-return]  # (as the tuple it is: a daemon restores millions)
    try:
        return cls(*fields)  # type: ignore[no-any-return]
    except TypeError:
        raise ValueError(f"a {kind!r} timeline item cannot have the fields {tuple(fields)!r}") from None
