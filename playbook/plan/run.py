"""`playbook plan`: the engine over a simulated clock, with nothing sent.

The plan is what the daemon would do given the same events: both drive the same
`Engine`; the plan only decides where the clock starts and stops, and (with
`--simulate`) draws the events that have not happened yet.

`run_plan` plans in one process (`plan/part.py`) or, with workers, in shards
(`plan/shards.py`). The names of `plan/part.py` are importable from here too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from playbook.compiler import load_playbooks
from playbook.plan.part import (
    JourneyCounts,
    PlanInput,
    PlanResult,
    count_touches,
    fields_read,
    metric_parts,
    metrics,
    parse_start,
    plan_part,
)
from playbook.vocab.localtime import LocalTime

__all__ = ["JourneyCounts", "PlanInput", "PlanResult", "count_touches", "fields_read", "metric_parts", "metrics",
           "parse_start", "plan_part", "run_plan"]  # fmt: skip


def run_plan(spec: PlanInput, *, now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
             progress: Callable[[int, int], None] | None = None) -> PlanResult:  # fmt: skip
    playbooks = [r.playbook for r in load_playbooks(spec.paths)]
    clock = LocalTime(playbooks[0].timezone)
    start = parse_start(spec.start, clock, now)
    end = start + spec.days * 86400
    if spec.workers > 1:
        from playbook.plan.shards import run_in_shards

        result = run_in_shards(spec, playbooks, start, end, progress)
        if result is not None:
            return result
    return plan_part(spec, playbooks, start, end, progress=progress)
