"""`plan --format html`: one self-contained page a manager can read offline.

Built from the plan's JSON contract (output.write_json), aggregated before anything is
drawn so the page stays small at large sizes; the charts are Vega-Lite specs (Altair)
rendered to inline SVG at build time by vl-convert — no JavaScript from a network.
Named lists are cut at `NAMED` contacts, with a count of the rest.
"""

from __future__ import annotations

import html
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from playbook.i18n import language, t
from playbook.plan.output import CAUSES
from playbook.vocab.reasons import cause_of

NAMED = 1000  # contacts named per reason (the rest counted)
LOOKUP = 2000  # contacts whose timeline the lookup carries
LOOKUP_TOUCHES = 50  # touches per contact in the lookup
TOP_ACCOUNTS = 40  # accounts drawn in a per-account chart (the busiest)
TEXT_ACCOUNTS = 15  # up to this many accounts, the heatmap's cells show their number
ROWS = 200  # rows of a table (the rest counted)


class MissingCharts(Exception):
    """Altair or vl-convert is not installed (the optional extra `html`)."""


def _libraries() -> tuple[Any, Any]:
    try:
        import altair as alt
        import vl_convert as vlc
    except ImportError as exc:
        raise MissingCharts(str(exc)) from exc
    return alt, vlc


def read_plan(lines: Iterable[str]) -> tuple[dict[str, Any], list[dict[str, Any]], Iterator[dict[str, Any]]]:
    """The plan's JSON as `write_json` writes it — one head key, event or touch per line —
    read a line at a time: the head, the events a page shows (service levels, groups; the
    rest are few or not shown), and the touches as they come. A million-contact plan is
    never one object in memory."""
    it = iter(lines)
    head: dict[str, Any] = {}
    events: list[dict[str, Any]] = []
    for line in it:
        text = line.strip().rstrip(",")
        if text in ("{", "}", "]", ""):
            continue
        if text == '"touches": [' or text == '"touches": []':
            break
        if text.startswith('"events": ['):
            continue
        if text.startswith("{"):  # an event
            event = json.loads(text)
            if event.get("type", "").startswith(("sla_", "group_opened")):
                events.append(event)
            continue
        head.update(json.loads("{" + text + "}"))

    def touches() -> Iterator[dict[str, Any]]:
        for line in it:
            text = line.strip().rstrip(",")
            if text.startswith("{"):
                yield json.loads(text)

    return head, events, touches()


def _day(at: str) -> str:
    return at[:10]


def _svg(chart: Any, vlc: Any) -> str:
    svg = vlc.vegalite_to_svg(chart.to_dict(), allowed_base_urls=[])
    return f'<div class="chart">{svg}</div>'


def _table(head: list[str], rows: list[list[Any]]) -> str:
    cells = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _font(alt: Any, chart: Any) -> Any:
    font = "Noto Sans CJK SC, Noto Sans SC, Microsoft YaHei, PingFang SC, sans-serif"
    return chart.configure(font=font).configure_view(strokeWidth=0)


