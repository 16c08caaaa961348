"""`report --format html`: the seed metrics from the store as one self-contained page, in
the layout of the plan's page (playbook/htmlpage.py; charts drawn to inline SVG when the
page is made, nothing fetched). Made from the report's JSON document (runtime/report.py,
and runtime/against.py for `--against`), so the page shows exactly the figures
`report --format json` prints; every rate's definition is written under it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from playbook.htmlpage import (
    ROWS,
    TOP_ACCOUNTS,
    Charts,
    capped_table,
    note,
    page,
    paragraph,
    percent,
    section,
    sla_per_staff,
    table,
)
from playbook.i18n import t
from playbook.runtime.report import short_time

__all__ = ["render_report_html"]


def render_report_html(doc: Mapping[str, Any], title: str, no_goal: set[str] | frozenset[str] = frozenset()) -> str:
    """The page for a report document `doc`, titled `title`, in the current language; a
    journey in `no_goal` shows "no goal" instead of a conversion rate."""
    charts = Charts()
    names = {r["account"]: r["name"] for r in doc.get("accounts", []) if r.get("name")}

    def who(account: str) -> str:
        return f"{account} {names[account]}" if account in names else account

    window = doc["window"]
    since = short_time(window["since"]) if window["since"] else t("the beginning")
    until = short_time(window["until"]) if window["until"] else t("now")
    parts = [section(t("Summary"), paragraph(f"{since} → {until}") + _headline(doc))]
    parts.append(section(t("Pass rate (通过率)"), _rates(charts, doc["pass_rate"], who, t("pass rate"),
                                                         t("friend requests"), t("approved"))
                         + note(t("Pass rate: friend_request events in the window (rejected ones left out) that a "
                                  "friend_added of the same contact followed before the window's end, per staff "
                                  "account (the one the request names, else the contact's). The share approved "
                                  "within the SLA is under Service levels."))))  # fmt: skip
    parts.append(section(t("Reply rate (回复率)"), _rates(charts, doc["reply_rate"], who, t("reply rate"),
                                                          t("messages"), t("answered"))
                         + note(t("Reply rate: message events in the window that a staff_message to the same contact "
                                  "followed before the window's end (one reply answers every message before it), "
                                  "per staff account of the contact."))))  # fmt: skip
    parts.append(section(t("Service levels"), _service_levels(charts, doc)))
    parts.append(section(t("Interaction rate (互动率)"), _interaction(charts, doc, who)))
    parts.append(section(t("Conversion (转化率, 转化周期)"), _conversion(charts, doc["conversion"], no_goal)))
    parts.append(section(t("Purchases (客单价)"), _purchases(doc["purchases"])))
    parts.append(section(t("Execution per staff"), _execution(charts, doc["accounts"], who)))
    if doc.get("against"):
        parts.append(section(t("Plan against actuals"), _against(charts, doc["against"], who)))
    return page(title or t("playbook report"), t("report {since} → {until}", since=since, until=until), parts)


def _headline(doc: Mapping[str, Any]) -> str:
    """One row per seed metric: its value and what it counts."""
    p, r, i, buy = doc["pass_rate"], doc["reply_rate"], doc["interaction"], doc["purchases"]
    conv = doc["conversion"]
    entered = sum(m["entered"] for m in conv.values())
    goal = sum(m["goal"] for m in conv.values())
    execution = doc["accounts"]
    due = sum(a["due"] for a in execution)
    sent = sum(a["sent"] for a in execution)
    rows = [
        [t("pass rate"), percent(p["rate"]), f"{p['answered']}/{p['asked']}"],
        [t("reply rate"), percent(r["rate"]), f"{r['answered']}/{r['asked']}"],
        [t("interaction rate"), percent(i["interaction_rate"]), f"{i['interacted']}/{i['reached']}"],
        [t("conversion"), percent(goal / entered if entered else None), f"{goal}/{entered}"],
        [t("average order value"), "—" if buy["average_order_value"] is None else f"{buy['average_order_value']:,.2f}",
         f"{buy['revenue']:,.2f}/{buy['with_amount']}"],
        [t("execution rate"), percent(sent / due if due else None), f"{sent}/{due}"],
    ]  # fmt: skip
    for name, rotation in doc.get("rotations", {}).items():
        cells = rotation["by_account"].values()
        covered, friends = sum(c["covered"] for c in cells), sum(c["friends"] for c in cells)
        rows.append([t("rotation coverage {name}", name=name), percent(covered / friends if friends else None),
                     f"{covered}/{friends}"])  # fmt: skip
    return table([t("figure"), t("value"), t("of")], rows)


def _top(rows: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """The TOP_ACCOUNTS rows (account, part, whole) with the largest whole."""
    return sorted(rows, key=lambda r: (-r[2], r[0]))[:TOP_ACCOUNTS]


def _rate_chart(charts: Charts, rows: list[tuple[str, int, int]], what: str) -> str:
    """A bar per account: part / whole, the busiest TOP_ACCOUNTS accounts; and how many more."""
    alt = charts.alt
    shown = _top([r for r in rows if r[2]])
    if not shown:
        return paragraph(t("nothing in the window"))
    data = [{"account": a, "rate": part / whole, "n": f"{part}/{whole}"} for a, part, whole in shown]
    chart = charts.chart(data).mark_bar().encode(
        y=alt.Y("account:N", title=t("account"), sort="-x"),
        x=alt.X("rate:Q", title=what, axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        tooltip=["account:N", "n:N"],
    ).properties(width=480, title=what)  # fmt: skip
    rest = len(rows) - len(shown)
    more = paragraph(t("the {top} busiest accounts shown; {n} more", top=TOP_ACCOUNTS, n=rest)) if rest > 0 else ""
    return charts.svg(chart) + more


def _rates(charts: Charts, figure: Mapping[str, Any], who: Any, what: str, asked: str, answered: str) -> str:
    """Pass rate or reply rate per staff: a chart and a table (runtime/report.py, `answered`)."""
    by = figure["by_account"]
    rows = [(who(a), c["answered"], c["asked"]) for a, c in by.items()]
    body = paragraph(f"{what}: {percent(figure['rate'])} ({figure['answered']}/{figure['asked']})")
    cells = [[who(a), c["asked"], c["answered"], percent(c["rate"])] for a, c in by.items()]
    return body + _rate_chart(charts, rows, what) + capped_table([t("account"), asked, answered, what], cells)


def sla_cells(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The service levels as chart cells (row, result, n): per SLA, the watches met in
    time, answered late, and missed with no answer by the window's end (`missed − late`:
    a late answer was a miss first)."""
    cells = []
    for name, c in doc["service_levels"].items():
        for result, n in (("met", c["met"]), ("late", c["late"]), ("missed", c["missed"] - c["late"])):
            cells.append({"row": name, "result": t(result), "n": n})
    return cells


