"""`playbook plan`: the engine over a simulated clock, with nothing sent.

The plan is what the daemon would do given the same events: both drive the same
`Engine`; the plan only decides where the clock starts and stops, and (with
`--simulate`) draws the events that have not happened yet.

`run_plan` plans in one process (`plan/part.py`) or, with workers, in shards
(`plan/shards.py`). The names of `plan/part.py` are importable from here too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from playbook.compiler import ir, load_playbooks
from playbook.data.columns import ACCOUNTS, ColumnMap
from playbook.data.files import read_records
from playbook.plan.part import (
    JourneyCounts,
    PlanInput,
    PlanResult,
    add_sla_outcomes,
    count_touches,
    fields_read,
    metric_parts,
    metrics,
    parse_start,
    plan_part,
    sla_outcomes,
    sla_totals,
)
from playbook.vocab.localtime import LocalTime

__all__ = ["JourneyCounts", "PlanInput", "PlanResult", "add_sla_outcomes", "count_touches", "fields_read",
           "load_checked", "metric_parts", "metrics", "parse_start", "plan_part", "run_plan", "sla_outcomes",
           "sla_totals"]  # fmt: skip


def load_checked(paths: Sequence[str], accounts: str | None = None,
                 columns: tuple[tuple[str, str], ...] = ()) -> list[ir.Playbook]:  # fmt: skip
    """The playbooks compiled; with an accounts file, the accounts and roles their SLAs
    escalate to are checked against it (a PlaybookError names the ones it lacks)."""
    playbooks = [r.playbook for r in load_playbooks(paths)]
    escalating = [p for p, pb in zip(paths, playbooks, strict=True) if any(s.escalations for s in pb.slas.values())]
    if accounts and escalating:
        known, _ = read_records(accounts, LocalTime(playbooks[0].timezone), only=("role",),
                                columns=ColumnMap(ACCOUNTS, columns))  # fmt: skip
        load_playbooks(escalating, known_accounts=known)
    return playbooks


def run_plan(spec: PlanInput, *, now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
             progress: Callable[[int, int], None] | None = None) -> PlanResult:  # fmt: skip
    playbooks = load_checked(spec.paths, spec.accounts, spec.columns)
    clock = LocalTime(playbooks[0].timezone)
    start = parse_start(spec.start, clock, now)
    end = start + spec.days * 86400
    if spec.workers > 1 and not spec.arrivals:  # drawing arrivals needs every contact: one process
        from playbook.plan.shards import run_in_shards

        result = run_in_shards(spec, playbooks, start, end, progress)
        if result is not None:
            return result
    return plan_part(spec, playbooks, start, end, progress=progress)
