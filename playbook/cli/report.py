"""playbook report [--db URL] [--since DT] [--until DT] [--format table|json] — the seed
metrics from the store: service levels (通过率, 回复率), interaction rate (互动率),
conversion per journey, arm and segment (转化率, 转化周期), average order value (客单价),
and each account's execution. Definitions: docs/report.md."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from playbook.cli.status import format_option, show
from playbook.cli.store_options import db_option
from playbook.i18n import N_, t

if TYPE_CHECKING:
    from playbook.runtime.store import Store

MEASURES = {"pass_rate": N_("pass rate"), "reply_rate": N_("reply rate")}


@click.command(name="report", help=t("The seed metrics from the store: service levels, conversion, execution."))
@db_option
@click.option(
    "--since", metavar="DT", help=t("From this time on (local time of the playbook unless it has an offset).")
)
@click.option("--until", metavar="DT", help=t("Up to, not including, this time."))
@format_option()
def command(db: str | None, since: str | None, until: str | None, fmt: str) -> None:
    from playbook.runtime.report import clock_of, journeys_without_goal, report

    no_goal: set[str] = set()

    def build(store: Store) -> dict[str, Any]:
        clock = clock_of(store)
        no_goal.update(journeys_without_goal(store))
        return report(store, _time("--since", since, clock), _time("--until", until, clock), clock)

    show(db, fmt, build, lambda doc, out: render(doc, out, no_goal))


def _time(option: str, text: str | None, clock: Any) -> int | None:
    from playbook.data.values import DataValueError, parse_time
    from playbook.diagnostics import ERROR, Diagnostic, PlaybookError

    if text is None:
        return None
    try:
        return int(parse_time(text, clock))
    except DataValueError as exc:
        message = t("{option}: {problem}", option=option, problem=exc.message())
        raise PlaybookError([Diagnostic(ERROR, "option", message)]) from None


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _split(counts: dict[str, dict[str, int]]) -> str:
    """{"A": {"entered": 10, "goal": 3}} → "A 3/10"."""
    return " · ".join(f"{name} {c['goal']}/{c['entered']}" for name, c in counts.items())


def render(doc: dict[str, Any], out: Any, no_goal: set[str] | frozenset[str] = frozenset()) -> None:
    """The report as tables on a rich console (wrapped to its width, never cut); a journey
    in `no_goal` shows "no goal" instead of a conversion rate."""
    from rich.table import Table

    from playbook.runtime.report import short_time
    from playbook.tables import print_table
    from playbook.words import event_label

    def line(text: str) -> None:
        out.print(text, markup=False, highlight=False)

    window = doc["window"]
    line(t("report {since} → {until}", since=short_time(window["since"]) if window["since"] else t("the beginning"),
           until=short_time(window["until"]) if window["until"] else t("now")))  # fmt: skip

    table = Table(title=t("service levels"), title_justify="left")
    for header in (t("service level"), t("measures"), t("started"), t("met"), t("missed"), t("late"), t("open"),
                   t("in time")):  # fmt: skip
        table.add_column(header, justify="left" if header in (t("service level"), t("measures")) else "right")
    for name, c in doc["service_levels"].items():
        measures = t(MEASURES[c["measures"]]) if c["measures"] in MEASURES else ""
        watched = f"{event_label(c['trigger'])} → {event_label(c['answer'])}" if c["trigger"] else ""
        table.add_row(name, " ".join(x for x in (measures, watched) if x), str(c["started"]), str(c["met"]),
                      str(c["missed"]), str(c["late"]), str(c["open"]), percent(c["in_time_rate"]))  # fmt: skip
    print_table(out, table)
    if doc.get("service_levels_by_account"):
        from playbook.plan.output import sla_table

        names = {row["account"]: row["name"] for row in doc.get("accounts") or [] if row.get("name")}
        print_table(out, sla_table(doc["service_levels_by_account"], names))

    i = doc["interaction"]
    line(t("moments: {posts} posts sent, seen by {reached} contacts; {interacted} interacted — interaction rate {rate}",
           posts=i["posts"], reached=i["reached"], interacted=i["interacted"],
           rate=percent(i["interaction_rate"])))  # fmt: skip

    table = Table(title=t("conversion"), title_justify="left")
    for header in (t("journey"), t("entered"), t("goal"), t("conversion"), t("median hours to goal"), t("by arm"),
                   t("by segment")):  # fmt: skip
        table.add_column(header, justify="right" if header in (t("entered"), t("goal")) else "left", overflow="fold")
    for name, m in doc["conversion"].items():
        hours = m["median_time_to_goal_hours"]
        rate = t("no goal") if name in no_goal else percent(m["conversion"] if m["entered"] else None)
        table.add_row(name, str(m["entered"]), "—" if name in no_goal else str(m["goal"]), rate,
                      "—" if hours is None else f"{hours:g}", _split(m["by_arm"]), _split(m["by_segment"]))  # fmt: skip
    print_table(out, table)

    p = doc["purchases"]
    aov = "—" if p["average_order_value"] is None else f"{p['average_order_value']:,.2f}"
    line(t("purchases: {count} by {buyers} contacts, revenue {revenue}, average order value {aov}",
           count=p["purchases"], buyers=p["buyers"], revenue=f"{p['revenue']:,.2f}", aov=aov))  # fmt: skip

    table = Table(title=t("execution by account"), title_justify="left")
    headers = (t("account"), t("due"), t("sent"), t("on time"), t("waiting"), t("to confirm"), t("not executed"),
               t("failed"), t("dead"), t("unknown"), t("execution rate"))  # fmt: skip
    for header in headers:
        table.add_column(header, justify="left" if header == t("account") else "right")
    for r in doc["accounts"]:
        who = f"{r['account']} {r['name']}" if r["name"] else r["account"]
        counts = ("due", "sent", "on_time", "waiting", "awaiting_confirmation", "not_executed", "failed", "dead",
                  "unknown")  # fmt: skip
        table.add_row(who, *(str(r[k]) for k in counts),
                      percent(r["execution_rate"]))  # fmt: skip
    print_table(out, table)
    from playbook.cli.approve import render_approvals

    render_approvals(doc.get("approvals", []), out)
