"""`playbook report --against plan.json`: a plan's forecast beside what the daemon did.

The plan is its JSON contract (`playbook plan --format json`), read a line at a time by
the caller (its head and its touches as dicts); the actuals come from the store, over the
plan's own window [start, end). Three comparisons, each with forecast, actual and the
difference (actual − forecast):

- touches per day and channel: the plan's touches that go out (outcome ok or deferred)
  against the ledger's touches the engine let go (the same outcomes), by `at`;
- journeys: entered and goal, the plan's `metrics` against the report's conversion
  (the same figures and keys by construction, runtime/report.py);
- per staff account: touches that go out, and of the actual ones how many were executed.

A plan made from other playbook versions than the store runs is refused, naming both.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
from playbook.i18n import t
from playbook.runtime import schema as s
from playbook.runtime.report import LET_GO, Versions, Window, _stream, conversion, executed, snapshot
from playbook.runtime.store import Store
from playbook.vocab.localtime import LocalTime, iso

PLAN_KEYS = ("version", "playbook", "start", "end", "metrics")  # what a plan's JSON head always has
PLAN_CONTRACT = 1  # the plan JSON's `version`


def refuse(where: str, message: str) -> PlaybookError:
    return PlaybookError([Diagnostic(ERROR, where, message)])


def plan_versions(head: Mapping[str, Any]) -> list[str]:
    """The playbook versions a plan was made from: its `playbook` field is their ids
    joined by "+" (plan/run.py, PlanResult.version)."""
    return [v for v in str(head.get("playbook") or "").split("+") if v]


def check_plan(head: Mapping[str, Any], name: str) -> None:
    """A PlaybookError unless `head` is the head of a plan's JSON contract."""
    missing = [k for k in PLAN_KEYS if k not in head]
    if missing:
        raise refuse(name, t("{file} is not a plan's JSON (no {keys}): make one with `playbook plan … --format json`",
                             file=name, keys=", ".join(missing)))  # fmt: skip
    if head["version"] != PLAN_CONTRACT:
        raise refuse(name, t("{file} is a plan JSON of contract version {found}; this playbook reads version {known}",
                             file=name, found=head["version"], known=PLAN_CONTRACT))  # fmt: skip
    for key in ("start", "end"):
        try:
            instant(head[key])
        except (TypeError, ValueError):
            raise refuse(name, t("{file} is not a plan's JSON ({problem}): make one with `playbook plan … --format json`",
                                 file=name, problem=f"{key}: {head[key]!r}")) from None  # fmt: skip


def check_versions(head: Mapping[str, Any], versions: Versions, name: str) -> None:
    """A PlaybookError unless every version the plan was made from is active in the store."""
    active = [str(doc.get("version")) for doc in versions.active]
    planned = plan_versions(head)
    other = [v for v in planned if v not in active]
    if other:

        def named(ids: Iterable[str]) -> str:
            return ", ".join(f"{v} ({versions.playbook[v]})" if v in versions.playbook else v for v in ids) or "—"

        raise refuse(name, t("{file} was planned from {planned}; the store runs {active}: "
                             "plan the active version again (`playbook plan --db …`) or compare with its own plan",
                             file=name, planned=named(other), active=named(active)))  # fmt: skip


def instant(text: str) -> int:
    """An ISO 8601 time with an offset (the plan's start and end) as an engine instant."""
    return int(dt.datetime.fromisoformat(text).timestamp())


def forecast(touches: Iterable[Mapping[str, Any]]) -> tuple[Counter[tuple[str, str]], Counter[str]]:
    """The plan's touches that go out, per (day, channel) — the day of `at` in the plan's
    timezone — and per account."""
    by_day: Counter[tuple[str, str]] = Counter()
    by_account: Counter[str] = Counter()
    for touch in touches:
        if touch["outcome"] in LET_GO:
            by_day[(touch["at"][:10], touch["channel"])] += 1
            by_account[touch.get("account") or "—"] += 1
    return by_day, by_account


def actual(store: Store, window: Window, clock: LocalTime) -> tuple[Counter[tuple[str, str]], Counter[str], Counter[str]]:
    """The ledger's touches the engine let go in the window, per (day, channel) and per
    account, and per account how many of them were executed."""
    t_ = s.touches
    query = sa.select(t_.c.at, t_.c.channel, t_.c.account, t_.c.state, t_.c.adapter, t_.c.receipt).where(
        t_.c.outcome.in_(LET_GO), *window.where(t_.c.at)
    )
    by_day: Counter[tuple[str, str]] = Counter()
    by_account: Counter[str] = Counter()
    done: Counter[str] = Counter()
    with snapshot(store) as conn:
        for at, channel, account, state, adapter, receipt in _stream(conn, query):
            by_day[(iso(int(at), clock)[:10], channel)] += 1
            by_account[account or "—"] += 1
            done[account or "—"] += executed(state, adapter, receipt)
    return by_day, by_account, done


def compare(head: Mapping[str, Any], planned: tuple[Counter[tuple[str, str]], Counter[str]],
            done: tuple[Counter[tuple[str, str]], Counter[str], Counter[str]],
            conversion: Mapping[str, Any]) -> dict[str, Any]:  # fmt: skip
    """The forecast beside the actuals, JSON-ready (sorted; difference = actual − forecast)."""
    plan_day, plan_account = planned
    real_day, real_account, executed_by = done
    touches = [{"day": day, "channel": channel, "forecast": plan_day[(day, channel)],
                "actual": real_day[(day, channel)], "difference": real_day[(day, channel)] - plan_day[(day, channel)]}
               for day, channel in sorted(set(plan_day) | set(real_day))]  # fmt: skip
    metrics = head.get("metrics") or {}
    journeys = []
    for name in sorted(set(metrics) | set(conversion)):
        p, a = metrics.get(name) or {}, conversion.get(name) or {}
        row: dict[str, Any] = {"journey": name}
        for figure in ("entered", "goal"):
            row[figure] = {"forecast": p.get(figure, 0), "actual": a.get(figure, 0),
                           "difference": a.get(figure, 0) - p.get(figure, 0)}  # fmt: skip
        journeys.append(row)
    accounts = [{"account": who, "forecast": plan_account[who], "actual": real_account[who],
                 "executed": executed_by[who], "difference": real_account[who] - plan_account[who]}
                for who in sorted(set(plan_account) | set(real_account))]  # fmt: skip
    totals = {"forecast": sum(plan_day.values()), "actual": sum(real_day.values())}
    totals["difference"] = totals["actual"] - totals["forecast"]
    return {
        "plan": {"playbook": head.get("playbook"), "start": head.get("start"), "end": head.get("end")},
        "touches": totals,
        "by_day": touches,
        "journeys": journeys,
        "accounts": accounts,
    }


def against(store: Store, head: Mapping[str, Any], planned: tuple[Counter[tuple[str, str]], Counter[str]],
            name: str, clock: LocalTime) -> dict[str, Any]:  # fmt: skip
    """The comparison of the plan (its JSON head and its `forecast`, from the file `name`)
    with the store over the plan's window; a PlaybookError when the file is no plan or
    was planned from other versions than the store runs."""
    check_plan(head, name)
    versions = Versions(store)
    check_versions(head, versions, name)
    window = Window(instant(head["start"]), instant(head["end"]))
    with snapshot(store) as conn:
        converted = conversion(conn, versions, window)
    return compare(head, planned, actual(store, window, clock), converted)
