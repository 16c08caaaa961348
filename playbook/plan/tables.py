"""What `playbook plan` shows people: the summary line, per-day and per-account tables, the
service levels, one contact's timeline.

They show the touch reasons in the operator's language (`vocab.reasons`: each reason's code
gives its text); the JSON (plan/jsonwriter.py) keeps them in English.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from playbook.i18n import N_, t, tn
from playbook.plan.notes import render_drawn, render_warnings
from playbook.plan.part import PlanResult, sla_totals
from playbook.plan.touches import touches_of
from playbook.vocab.localtime import iso
from playbook.vocab.model import DEFERRED, OK, SKIPPED, StateEvent, flow_keys
from playbook.vocab.reasons import reason_text

CHANNELS = ("dm", "group", "moment", "task")
# Column headers of the tables.
CHANNEL_WORDS = {"dm": N_("dm"), "group": N_("group posts"), "moment": N_("moments"), "task": N_("tasks")}
# The summary line's counts, (singular, plural); {count} is the number with thousands separators.
CHANNEL_COUNTS = {
    "dm": (N_("{count} dm"), N_("{count} dm")),
    "group": (N_("{count} group post"), N_("{count} group posts")),
    "moment": (N_("{count} moment"), N_("{count} moments")),
    "task": (N_("{count} task"), N_("{count} tasks")),
}
OUTCOME_WORDS = {OK: N_("ok"), DEFERRED: N_("deferred"), SKIPPED: N_("skipped")}
SEPARATOR = N_("; ")  # between reasons, and between the parts of the summary line


def summary_line(result: PlanResult) -> str:
    """Like `terraform plan`: '1,204 dm · 36 group posts · 90 moments · 412 tasks; …'."""
    going: Counter[str] = Counter()
    deferred: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for (_, _, channel, outcome, cause), n in result.counts().items():
        if outcome != SKIPPED:
            going[channel] += n
        if outcome == DEFERRED:
            deferred[cause] += n
        elif outcome == SKIPPED:
            skipped[cause] += n
    parts = [tn(*CHANNEL_COUNTS[c], going[c], count=f"{going[c]:,}") for c in CHANNELS]
    tail = [t("{count} deferred by {cause}", count=f"{n:,}", cause=_cause_text(c)) for c, n in sorted(deferred.items())]
    tail += [t("{count} skipped by {cause}", count=f"{n:,}", cause=_cause_text(c)) for c, n in sorted(skipped.items())]
    line = " · ".join(parts)
    return t("{counts}; {causes}", counts=line, causes=t(SEPARATOR).join(tail)) if tail else line


# The causes the summary groups reasons into.
CAUSES = {
    "quiet hours": N_("quiet hours"),
    "limits": N_("limits"),
    "missing fields": N_("missing fields"),
    "exits": N_("exits"),
}


def _cause_text(cause: str) -> str:
    return t(CAUSES[cause]) if cause in CAUSES else reason_text(cause)


def counts_by(result: PlanResult, key: str) -> dict[str, Counter[str]]:
    """Per day (local date) or per account: touches by channel and outcome."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for (day, account, channel, outcome, _), n in result.counts().items():
        row = day if key == "day" else (account or "—")
        if outcome != SKIPPED:
            table[row][channel] += n
        table[row][outcome] += n
    return dict(sorted(table.items()))


def render_tables(result: PlanResult, console: Any) -> None:
    from playbook.tables import print_table

    span = f"{iso(result.start, result.clock)} → {iso(result.end, result.clock)}"
    head = t("Plan {version}  {span}", version="\0", span=span)
    console.print(_styled(head, result.version, style="", title=True))
    console.print(summary_line(result), markup=False)
    render_drawn(result, console)
    names = {a: (rec.get("name") or a) for a, rec in result.contacts.accounts.items()}
    if result.service_levels:
        totals = sla_totals(result.service_levels)
        console.print(t("service levels: {met} met · {late} late · {missed} missed", met=f"{totals['met']:,}",
                        late=f"{totals['late']:,}", missed=f"{totals['missed']:,}"), markup=False)  # fmt: skip
        print_table(console, sla_table(result.service_levels, names))
    for key, title, header in (("day", N_("per day"), N_("day")), ("account", N_("per account"), N_("account"))):
        print_table(console, counts_table(result, key, t(title), t(header), names))
    if result.metrics:
        print_table(console, journeys_table(result))
    render_warnings(result, console)
    render_problems(result, console)


