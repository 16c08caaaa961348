"""`plan --format html`: one self-contained page a manager can read offline.

Built from the plan's JSON contract (jsonwriter.write_json), aggregated before anything is
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

from playbook.htmlpage import (
    ROWS,
    Charts,
    MissingCharts,
    capped_table,
    page,
    paragraph,
    rest_note,
    section,
    sla_per_staff,
    table,
    top_accounts,
)
from playbook.i18n import t
from playbook.plan.notes import summary_html
from playbook.plan.tables import CAUSES
from playbook.vocab.reasons import cause_of

__all__ = ["MissingCharts", "read_plan", "render_html"]

NAMED = 1000  # contacts named per reason (the rest counted)
LOOKUP = 2000  # contacts whose timeline the lookup carries
LOOKUP_TOUCHES = 50  # touches per contact in the lookup
TEXT_ACCOUNTS = 15  # up to this many accounts, the heatmap's cells show their number


def read_plan(lines: Iterable[str]) -> tuple[dict[str, Any], list[dict[str, Any]], Iterator[dict[str, Any]]]:
    """The plan's JSON as `write_json` writes it — one head key, event or touch per line —
    read a line at a time: the head (with the service levels per staff), the events a page
    shows (groups; the rest are few or not shown), and the touches as they come. A million-contact plan is
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
            if event.get("type", "") == "group_opened":
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