def _service_levels(charts: Charts, doc: Mapping[str, Any]) -> str:
    alt = charts.alt
    levels = doc["service_levels"]
    if not levels:
        return paragraph(t("no service levels in the active playbooks"))
    chart = charts.chart(sla_cells(doc)).mark_bar().encode(
        y=alt.Y("row:N", title=t("service level")), x=alt.X("sum(n):Q", title=t("service levels")),
        color=charts.sla_color(),
    ).properties(width=480, title=t("Service levels (met / late / missed)"))  # fmt: skip
    rows = [[name, c["started"], c["met"], c["late"], c["missed"], c["open"], percent(c["in_time_rate"])]
            for name, c in levels.items()]  # fmt: skip
    head = [t("service level"), t("started"), t("met"), t("late"), t("missed"), t("open"), t("in time")]
    per_staff = sla_per_staff(charts, doc.get("service_levels_by_account") or {})
    return charts.svg(chart) + table(head, rows) + per_staff + note(t(
        "A watch opens at the trigger (a friend request, a message). met: answered by the deadline; late: answered "
        "after it; missed: the deadline passed (late ones included); open: neither yet. In time: met / (met + missed)."
    ))  # fmt: skip


def _interaction(charts: Charts, doc: Mapping[str, Any], who: Any) -> str:
    i = doc["interaction"]
    body = paragraph(t("moments: {posts} posts sent, seen by {reached} contacts; {interacted} interacted — "
                       "interaction rate {rate}", posts=i["posts"], reached=i["reached"], interacted=i["interacted"],
                       rate=percent(i["interaction_rate"])))  # fmt: skip
    body += note(t("Interaction rate: contacts with a moment_interaction event in the window among the contacts in the "
                   "audience of a Moments post sent in the window."))  # fmt: skip
    for name, rotation in doc.get("rotations", {}).items():
        by = rotation["by_account"]
        rows = [(who(a), c["covered"], c["friends"]) for a, c in by.items()]
        cells = [[who(a), c["friends"], c["covered"], percent(c["coverage"])] for a, c in by.items()]
        cycle = rotation["cycle"]
        body += f"<h3>{t('rotation coverage {name}', name=name)}</h3>"
        body += _rate_chart(charts, rows, t("rotation coverage")) + capped_table(
            [t("account"), t("friends"), t("covered"), t("rotation coverage")], cells)
        body += note(t("Rotation coverage: the share of each staff account's friends (contacts not deleted) whose "
                       "rotation task was executed in the current cycle, the {days} days {since} → {until}.",
                       days=rotation["period_days"], since=cycle["since"] or "—", until=cycle["until"] or "—"))  # fmt: skip
    return body