def counts_table(result: PlanResult, key: str, title: str, header: str, names: dict[str, str]) -> Any:
    """Touches by channel, deferred and skipped, per day or per account (`key`, as counts_by)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column(header)
    for c in CHANNELS:
        table.add_column(t(CHANNEL_WORDS[c]), justify="right")
    for o in (DEFERRED, SKIPPED):
        table.add_column(t(OUTCOME_WORDS[o]), justify="right")
    for row, counts in counts_by(result, key).items():
        label = f"{row} {names.get(row, '')}".strip() if key == "account" and names.get(row, row) != row else row
        table.add_row(label, *(f"{counts.get(c, 0):,}" for c in (*CHANNELS, DEFERRED, SKIPPED)))
    return table


def journeys_table(result: PlanResult) -> Any:
    """Per journey: entered, goal, conversion, and the same by A/B arm."""
    from rich.table import Table

    table = Table(title=t("journeys"), title_justify="left")
    for col in (N_("journey"), N_("entered"), N_("goal"), N_("conversion"), N_("by arm")):
        table.add_column(t(col), justify="right" if col in ("entered", "goal", "conversion") else "left")
    no_goal = journeys_without_goal(result)
    for name, m in result.metrics.items():
        arms = ", ".join(f"{a} {v['goal']}/{v['entered']}" for a, v in m["by_arm"].items())
        if name in no_goal:  # not 0%: there is nothing to convert to (nor 0 goals in an arm)
            arms = ", ".join(f"{a} —/{v['entered']}" for a, v in m["by_arm"].items())
            table.add_row(name, f"{m['entered']:,}", "—", t("no goal"), arms)
        else:
            table.add_row(name, f"{m['entered']:,}", f"{m['goal']:,}", f"{m['conversion']:.1%}", arms)
    return table


def sla_table(service_levels: dict[str, dict[str, dict[str, int]]], names: dict[str, str]) -> Any:
    """Met / late / missed per staff account and SLA (the plan's `service_levels`, or the
    report's `service_levels_by_account`: the same shape), as a table."""
    from rich.table import Table

    table = Table(title=t("service levels per staff"), title_justify="left")
    for header in (N_("account"), N_("service level"), N_("met"), N_("late"), N_("missed")):
        table.add_column(t(header), justify="left" if header in ("account", "service level") else "right")
    rows = sorted((account, sla, c) for sla, accounts in service_levels.items() for account, c in accounts.items())
    for account, sla, c in rows:
        label = f"{account} {names[account]}" if names.get(account, account) != account else (account or "—")
        table.add_row(label, sla, *(f"{c.get(k, 0):,}" for k in ("met", "late", "missed")))
    return table


def account_caps(result: PlanResult) -> dict[str, int]:
    """Per channel (dm, task), the smallest `limit CHANNEL N per account per day` among the
    playbooks: what one staff account is meant to handle in a day."""
    caps: dict[str, int] = {}
    for pb in result.playbooks:
        for limit in pb.limits:
            if limit.scope == "account" and limit.period == "day" and limit.channel in ("dm", "task"):
                caps[limit.channel] = min(caps.get(limit.channel, limit.count), limit.count)
    return caps


def render_account_day(result: PlanResult, console: Any) -> None:
    """`plan --by account-day`: each account's dm and tasks sent per day, "dm/task" in a
    cell, marked "!" where one is over the account's daily cap (account_caps)."""
    from rich.table import Table

    from playbook.tables import print_table

    cells: dict[str, dict[str, Counter[str]]] = {}
    days: set[str] = set()
    for (day, account, channel, outcome, _), n in result.counts().items():
        if outcome == "ok" and channel in ("dm", "task"):
            cells.setdefault(account or "—", {}).setdefault(day, Counter())[channel] += n
            days.add(day)
    caps = account_caps(result)
    names = {a: (rec.get("name") or a) for a, rec in result.contacts.accounts.items()}
    cap_text = ", ".join(f"{t(CHANNEL_WORDS[c])} {n}" for c, n in sorted(caps.items())) or "—"
    table = Table(title=t("dm/tasks per account and day (caps: {caps})", caps=cap_text), title_justify="left")
    table.add_column(t("account"))
    ordered = sorted(days)
    for day in ordered:
        table.add_column(day[5:], justify="right")
    over = 0
    for account in sorted(cells):
        row = [f"{account} {names[account]}" if names.get(account, account) != account else account]
        for day in ordered:
            c = cells[account].get(day)
            if c is None:
                row.append("")
                continue
            mark = any(c[ch] > cap for ch, cap in caps.items())
            over += mark
            row.append(f"{c['dm']}/{c['task']}" + ("!" if mark else ""))
        table.add_row(*row)
    print_table(console, table)
    if over:
        console.print(t("{n} account-days over a cap (marked !)", n=over), style="red", markup=False)


def journeys_without_goal(result: PlanResult) -> set[str]:
    """The metrics keys of the journeys that declare no goal ("playbook/journey" when
    playbooks side by side share a journey name, as the metrics are keyed)."""
    pairs = {(pb.title or pb.name, name): j.goal is not None for pb in result.playbooks
             for name, j in pb.journeys.items()}  # fmt: skip
    keys = flow_keys(pairs)
    return {keys[pair] for pair, has in pairs.items() if not has}


def render_problems(result: PlanResult, console: Any) -> None:
    for p in result.problems:
        line = t("{file}:{row}: skipped row: {reason}", file=p.file, row=p.row, reason=p.message())
        console.print(line, style="yellow", markup=False, highlight=False)
    for e in result.unknown_contacts:
        line = t("event {type} for unknown contact '{contact}' ignored", type=e.type, contact=e.contact)
        console.print(line, style="yellow", markup=False, highlight=False)


def _styled(text: str, value: str, style: str = "bold", title: bool = False) -> Any:
    """A translated line as rich Text, `value` put in where `text` has a NUL, in `style`
    (with `title`, the words before it in bold): styles without markup in the catalogue."""
    from rich.text import Text

    before, _, after = text.partition("\0")
    if title:
        words = before.rstrip()
        return Text.assemble((words, "bold"), before[len(words) :], (value, style), after)
    return Text.assemble(before, (value, style), after)


def render_contact(result: PlanResult, contact: str, console: Any) -> bool:
    """One contact's timeline, oldest first, with the full rendered text of each touch.
    False when the contact is unknown."""
    from rich.text import Text

    from playbook.textcells import pad_cells
    from playbook.words import channel_word, event_details, event_label

    if contact not in result.contacts.fields:
        return False
    record = result.contacts.fields[contact]
    account = record.get("account", "—")
    head = t("{name} ({id}) · account {account}", name="\0", id=contact, account=account)
    console.print(_styled(head, str(record.get("name", contact))))
    clock = result.clock
    rows: list[tuple[int, int, Text, str]] = []
    for x in touches_of(result.touches, contact):
        style = {OK: "green", DEFERRED: "yellow", SKIPPED: "red"}[x.outcome]
        outcome = t(OUTCOME_WORDS[x.outcome])
        if x.reason:
            outcome = t("{outcome} ({reason})", outcome=outcome, reason=reason_text(x.reason))
        head = Text.assemble(
            (clock.local(x.at).strftime("%Y-%m-%d %H:%M"), "bold"),
            f"  {pad_cells(channel_word(x.channel), 6)} {x.flow} · {x.step}  ", (outcome, style),
        )  # fmt: skip
        if x.outcome == DEFERRED:
            head.append("  " + t("due {when}", when=clock.local(x.due).strftime("%m-%d %H:%M")), style="dim")
        rows.append((x.at, 1, head, x.text))
    inputs = [StateEvent(e.at, e.type, e.contact, None, e.data) for e in result.inputs if e.contact == contact]
    for e in [*inputs, *result.events]:
        if e.contact == contact:
            detail = event_details(e.type, e.data)  # the engine's records in words, inputs' fields as they are
            head = Text.assemble(
                (clock.local(e.at).strftime("%Y-%m-%d %H:%M"), "bold"), f"  {event_label(e.type)}",
                (f"  {e.flow or ''}", "cyan"),
            )  # fmt: skip
            rows.append((e.at, 0, head, detail))
    for _, _, head, body in sorted(rows, key=lambda r: (r[0], r[1])):
        console.print(head)
        for line in body.splitlines():
            console.print(f"      {line}", markup=False, highlight=False)
    return True
