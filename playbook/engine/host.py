"""What the runners (engine/flows.py) use of the engine that hosts them (`Host`, which
engine/core.py's `Engine` is), what every runner is to the engine and its hosts (`Runner`),
and what a caller that keeps the engine's state durable is told (`Observer`,
runtime/state.py's journaler). Named here, below both, so the runners and the engine do not
import each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, Self, runtime_checkable

from playbook.engine.columns import Columns
from playbook.engine.contacts import Contacts
from playbook.engine.program import Program
from playbook.engine.timeline import Item, Payload
from playbook.vocab.localtime import LocalTime
from playbook.vocab.model import StateEvent, Touch, TouchRequest
from playbook.vocab.reasons import Reason

# The language of the tasks the engine writes itself (dissolve a group, answer a customer):
# they go to staff on the platform, in the playbooks' own language, the same bytes whatever
# language the operator reads the plan in.
TASK_LANGUAGE = "zh"


class Observer(Protocol):
    """What changes in an engine's state, for a caller that keeps it durable (the daemon's
    journal, runtime/state.py). Flows report their own runners' changes through
    `FlowSet.dirty`."""

    def timer_added(self, item: Item) -> None: ...
    def timer_done(self, item: Item) -> None: ...
    def contact(self, cid: str) -> None: ...
    def held(self, req: TouchRequest) -> None: ...
    def released(self, req: TouchRequest) -> None: ...
    def counted(self, program: Program, req: TouchRequest) -> None: ...
    def forwarded(self, req: TouchRequest) -> None: ...
    def dirty(self, flow_index: int, runner: str, item: str) -> None: ...


class Host(Protocol):
    """The engine as its runners see it: the clock, the contacts, the timeline and the
    touches they ask for."""

    now: int
    start: int
    contacts: Contacts
    columns: Columns
    observer: Observer | None
    can_dissolve_groups: bool

    def at(self, t: int, payload: Payload, order: tuple = ()) -> None: ...
    def take(self, wanted: Callable[[Item], bool]) -> list[Item]: ...
    def held_touch(self, key: str) -> TouchRequest | None: ...
    def emit(self, record: Touch | StateEvent) -> None: ...
    def request(self, req: TouchRequest) -> None: ...
    def forward(self, req: TouchRequest) -> None: ...
    def request_batch(self, like: TouchRequest, contacts: list[str], keys: list[str]) -> None: ...
    def give_up(self, req: TouchRequest, reason: Reason) -> None: ...
    def contact_changed(self, cid: str) -> None: ...


@runtime_checkable
class Runner(Protocol):
    """One runner of a playbook — a journey, a short-term group, a Moments calendar, a
    rotation, a standing group or a service level (engine/flows.py, sla.py, standing.py) —
    as the engine and the daemon's store see it.

    Its state is told in snapshots, one per item of its state (a journey's contact, a group's
    instance, a rotation's account, …): `snapshot(items)` gives the state of the items it
    reported changed (`Flows.dirty`), `restore(snapshots)` takes such snapshots back into a
    fresh runner, so the store keeps rows of snapshots and never the runner's insides. A
    snapshot is a value (a NamedTuple of the runner's own module) holding copies, never the
    runner's own lists or objects."""

    key: str  # "journey:NAME", "group:NAME", "moments:NAME", "rotation:NAME", "standing:NAME", "sla:NAME"
    name: str

    def activate(self, t: int) -> None:
        """The playbook starts at t: schedules are laid out, who matches already enters."""

    def snapshot(self, items: Iterable[str]) -> list[Any]:
        """The state of these items now (an item gone has a snapshot saying so, or none)."""

    def restore(self, snapshots: Iterable[Any]) -> None:
        """Take back the state that `snapshot` gave (into a runner not yet run)."""

    def take_over_from(self, olders: Sequence[Self]) -> None:
        """A newer version of the playbook starts while older ones run (`olders`: this
        runner in each, oldest first): what it carries on from them."""


class Flows(Protocol):
    """One playbook's runners as a runner kept in a module of its own (engine/sla.py,
    engine/standing.py) sees them: engine/flows.py's `FlowSet`."""

    engine: Host
    program: Program
    index: int  # position among the engine's playbooks: timeline items name it
    retired: bool

    @property
    def clock(self) -> LocalTime: ...

    def dirty(self, runner: str, item: str) -> None: ...
    def matches(self, expr: Any, cid: str, t: int, event: dict[str, Any] | None = None) -> bool: ...
    def emit(self, t: int, kind: str, contact: str | None, flow: str | None, **data: Any) -> None: ...
    def repeat(self, schedule: Any, first_after: int, runner: str, rule: int = 0) -> None: ...
    def tag(self, cid: str, tag: str, add: bool, t: int, flow: str) -> None: ...
