"""playbook report [--db URL] [--since DT] [--until DT] [--against PLAN.json]
[--format table|json|html] [--out FILE] — the seed metrics from the store: pass and reply
rates and service levels (通过率, 回复率), interaction rate and rotation coverage (互动率),
conversion per journey, arm and segment (转化率, 转化周期), average order value (客单价),
each account's execution, and with --against a plan's forecast beside the actuals.
Definitions: docs/report.md."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from playbook.cli.common import write_text
from playbook.cli.status import show
from playbook.cli.store_options import db_option
from playbook.htmlpage import percent
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
@click.option(
    "--against",
    metavar="PLAN.json",
    type=click.Path(),
    help=t("Compare with this plan (`plan --format json`): its forecast beside the actuals, over its window."),
)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "html"]), default="table", show_default=True,
              help=t("table for people, json for scripts, html for sharing."))  # fmt: skip
@click.option("--out", type=click.Path(), help=t("Write the JSON or the HTML page to this file."))
def command(db: str | None, since: str | None, until: str | None, against: str | None, fmt: str,
            out: str | None) -> None:  # fmt: skip
    from playbook.runtime.report import clock_of, journeys_without_goal, report, report_title

    if out is not None and fmt == "table":
        raise click.UsageError(t("--out writes --format json or html"))
    no_goal: set[str] = set()
    title: list[str] = []

    def build(store: Store) -> dict[str, Any]:
        clock = clock_of(store)
        no_goal.update(journeys_without_goal(store))
        title.append(report_title(store))
        begin, end = _time("--since", since, clock), _time("--until", until, clock)
        if against is None:
            return report(store, begin, end, clock)
        from playbook.runtime.against import against as compare
        from playbook.runtime.against import check_plan, forecast, instant

        with _plan_file(against) as (head, touches):
            check_plan(head, against)
            planned = _reading(against, lambda: forecast(touches))
        comparison = compare(store, head, planned, against, clock)
        begin = instant(head["start"]) if since is None else begin  # the plan's window unless told otherwise
        end = instant(head["end"]) if until is None else end
        doc = report(store, begin, end, clock)
        doc["against"] = comparison
        return doc

    def write(doc: dict[str, Any], screen: Any) -> None:
        if fmt == "html":
            write_text(_html(doc, title[0], no_goal), out)
        elif fmt == "json":
            write_text(_json(doc), out)
        else:
            render(doc, screen, no_goal)

    show(db, "table", build, write)  # (show's own JSON goes to the terminal only)


def _plan_file(path: str) -> Any:
    """The plan's JSON head and its touches, read a line at a time (plan/html.py's reader);
    a file that cannot be read is a PlaybookError."""
    from contextlib import contextmanager

    from playbook.plan.html import read_plan
    from playbook.runtime.against import refuse

    @contextmanager
    def opened() -> Any:
        try:
            fh = open(path, encoding="utf-8")
        except OSError as exc:
            raise refuse(path, t("cannot read {path}: {reason}", path=path, reason=exc.strerror or exc)) from None
        with fh:
            head, _, touches = _reading(path, lambda: read_plan(fh))
            yield head, touches

    return opened()


def _reading(path: str, work: Any) -> Any:
    """`work()`, with a file that is not a plan's JSON turned into a PlaybookError naming it."""
    from playbook.runtime.against import refuse

    try:
        return work()
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise refuse(path, t("{file} is not a plan's JSON ({problem}): make one with `playbook plan … --format json`",
                             file=path, problem=exc)) from None  # fmt: skip


def _json(doc: dict[str, Any]) -> str:
    import json

    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _html(doc: dict[str, Any], title: str, no_goal: set[str]) -> str:
    from playbook.cli.common import EXIT_ERRORS, console
    from playbook.htmlpage import MissingCharts
    from playbook.runtime.report_html import render_report_html
    from playbook.textsafe import escape_controls

    try:
        page = render_report_html(doc, title, no_goal)
    except MissingCharts:
        console(stderr=True).print(t("--format html draws charts: install playbook[html]"), style="red", markup=False)
        raise SystemExit(EXIT_ERRORS) from None
    return escape_controls(page)  # a data value's control characters shown, not obeyed




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
        from playbook.plan.tables import sla_table

        names = {row["account"]: row["name"] for row in doc.get("accounts") or [] if row.get("name")}
        print_table(out, sla_table(doc["service_levels_by_account"], names))

    for key, what in (("pass_rate", t("pass rate")), ("reply_rate", t("reply rate"))):
        r = doc[key]
        line(t("{what}: {answered} of {asked} answered — {rate}", what=what, answered=r["answered"], asked=r["asked"],
               rate=percent(r["rate"])))  # fmt: skip
    i = doc["interaction"]
    line(t("moments: {posts} posts sent, seen by {reached} contacts; {interacted} interacted — interaction rate {rate}",
           posts=i["posts"], reached=i["reached"], interacted=i["interacted"],
           rate=percent(i["interaction_rate"])))  # fmt: skip
    for name, rotation in doc["rotations"].items():
        cells = rotation["by_account"].values()
        covered, friends = sum(c["covered"] for c in cells), sum(c["friends"] for c in cells)
        line(t("rotation {name}: {covered} of {friends} friends covered this cycle — {rate}", name=name,
               covered=covered, friends=friends, rate=percent(covered / friends if friends else None)))  # fmt: skip

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
    if doc.get("against"):
        render_against(doc["against"], out)


def render_against(a: dict[str, Any], out: Any) -> None:
    """The plan's forecast beside the actuals: totals, per journey, per account, per day and channel."""
    from rich.table import Table

    from playbook.tables import print_table

    plan, totals = a["plan"], a["touches"]
    out.print(t("plan {version}, {start} → {end}: {forecast} touches forecast, {actual} let go ({difference})",
                version=plan["playbook"], start=plan["start"], end=plan["end"], forecast=totals["forecast"],
                actual=totals["actual"], difference=f"{totals['difference']:+d}"), markup=False, highlight=False)  # fmt: skip

    def numbers(title: str, head: list[str], rows: list[list[Any]]) -> None:
        table = Table(title=title, title_justify="left")
        for number, header in enumerate(head):
            table.add_column(header, justify="left" if number == 0 else "right", overflow="fold")
        for row in rows:
            table.add_row(*(str(c) for c in row))
        print_table(out, table)

    numbers(t("journeys: forecast and actual"),
            [t("journey"), t("entered, forecast"), t("entered"), t("difference"), t("goal, forecast"), t("goal"),
             t("difference")],
            [[r["journey"], r["entered"]["forecast"], r["entered"]["actual"], f"{r['entered']['difference']:+d}",
              r["goal"]["forecast"], r["goal"]["actual"], f"{r['goal']['difference']:+d}"] for r in a["journeys"]])  # fmt: skip
    numbers(t("touches per account: forecast and actual"),
            [t("account"), t("forecast"), t("let go"), t("executed"), t("difference")],
            [[r["account"], r["forecast"], r["actual"], r["executed"], f"{r['difference']:+d}"]
             for r in a["accounts"]])  # fmt: skip
    numbers(t("touches per day and channel: forecast and actual"),
            [t("day"), t("channel"), t("forecast"), t("let go"), t("difference")],
            [[r["day"], r["channel"], r["forecast"], r["actual"], f"{r['difference']:+d}"] for r in a["by_day"]])  # fmt: skip