def _minute(at: str) -> str:
    """2026-12-01T09:00:00+08:00 → 2026-12-01 09:00."""
    return at[:16].replace("T", " ")


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
    (metrics keys) without a goal; `caps`: an account's daily dm and task caps. The touches
    are tallied in one pass (`_Tally`), then each section is drawn from the tally."""
    charts = Charts()
    tally = _Tally()
    for touch in touches:
        tally.add(touch)
    sections = [
        (t("Summary"), _summary(doc, tally.count)),
        (t("Touches per day"), _per_day(charts, tally)),
        (t("Staff × day load"), _load(charts, tally.load, caps)),
        (t("Journeys"), _journeys(charts, doc.get("metrics", {}), tally.step_contacts, no_goal)),
        (t("Service levels"), sla_per_staff(charts, doc.get("service_levels") or {})),
        (t("Groups"), _groups(events, tally.invitations)),
        (t("Moments"), _moments(charts, tally)),
        (t("Deferred and skipped"), _deferred_and_skipped(tally)),  # by reason, contacts named
        (t("Contact timeline"), _lookup(tally.timeline)),
    ]
    return page(title, str(doc.get("playbook", "")), [section(name, body) for name, body in sections if body])


class _Tally:
    """What the page shows of the touches, gathered as they are read (a million-touch
    plan is never in memory)."""

    def __init__(self) -> None:
        self.count = 0
        self.by_channel_day: Counter[tuple[str, str]] = Counter()
        self.deferred_day: Counter[tuple[str, str]] = Counter()
        self.load: Counter[tuple[str, str]] = Counter()
        self.posts: Counter[str] = Counter()
        self.audiences: Counter[tuple[str, str]] = Counter()
        self.post_rows: list[list[Any]] = []  # the first ROWS Moments posts, with their audience
        self.invitations: dict[str, Counter[str]] = defaultdict(Counter)  # group instance -> outcome -> invitations
        self.named: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.reasons: Counter[tuple[str, str]] = Counter()
        self.step_contacts: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self.timeline: dict[str, list[list[str]]] = {}

    def add(self, touch: dict[str, Any]) -> None:
        self.count += 1
        day, channel, outcome = _day(touch["at"]), touch["channel"], touch["outcome"]
        contact, account = touch.get("contact"), touch.get("account") or "—"
        self.by_channel_day[(day, channel)] += 1
        if contact and outcome == "ok":
            self.step_contacts[touch["flow"]][touch["step"]].add(contact)
        if outcome == "ok" and channel in ("dm", "task"):
            self.load[(account, day)] += 1
        if channel == "dm" and touch.get("group"):  # a dm that carries a group: its invitation
            self.invitations[touch["group"]][outcome] += 1
        if channel == "moment" and outcome == "ok":
            self._post(touch, day, account)
        if outcome != "ok":
            self._not_ok(touch, outcome, contact)
        if contact and (contact in self.timeline or len(self.timeline) < LOOKUP):
            lines = self.timeline.setdefault(contact, [])
            if len(lines) < LOOKUP_TOUCHES:
                lines.append([_minute(touch["at"]), channel, account, touch["step"], outcome,
                              touch.get("reason") or ""])  # fmt: skip

    def _post(self, touch: dict[str, Any], day: str, account: str) -> None:
        self.posts[day] += 1
        seen = len(touch.get("audience") or [])
        self.audiences[(day, account)] += seen
        if len(self.post_rows) < ROWS:
            self.post_rows.append([_minute(touch["at"]), account, touch.get("content") or "", seen])

    def _not_ok(self, touch: dict[str, Any], outcome: str, contact: str | None) -> None:
        reason = touch.get("reason") or outcome
        cause = cause_of(reason)  # the JSON's text read back (vocab.reasons.read)
        kind = t(CAUSES[cause]) if cause in CAUSES else cause  # grouped as in the terminal's summary
        self.deferred_day[(_day(touch.get("due") or touch["at"]), kind)] += 1
        self.reasons[(outcome, reason)] += 1
        if contact and len(self.named[(outcome, reason)]) < NAMED:
            self.named[(outcome, reason)].append(contact)


def _summary(doc: dict[str, Any], count: int) -> str:
    summary = doc.get("summary", {})
    rows = [[t("channel"), k, v] for k, v in sorted(summary.get("by_channel", {}).items())]
    rows += [[t("outcome"), k, v] for k, v in sorted(summary.get("by_outcome", {}).items())]
    head = paragraph(f"{doc.get('start', '')} → {doc.get('end', '')} · {count} {t('touches')}")
    return head + table([t("by"), t("value"), t("touches")], rows) + summary_html(doc, table)


def _per_day(charts: Charts, tally: _Tally) -> str:
    """Touches per day by channel, with deferrals."""
    alt = charts.alt
    data = [{"day": d, "channel": c, "n": n} for (d, c), n in sorted(tally.by_channel_day.items())]
    if not data:
        return ""
    chart = charts.chart(data).mark_bar().encode(
        x=alt.X("day:O", title=t("day")), y=alt.Y("sum(n):Q", title=t("touches")),
        color=alt.Color("channel:N", title=t("channel")),
    ).properties(width=640, height=220, title=t("Touches per day by channel"))  # fmt: skip
    body = charts.svg(chart)
    ddata = [{"day": d, "why": k, "n": n} for (d, k), n in sorted(tally.deferred_day.items())]
    if ddata:
        dchart = charts.chart(ddata).mark_bar().encode(
            x=alt.X("day:O", title=t("day"), scale=alt.Scale(domain=sorted({d for d, _ in tally.by_channel_day}))),
            y=alt.Y("sum(n):Q", title=t("deferred or skipped")),
            color=alt.Color("why:N", title=t("reason")),
        ).properties(width=640, height=140, title=t("Deferred and skipped by day (quiet hours, limits)"))  # fmt: skip
        body += charts.svg(dchart)
    return body


def _load(charts: Charts, load: Counter[tuple[str, str]], caps: dict[str, int] | None) -> str:
    """Staff × day load."""
    if not load:
        return ""
    alt = charts.alt
    shown = top_accounts(load)
    ldata = [{"account": a, "day": d, "n": n} for (a, d), n in sorted(shown.items())]
    base = charts.chart(ldata).encode(x=alt.X("day:O", title=t("day")), y=alt.Y("account:N", title=t("account")))
    heat = base.mark_rect().encode(color=alt.Color("n:Q", title=t("dm + tasks"), scale=alt.Scale(scheme="oranges")))
    chart = (
        heat if len({a for a, _ in shown}) > TEXT_ACCOUNTS else heat + base.mark_text(fontSize=10).encode(text="n:Q")
    )
    cap_text = ", ".join(f"{c} {n}" for c, n in sorted((caps or {}).items())) or "—"
    chart = chart.properties(width=640, title=t("Staff load per day: dm and tasks (caps: {caps})", caps=cap_text))
    return charts.svg(chart) + rest_note(load, shown)


def _journeys(charts: Charts, metrics: dict[str, Any], step_contacts: dict[str, dict[str, set[str]]],
              no_goal: set[str]) -> str:  # fmt: skip
    """Journeys as funnels, and their conversion by arm."""
    if not metrics:
        return ""
    alt = charts.alt
    fdata: list[dict[str, Any]] = []
    rows = []
    for flow, m in sorted(metrics.items()):
        fdata.append({"flow": flow, "stage": t("entered"), "n": m.get("entered", 0)})
        for number, (step, who) in enumerate(step_contacts.get(flow, {}).items(), 1):  # in first-planned order
            fdata.append({"flow": flow, "stage": f"{number} {step[:30]}", "n": len(who)})
        fdata.append({"flow": flow, "stage": t("goal"), "n": m.get("goal", 0)})
        rows += _conversions(flow, m, flow in no_goal)
    chart = charts.chart(fdata).mark_bar().encode(
        y=alt.Y("stage:N", title=None, sort=None), x=alt.X("n:Q", title=t("contacts")),
        row=alt.Row("flow:N", title=None),
    ).properties(width=480).resolve_scale(y="independent")  # fmt: skip
    rows_table = table([t("journey"), t("arm"), t("entered"), t("goal"), t("conversion")], rows)
    return charts.svg(chart) + rows_table


def _conversions(flow: str, m: dict[str, Any], no_goal: bool) -> list[list[Any]]:
    """A journey's row and its arms' rows of the conversion table."""
    conversion = t("no goal") if no_goal else f"{m.get('conversion', 0):.1%}"
    rows = [[flow, "", m.get("entered", 0), m.get("goal", 0), conversion]]
    for arm, a in sorted((m.get("by_arm") or {}).items()):
        rate = t("no goal") if no_goal else f"{a['goal'] / a['entered']:.1%}" if a.get("entered") else "—"
        rows.append([flow, arm, a.get("entered", 0), a.get("goal", 0), rate])
    return rows


def _groups(events: list[dict[str, Any]], invitations: dict[str, Counter[str]]) -> str:
    """The group instances opened, with the invitations sent and skipped."""
    groups: list[list[Any]] = []
    for event in events:
        if event.get("type", "") == "group_opened":
            sent = invitations.get(event.get("group") or "", Counter())
            groups.append([event.get("title", ""), event.get("account", ""), _minute(event["at"]),
                           _minute(event.get("closes") or ""), event.get("members", ""),
                           sent["ok"] + sent["deferred"], sent["skipped"]])  # fmt: skip
    if not groups:
        return ""
    head_row = [t("group"), t("account"), t("opens"), t("closes"), t("members"), t("invitations sent"),
                t("invitations skipped")]  # fmt: skip
    return paragraph(str(len(groups))) + capped_table(head_row, groups)


def _moments(charts: Charts, tally: _Tally) -> str:
    """Moments posts per day, their audiences, and the first posts one by one."""
    posts = tally.posts
    if not posts:
        return ""
    alt = charts.alt
    moments = top_accounts({(a, d): n for (d, a), n in tally.audiences.items()})
    mdata = [{"day": d, "account": a, "audience": n} for (a, d), n in moments.items()]
    chart = charts.chart(mdata).mark_bar().encode(
        x=alt.X("day:O", title=t("day")), y=alt.Y("sum(audience):Q", title=t("audience")),
        color=alt.Color("account:N", title=t("account")),
    ).properties(width=640, height=180, title=t("Moments: audience per day (posts stacked)"))  # fmt: skip
    rows = [[d, n] for d, n in sorted(posts.items())]
    total = sum(posts.values())
    per_post = table([t("at"), t("account"), t("content"), t("audience")], tally.post_rows)  # the first ROWS
    rest = total - len(tally.post_rows)
    more = paragraph(t("and {n} more", n=rest)) if rest > 0 else ""
    return (charts.svg(chart) + table([t("day"), t("posts")], rows)
            + f"<h3>{html.escape(t('Audience per post'))}</h3>" + per_post + more)  # fmt: skip


def _deferred_and_skipped(tally: _Tally) -> str:
    """Deferred and skipped touches by reason, the contacts named (up to NAMED)."""
    items = []
    for (outcome, reason), n in sorted(tally.reasons.items(), key=lambda kv: -kv[1]):
        who = tally.named[(outcome, reason)]
        rest = n - len(who)
        more = f" … {t('and {n} more', n=rest)}" if rest > 0 else ""
        items.append(f"<details><summary>{html.escape(outcome)} · {html.escape(reason)}: {n}</summary>"
                     f"<p class='named'>{html.escape(' '.join(who))}{html.escape(more)}</p></details>")  # fmt: skip
    return "".join(items)


def _lookup(timeline: dict[str, list[list[str]]]) -> str:
    """The per-contact timeline lookup: a contact id typed in shows its touches."""
    lookup = json.dumps(timeline, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return (
        f"<input id='who' placeholder='{html.escape(t('contact id'))}'> <pre id='line'></pre>"
        f"<script>const TL={lookup};const w=document.getElementById('who');"
        "w.addEventListener('input',()=>{const r=TL[w.value.trim()];"
        "document.getElementById('line').textContent=r?r.map(x=>x.join('  ')).join('\\n'):'';});</script>"
    )
