"""What `plan` says besides its touches: what `--simulate` drew (per type and day), the
A/B sample-size warnings (plan/abtest.py), and, with `--show-skipped`, the skipped and
deferred contacts by reason — for the terminal, the JSON head and the HTML page.

The JSON keys are added only where they say something, so a plan that asks for none of
this writes the JSON it always did: `simulated` when `--simulate` draws at a rate,
`warnings` when there is one.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from playbook.i18n import N_, t
from playbook.plan.abtest import DIFFERENCE, SampleWarning, sample_warnings
from playbook.plan.part import PlanResult
from playbook.vocab.model import DEFERRED, SKIPPED
from playbook.vocab.reasons import reason_text

SHOWN = 200  # contacts listed per reason in the terminal (the rest counted)


# ---- what --simulate drew ------------------------------------------------------------------------


def drawn_json(result: PlanResult) -> dict[str, Any]:
    """{"rates": {key: per day}, "by_type": {type: n}, "by_day": {date: {type: n}}}."""
    drawn = result.drawn or Counter()
    by_type: Counter[str] = Counter()
    by_day: dict[str, dict[str, int]] = {}
    for (day, kind), n in sorted(drawn.items()):
        by_type[kind] += n
        by_day.setdefault(day, {})[kind] = n
    return {
        "rates": {a.key: a.rate for a in result.arrivals},
        "by_type": dict(sorted(by_type.items())),
        "by_day": by_day,
    }


def _drawn_rows(simulated: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The event types and, per day then in total, how many of each (for a table)."""
    from playbook.words import event_label

    kinds = list(simulated.get("by_type", {}))
    rows = [[day, *(f"{counts.get(k, 0):,}" for k in kinds)] for day, counts in simulated.get("by_day", {}).items()]
    rows.append([t("total"), *(f"{simulated['by_type'][k]:,}" for k in kinds)])
    return [event_label(k) for k in kinds], rows


def render_drawn(result: PlanResult, console: Any) -> None:
    """The terminal's table of what --simulate drew (nothing without --simulate)."""
    if result.drawn is None:
        return
    from rich.table import Table

    from playbook.tables import print_table

    simulated = drawn_json(result)
    if not simulated["by_type"]:
        console.print(t("--simulate drew no events"), markup=False)
        return
    kinds, rows = _drawn_rows(simulated)
    table = Table(title=t("drawn by --simulate"), title_justify="left")
    table.add_column(t("day"))
    for kind in kinds:
        table.add_column(kind, justify="right")
    for row in rows:
        table.add_row(*row)
    print_table(console, table)


# ---- A/B sample size -----------------------------------------------------------------------------


def warnings_of(result: PlanResult) -> list[SampleWarning]:
    return sample_warnings(result.playbooks, result.metric_counts or {})


def warning_text(w: dict[str, Any]) -> str:
    """One warning (its JSON) in the operator's language."""
    arms = ", ".join(f"{arm} {n:,}" for arm, n in w["arms"].items())
    return t("A/B {journey} ({step}): arms {arms} — too few to tell a difference: each arm needs about {needed} "
             "entrants to tell {baseline} conversion from {points} points more (two-proportion rule, 80% power, "
             "α = 0.05 two-sided)", journey=w["journey"], step=w["step"], arms=arms, needed=f"{w['needed_per_arm']:,}",
             baseline=f"{w['baseline']:.1%}", points=round(DIFFERENCE * 100))  # fmt: skip


def render_warnings(result: PlanResult, console: Any) -> None:
    for w in warnings_of(result):
        console.print(warning_text(w.json()), style="yellow", markup=False, highlight=False)


def head_json(result: PlanResult) -> dict[str, Any]:
    """The JSON head's keys of this module: `simulated` (a plan that draws at a rate) and
    `warnings` (when there is one)."""
    out: dict[str, Any] = {}
    if result.arrivals:
        out["simulated"] = drawn_json(result)
    warnings = [w.json() for w in warnings_of(result)]
    if warnings:
        out["warnings"] = warnings
    return out


def summary_html(doc: dict[str, Any], table: Any) -> str:
    """The HTML summary's lines of this module, from the JSON head `doc`: what --simulate
    drew (`table(head, rows)` makes the table), then the warnings."""
    parts = []
    simulated = doc.get("simulated")
    if simulated and simulated.get("by_type"):
        kinds, rows = _drawn_rows(simulated)
        parts.append(f"<p>{html.escape(t('drawn by --simulate'))}</p>" + table([t("day"), *kinds], rows))
    for w in doc.get("warnings", []):
        parts.append(f"<p class='warning'>{html.escape(warning_text(w))}</p>")
    return "".join(parts)


# ---- skipped and deferred contacts (--show-skipped) ------------------------------------------------


@dataclass
class ByReason:
    count: int = 0  # touches
    people: set[str] = field(default_factory=set)  # whom they were for
    who: list[str] = field(default_factory=list)  # the first SHOWN of them, in plan order


def skipped_by_reason(touches: Iterable[dict[str, Any]]) -> dict[tuple[str, str], ByReason]:
    """The plan's touches (JSON) that did not go as planned, by (outcome, reason): how many,
    and whom (the contact; a group post's group, a Moments post's account)."""
    out: dict[tuple[str, str], ByReason] = {}
    for touch in touches:
        outcome = touch["outcome"]
        if outcome not in (SKIPPED, DEFERRED):
            continue
        slot = out.setdefault((outcome, touch.get("reason") or ""), ByReason())
        slot.count += 1
        who = touch.get("contact") or touch.get("group") or touch.get("account") or "—"
        if who not in slot.people:
            slot.people.add(who)
            if len(slot.who) < SHOWN:
                slot.who.append(who)
    return out


_LISTED = {
    SKIPPED: N_("skipped · {reason} — touches: {count}, contacts: {people}"),
    DEFERRED: N_("deferred · {reason} — touches: {count}, contacts: {people}"),
}


def render_skipped(groups: dict[tuple[str, str], ByReason], console: Any) -> None:
    """`--show-skipped`: each reason, skipped first, the most touches first, and whom."""
    console.print(t("skipped and deferred, by reason"), style="bold", markup=False)
    if not groups:
        console.print("  " + t("none"), markup=False)
        return
    order = sorted(groups.items(), key=lambda kv: (kv[0][0] != SKIPPED, -kv[1].count, kv[0][1]))
    for (outcome, reason), slot in order:
        head = t(_LISTED[outcome], reason=reason_text(reason) or "—", count=f"{slot.count:,}",
                 people=f"{len(slot.people):,}")  # fmt: skip
        console.print(head, style="red" if outcome == SKIPPED else "yellow", markup=False, highlight=False)
        line = " ".join(slot.who)
        rest = len(slot.people) - len(slot.who)
        if rest > 0:
            line += " … " + t("and {n} more", n=f"{rest:,}")
        console.print("  " + line, markup=False, highlight=False)
