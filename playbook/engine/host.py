"""What the runners (engine/flows.py) use of the engine that hosts them (`Host`, which
engine/core.py's `Engine` is), and what a caller that keeps the engine's state durable is
told (`Observer`, runtime/state.py's journaler). Named here, below both, so the runners and
the engine do not import each other.
"""

from __future__ import annotations

from typing import Protocol

from playbook.engine.columns import Columns
from playbook.engine.contacts import Contacts
from playbook.engine.program import Program
from playbook.vocab.model import StateEvent, Touch, TouchRequest
from playbook.vocab.reasons import Reason


class Observer(Protocol):
    """What changes in an engine's state, for a caller that keeps it durable (the daemon's
    journal, runtime/state.py). Flows report their own runners' changes through
    `FlowSet.dirty`."""

    def timer_added(self, item: tuple) -> None: ...
    def timer_done(self, item: tuple) -> None: ...
    def contact(self, cid: str) -> None: ...
    def held(self, req: TouchRequest) -> None: ...
    def released(self, req: TouchRequest) -> None: ...
    def counted(self, program: Program, req: TouchRequest) -> None: ...
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

    def at(self, t: int, phase: int, kind: str, payload: tuple, order: tuple = ()) -> None: ...
    def emit(self, record: Touch | StateEvent) -> None: ...
    def request(self, req: TouchRequest) -> None: ...
    def request_batch(self, like: TouchRequest, contacts: list[str], keys: list[str]) -> None: ...
    def give_up(self, req: TouchRequest, reason: Reason) -> None: ...
    def contact_changed(self, cid: str) -> None: ...
