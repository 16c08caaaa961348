"""What the daemon will do next, from the store's state now (`playbook plan --db`).

The engine is restored exactly as the daemon restores it (`Decider.build`: contacts,
enrolments mid-journey and their next steps, held touches, the current periods' limit
counts, open group instances, rotation cycles, service-level watches; older versions
finishing; catch-up after downtime; new versions taking over), the events waiting in the
store are fed to it, and it runs forward over a simulated clock — as `plan` runs it —
to the horizon. Nothing is written to the store. The playbooks are the given paths (what
a reload would load) or, without paths, the versions the store runs.

`cli/plan.py` puts the result into the plan's outputs; this module knows nothing of them
(plan/ and runtime/ are siblings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from playbook.compiler import ir
from playbook.engine.core import Engine
from playbook.runtime.decide import LoadReport, run_ahead
from playbook.runtime.store import Store
from playbook.vocab.limits import LimitRule
from playbook.vocab.model import Event, StateEvent, Touch


@dataclass
class Forecast:
    engine: Engine
    playbooks: list[ir.Playbook]  # every version the engine runs (older ones first)
    start: int
    end: int
    touches: list[Touch]  # decided from `start` on and due before `end`, in the order decided
    events: list[StateEvent]  # state events before `end`
    inputs: list[Event]  # the store's events not yet processed, fed to the engine
    load: LoadReport
    current: list[str] = field(default_factory=list)  # the running versions (the paths', or the store's)


def forecast(store: Store, paths: Sequence[str], start: int, end: int, *, shared_limits: Sequence[LimitRule] = (),
             can_dissolve_groups: bool = True, grace: int = 3600) -> Forecast:  # fmt: skip
    """The engine restored from `store` at `start` (the daemon's now) and run to `end`."""
    touches: list[Touch] = []
    events: list[StateEvent] = []

    def sink(record: Any) -> None:
        if isinstance(record, Touch):
            if record.due < end:
                touches.append(record)
        elif record.at < end:
            events.append(record)

    ahead = run_ahead(store, paths, start, end, sink, shared_limits=shared_limits,
                      can_dissolve_groups=can_dissolve_groups, grace=grace)  # fmt: skip
    engine = ahead.decider.engine
    assert engine is not None
    return Forecast(engine, ahead.decider.playbooks, start, end, touches, events, ahead.inputs, ahead.report,
                    [doc["version"] for doc in ahead.current])  # fmt: skip