def render_html(
    doc: dict[str, Any],
    events: list[dict[str, Any]],
    touches: Iterable[dict[str, Any]],
    title: str,
    no_goal: set[str] = frozenset(),  # type: ignore[assignment]
    caps: dict[str, int] | None = None,
) -> str:
    """The page for a plan — its JSON head `doc`, the `events` and `touches` (see
    read_plan) — titled `title`, in the current language; `no_goal`: the journeys
    (metrics keys) without a goal; `caps`: an account's daily dm and task caps."""
    alt, vlc = _libraries()
    alt.data_transformers.disable_max_rows()
    count = 0
    parts: list[str] = []

    def section(name: str, body: str) -> None:
        parts.append(f"<section><h2>{html.escape(name)}</h2>{body}</section>")

    # what each contact's staff is, for the per-staff service levels
    account_of: dict[str, str] = {}
    by_channel_day: Counter[tuple[str, str]] = Counter()
    deferred_day: Counter[tuple[str, str]] = Counter()
    load: Counter[tuple[str, str]] = Counter()
    posts: Counter[str] = Counter()
    audiences: Counter[tuple[str, str]] = Counter()
    named: dict[tuple[str, str], list[str]] = defaultdict(list)
    reasons: Counter[tuple[str, str]] = Counter()
    step_contacts: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    timeline: dict[str, list[list[str]]] = {}
    for touch in touches:
        count += 1
        day, channel, outcome = _day(touch["at"]), touch["channel"], touch["outcome"]
        contact, account = touch.get("contact"), touch.get("account") or "—"
        by_channel_day[(day, channel)] += 1
        if contact:
            account_of.setdefault(contact, account)
            if outcome == "ok":
                step_contacts[touch["flow"]][touch["step"]].add(contact)
        if outcome == "ok" and channel in ("dm", "task"):
            load[(account, day)] += 1
        if channel == "moment" and outcome == "ok":
            posts[day] += 1
            audiences[(day, account)] += len(touch.get("audience") or [])
        if outcome != "ok":
            reason = touch.get("reason") or outcome
            cause = cause_of(reason)
            kind = t(CAUSES[cause]) if cause in CAUSES else cause  # grouped as in the terminal's summary
            deferred_day[(_day(touch.get("due") or touch["at"]), kind)] += 1
            reasons[(outcome, reason)] += 1
            if contact and len(named[(outcome, reason)]) < NAMED:
                named[(outcome, reason)].append(contact)
        if contact and (contact in timeline or len(timeline) < LOOKUP):
            lines = timeline.setdefault(contact, [])
            if len(lines) < LOOKUP_TOUCHES:
                lines.append([touch["at"][:16].replace("T", " "), channel, account, touch["step"], outcome,
                              touch.get("reason") or ""])  # fmt: skip

    # summary
    summary = doc.get("summary", {})
    rows = [[t("channel"), k, v] for k, v in sorted(summary.get("by_channel", {}).items())]
    rows += [[t("outcome"), k, v] for k, v in sorted(summary.get("by_outcome", {}).items())]
    head = f"<p>{html.escape(doc.get('start', ''))} → {html.escape(doc.get('end', ''))} · {count} {t('touches')}</p>"
    section(t("Summary"), head + _table([t("by"), t("value"), t("touches")], rows))

    # touches per day by channel, with deferrals
    data = [{"day": d, "channel": c, "n": n} for (d, c), n in sorted(by_channel_day.items())]
    if data:
        chart = alt.Chart(alt.Data(values=data)).mark_bar().encode(
            x=alt.X("day:O", title=t("day")), y=alt.Y("sum(n):Q", title=t("touches")),
            color=alt.Color("channel:N", title=t("channel")),
        ).properties(width=640, height=220, title=t("Touches per day by channel"))  # fmt: skip
        body = _svg(_font(alt, chart), vlc)
        ddata = [{"day": d, "why": k, "n": n} for (d, k), n in sorted(deferred_day.items())]
        if ddata:
            dchart = alt.Chart(alt.Data(values=ddata)).mark_bar().encode(
                x=alt.X("day:O", title=t("day"), scale=alt.Scale(domain=sorted({d for d, _ in by_channel_day}))),
                y=alt.Y("sum(n):Q", title=t("deferred or skipped")),
                color=alt.Color("why:N", title=t("reason")),
            ).properties(width=640, height=140, title=t("Deferred and skipped by day (quiet hours, limits)"))  # fmt: skip
            body += _svg(_font(alt, dchart), vlc)
        section(t("Touches per day"), body)

    # staff × day load
    if load:
        shown = _top_accounts(load)
        ldata = [{"account": a, "day": d, "n": n} for (a, d), n in sorted(shown.items())]
        base = alt.Chart(alt.Data(values=ldata)).encode(
            x=alt.X("day:O", title=t("day")), y=alt.Y("account:N", title=t("account"))
        )  # fmt: skip
        heat = base.mark_rect().encode(color=alt.Color("n:Q", title=t("dm + tasks"), scale=alt.Scale(scheme="oranges")))
        chart = (
            heat
            if len({a for a, _ in shown}) > TEXT_ACCOUNTS
            else heat + base.mark_text(fontSize=10).encode(text="n:Q")
        )
        cap_text = ", ".join(f"{c} {n}" for c, n in sorted((caps or {}).items())) or "—"
        chart = chart.properties(width=640, title=t("Staff load per day: dm and tasks (caps: {caps})", caps=cap_text))
        section(t("Staff × day load"), _svg(_font(alt, chart), vlc) + _rest_note(load, shown))

    # journeys as funnels
    metrics = doc.get("metrics", {})
    if metrics:
        fdata: list[dict[str, Any]] = []
        rows = []
        for flow, m in sorted(metrics.items()):
            fdata.append({"flow": flow, "stage": t("entered"), "n": m.get("entered", 0)})
            for number, (step, who) in enumerate(step_contacts.get(flow, {}).items(), 1):  # in first-planned order
                fdata.append({"flow": flow, "stage": f"{number} {step[:30]}", "n": len(who)})
            fdata.append({"flow": flow, "stage": t("goal"), "n": m.get("goal", 0)})
            conversion = t("no goal") if flow in no_goal else f"{m.get('conversion', 0):.1%}"
            rows.append([flow, "", m.get("entered", 0), m.get("goal", 0), conversion])
            for arm, a in sorted((m.get("by_arm") or {}).items()):
                rate = f"{a['goal'] / a['entered']:.1%}" if a.get("entered") else "—"
                rows.append([flow, arm, a.get("entered", 0), a.get("goal", 0), rate])
        chart = alt.Chart(alt.Data(values=fdata)).mark_bar().encode(
            y=alt.Y("stage:N", title=None, sort=None), x=alt.X("n:Q", title=t("contacts")),
            row=alt.Row("flow:N", title=None),
        ).properties(width=480).resolve_scale(y="independent")  # fmt: skip
        table = _table([t("journey"), t("arm"), t("entered"), t("goal"), t("conversion")], rows)
        section(t("Journeys"), _svg(_font(alt, chart), vlc) + table)

    # service levels
    sla: Counter[tuple[str, str]] = Counter()
    groups: list[list[Any]] = []
    for event in events:
        kind = event.get("type", "")
        if kind.startswith("sla_") and kind != "sla_started":
            sla[(account_of.get(event.get("contact") or "", "—"), kind[4:])] += 1
        elif kind == "group_opened":
            groups.append([event.get("title", ""), event.get("account", ""), event["at"][:16].replace("T", " "),
                           (event.get("closes") or "")[:16].replace("T", " "), event.get("members", "")])  # fmt: skip
    if sla:
        top = _top_accounts(sla)
        sdata = [{"account": a, "result": r, "n": n} for (a, r), n in sorted(top.items())]
        chart = alt.Chart(alt.Data(values=sdata)).mark_bar().encode(
            y=alt.Y("account:N", title=t("account")), x=alt.X("sum(n):Q", title=t("service levels")),
            color=alt.Color("result:N", title=t("result"),
                            scale=alt.Scale(domain=["met", "late", "missed"], range=["#4c9a2a", "#e0a100", "#c0392b"])),
        ).properties(width=480, title=t("Service levels per staff (met / late / missed)"))  # fmt: skip
        section(t("Service levels"), _svg(_font(alt, chart), vlc) + _rest_note(sla, top))
    if groups:
        rest = len(groups) - ROWS
        more = f"<p>{html.escape(t('and {n} more', n=rest))}</p>" if rest > 0 else ""
        head = [t("group"), t("account"), t("opens"), t("closes"), t("members")]
        section(t("Groups"), f"<p>{len(groups)}</p>" + _table(head, groups[:ROWS]) + more)
    if posts:
        moments = _top_accounts({(a, d): n for (d, a), n in audiences.items()})
        mdata = [{"day": d, "account": a, "audience": n} for (a, d), n in moments.items()]
        chart = alt.Chart(alt.Data(values=mdata)).mark_bar().encode(
            x=alt.X("day:O", title=t("day")), y=alt.Y("sum(audience):Q", title=t("audience")),
            color=alt.Color("account:N", title=t("account")),
        ).properties(width=640, height=180, title=t("Moments: audience per day (posts stacked)"))  # fmt: skip
        rows = [[d, n] for d, n in sorted(posts.items())]
        section(t("Moments"), _svg(_font(alt, chart), vlc) + _table([t("day"), t("posts")], rows))

    # deferred and skipped, by reason, contacts named
    if reasons:
        items = []
        for (outcome, reason), n in sorted(reasons.items(), key=lambda kv: -kv[1]):
            who = named[(outcome, reason)]
            rest = n - len(who)
            more = f" … {t('and {n} more', n=rest)}" if rest > 0 else ""
            items.append(f"<details><summary>{html.escape(outcome)} · {html.escape(reason)}: {n}</summary>"
                         f"<p class='named'>{html.escape(' '.join(who))}{html.escape(more)}</p></details>")  # fmt: skip
        section(t("Deferred and skipped"), "".join(items))

    # per-contact timeline lookup
    lookup = json.dumps(timeline, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    section(t("Contact timeline"), (
        f"<input id='who' placeholder='{html.escape(t('contact id'))}'> <pre id='line'></pre>"
        f"<script>const TL={lookup};const w=document.getElementById('who');"
        "w.addEventListener('input',()=>{const r=TL[w.value.trim()];"
        "document.getElementById('line').textContent=r?r.map(x=>x.join('  ')).join('\\n'):'';});</script>"
    ))  # fmt: skip

    lang = "zh-CN" if language() == "zh" else "en"
    return (
        f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='version'>{html.escape(str(doc.get('playbook', '')))}</p>"
        + "".join(parts)
        + "</body></html>\n"
    )


def _top_accounts(cells: Counter[tuple[str, str]] | dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    """The cells (account, x) of the TOP_ACCOUNTS accounts with the largest single cell:
    the busiest staff; a chart of a thousand accounts is not read."""
    peak: Counter[str] = Counter()
    for (account, _), n in cells.items():
        peak[account] = max(peak[account], n)
    keep = {a for a, _ in peak.most_common(TOP_ACCOUNTS)}
    return {k: n for k, n in cells.items() if k[0] in keep}


def _rest_note(cells: Any, shown: dict[tuple[str, str], int]) -> str:
    rest = len({a for a, _ in cells}) - len({a for a, _ in shown})
    if rest <= 0:
        return ""
    return f"<p>{html.escape(t('the {top} busiest accounts shown; {n} more', top=TOP_ACCOUNTS, n=rest))}</p>"


_STYLE = (
    "body{font-family:'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
    "section{margin-bottom:2em}.version{color:#888}.named{word-break:break-all}.chart svg{max-width:100%;height:auto}"
)