def _conversion(charts: Charts, conversion: Mapping[str, Any], no_goal: set[str] | frozenset[str]) -> str:
    alt = charts.alt
    rows: list[list[Any]] = []
    data: list[dict[str, Any]] = []
    for name, m in conversion.items():
        hours = m["median_time_to_goal_hours"]
        if name in no_goal:
            rows.append([name, "", "", m["entered"], "—", t("no goal"), "—"])
            continue
        rows.append([name, "", "", m["entered"], m["goal"], percent(m["conversion"] if m["entered"] else None),
                     "—" if hours is None else f"{hours:g}"])  # fmt: skip
        data.append({"row": name, "by": t("journey"), "rate": m["conversion"], "n": f"{m['goal']}/{m['entered']}"})
        for by, label in (("by_arm", t("arm")), ("by_segment", t("segment"))):
            for part, c in m[by].items():
                rate = c["goal"] / c["entered"] if c["entered"] else None
                rows.append([name, label, part, c["entered"], c["goal"], percent(rate), ""])
                if rate is not None:
                    data.append({"row": f"{name} · {part}", "by": label, "rate": rate, "n": f"{c['goal']}/{c['entered']}"})
    body = ""
    if data:
        chart = charts.chart(data[:ROWS]).mark_bar().encode(
            y=alt.Y("row:N", title=None, sort=None),
            x=alt.X("rate:Q", title=t("conversion"), axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("by:N", title=t("by")), tooltip=["row:N", "n:N"],
        ).properties(width=480, title=t("Conversion per journey, arm and segment"))  # fmt: skip
        body = charts.svg(chart)
    head = [t("journey"), t("by"), t("name"), t("entered"), t("goal"), t("conversion"), t("median hours to goal")]
    return body + capped_table(head, rows) + note(t(
        "Conversion: enrolments that entered in the window and reached the journey's goal before its end, over those "
        "that entered; per A/B arm and per segment the contact was in at entry. Conversion cycle (转化周期): the "
        "median hours from entry to the goal."
    ))  # fmt: skip


def _purchases(p: Mapping[str, Any]) -> str:
    aov = "—" if p["average_order_value"] is None else f"{p['average_order_value']:,.2f}"
    rows = [[t("purchases"), p["purchases"]], [t("buyers"), p["buyers"]], [t("with an amount"), p["with_amount"]],
            [t("revenue"), f"{p['revenue']:,.2f}"], [t("average order value"), aov]]  # fmt: skip
    return table([t("figure"), t("value")], rows) + note(t(
        "Average order value (客单价): the revenue of the purchase events in the window that carry an amount, over "
        "their number; purchases without an amount are counted but not averaged."
    ))  # fmt: skip


def _execution(charts: Charts, accounts: list[Mapping[str, Any]], who: Any) -> str:
    alt = charts.alt
    if not accounts:
        return paragraph(t("nothing in the window"))
    shown = sorted(accounts, key=lambda r: (-r["due"], r["account"]))[:TOP_ACCOUNTS]
    data = []
    for r in shown:
        for result, n in (("on time", r["on_time"]), ("late", r["sent"] - r["on_time"]),
                          ("not executed", r["due"] - r["sent"])):  # fmt: skip
            data.append({"account": who(r["account"]), "result": t(result), "n": n})
    chart = charts.chart(data).mark_bar().encode(
        y=alt.Y("account:N", title=t("account")), x=alt.X("sum(n):Q", title=t("due")),
        color=alt.Color("result:N", title=t("result"), sort=[t("on time"), t("late"), t("not executed")],
                        scale=alt.Scale(range=["#4c9a2a", "#e0a100", "#c0392b"])),
    ).properties(width=480, title=t("Execution per staff (on time / late / not executed)"))  # fmt: skip
    rest = len(accounts) - len(shown)
    more = paragraph(t("the {top} busiest accounts shown; {n} more", top=TOP_ACCOUNTS, n=rest)) if rest > 0 else ""
    rows = [[who(r["account"]), r["due"], r["sent"], r["on_time"], r["sent"] - r["on_time"], r["awaiting_confirmation"],
             r["not_executed"], r["waiting"], r["failed"] + r["dead"] + r["unknown"], percent(r["execution_rate"])]
            for r in accounts]  # fmt: skip
    head = [t("account"), t("due"), t("sent"), t("on time"), t("late"), t("to confirm"), t("not executed"),
            t("waiting"), t("failed"), t("execution rate")]  # fmt: skip
    return charts.svg(chart) + more + capped_table(head, rows) + note(t(
        "Execution: the touches the engine let go in the window per staff account; sent (where the platform confirms "
        "later, WeCom: once the staff member confirmed), on time when within 1 hour of the engine letting it go, late "
        "after that."
    ))  # fmt: skip


def _against(charts: Charts, a: Mapping[str, Any], who: Any) -> str:
    alt = charts.alt
    plan = a["plan"]
    totals = a["touches"]
    body = paragraph(t("plan {version}, {start} → {end}: {forecast} touches forecast, {actual} let go ({difference})",
                       version=plan["playbook"], start=plan["start"], end=plan["end"], forecast=totals["forecast"],
                       actual=totals["actual"], difference=f"{totals['difference']:+d}"))  # fmt: skip
    per_day: dict[tuple[str, str], int] = {}
    for r in a["by_day"]:
        for series in ("forecast", "actual"):
            per_day[(r["day"], series)] = per_day.get((r["day"], series), 0) + r[series]
    if per_day:
        data = [{"day": d, "series": t(series), "n": n} for (d, series), n in sorted(per_day.items())]
        chart = charts.chart(data).mark_line(point=True).encode(
            x=alt.X("day:O", title=t("day")), y=alt.Y("n:Q", title=t("touches")),
            color=alt.Color("series:N", title=None),
        ).properties(width=640, height=200, title=t("Touches per day: forecast and actual"))  # fmt: skip
        body += charts.svg(chart)
    rows = [[r["journey"], r["entered"]["forecast"], r["entered"]["actual"], f"{r['entered']['difference']:+d}",
             r["goal"]["forecast"], r["goal"]["actual"], f"{r['goal']['difference']:+d}"] for r in a["journeys"]]  # fmt: skip
    body += f"<h3>{t('Journeys')}</h3>" + table(
        [t("journey"), t("entered, forecast"), t("entered"), t("difference"), t("goal, forecast"), t("goal"),
         t("difference")], rows)  # fmt: skip
    rows = [[who(r["account"]), r["forecast"], r["actual"], r["executed"], f"{r['difference']:+d}"]
            for r in a["accounts"]]  # fmt: skip
    body += f"<h3>{t('Per staff')}</h3>" + capped_table(
        [t("account"), t("forecast"), t("let go"), t("executed"), t("difference")], rows)
    rows = [[r["day"], r["channel"], r["forecast"], r["actual"], f"{r['difference']:+d}"] for r in a["by_day"]]
    body += f"<h3>{t('Per day and channel')}</h3>" + capped_table(
        [t("day"), t("channel"), t("forecast"), t("let go"), t("difference")], rows)
    return body + note(t(
        "Forecast: the plan's touches that go out (ok or deferred), by the day they go out. Actual: the ledger's "
        "touches the engine let go in the plan's window; executed as under Execution. Difference: actual − forecast."
    ))  # fmt: skip
