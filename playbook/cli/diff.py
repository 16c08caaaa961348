"""playbook diff OLD NEW [--contacts … --accounts … --events …] [--days N] [--start T] — the
impact of a change before it is made: the graph changes (compiled IR against compiled IR,
not text), and over sample data the touches the change adds, removes and changes, per
journey and channel with examples, and the first-hour burst.

Exit status as `terraform plan -detailed-exitcode`: 0 the change alters nothing that is
sent, 2 it does, 1 an error (a usage error too — not click's usual 2, which would read as
"changes"). Without data files every graph change counts as altering what is sent; with
them, what the two plans send decides."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import click

from playbook.cli.common import EXIT_ERRORS, EXIT_OK, console, fail
from playbook.diagnostics import PlaybookError
from playbook.i18n import N_, t, tn

EXIT_CHANGES = 2

OPS = {"added": ("+", "green", N_("added")), "removed": ("-", "red", N_("removed")),
       "changed": ("~", "yellow", N_("changed"))}  # fmt: skip
KIND_WORDS = {
    "playbook": N_("playbook"), "limit": N_("limit"), "segment": N_("segment"), "content": N_("content"),
    "journey": N_("journey"), "step": N_("step"), "group": N_("group"), "moments": N_("moments"),
    "rotation": N_("rotation"), "sla": N_("SLA"),
}  # fmt: skip
# What about a thing changed (compiler/changes.py), as shown.
ASPECT_WORDS = {
    "timing": N_("timing"), "content": N_("content"), "text": N_("text"), "condition": N_("condition"),
    "split": N_("split"), "kind": N_("kind"), "order": N_("order"), "label": N_("label"), "count": N_("count"),
    "action": N_("action"), "entry": N_("entry"), "exits": N_("exits"), "reenter": N_("re-entry"), "goal": N_("goal"),
    "priority": N_("priority"), "opens": N_("opens"), "members": N_("members"), "title": N_("title"),
    "size": N_("size"), "lasts": N_("lasts"), "invite": N_("invite"), "timezone": N_("timezone"),
    "quiet": N_("quiet hours"), "visible": N_("visible to"), "within": N_("within"), "period": N_("period"),
    "expr": N_("definition"), "image": N_("images"), "trigger": N_("trigger"), "answer": N_("answer"),
    "during": N_("during"), "link": N_("link"),
}  # fmt: skip
DIFFERENCE_WORDS = {"time": N_("time"), "text": N_("text"), "account": N_("account"), "channel": N_("channel")}


class _Command(click.Command):
    """Usage errors exit 1 here: 2 means "the change alters what is sent"."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            exc.exit_code = EXIT_ERRORS
            raise


@click.command(name="diff", cls=_Command,
               help=t("The impact of a change: graph changes, and over data the touches added, removed and changed."))  # fmt: skip
@click.argument("old", type=click.Path())
@click.argument("new", type=click.Path())
@click.option("--db", metavar="URL",
              help=t("Plan both versions forward from a daemon's store as it is now (as `plan --db`)."))  # fmt: skip
@click.option("--contacts", type=click.Path(), help=t("Contacts to plan both versions over (as `plan --contacts`)."))
@click.option("--accounts", type=click.Path(), help=t("Staff accounts: CSV or JSON Lines with id, name, …."))
@click.option("--events", type=click.Path(), help=t("Events: JSON Lines {fields}.", fields="{type, contact, at, …}"))
@click.option("--start", metavar="DT",
              help=t("Start (local time of the playbook), default today 00:00 (with --db: now)."))  # fmt: skip
@click.option("--days", type=click.IntRange(1, 3660), default=7, show_default=True, help=t("Horizon in days."))
@click.option("--adapter", metavar="NAME", help=t("Apply an adapter's platform limits (e.g. wecom)."))
@click.option("--examples", type=click.IntRange(0, 100), default=3, show_default=True,
              help=t("Examples shown of each kind of difference."))  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help=t("table for people, json for scripts."))  # fmt: skip
def command(old: str, new: str, db: str | None, contacts: str | None, accounts: str | None, events: str | None, start: str | None,
            days: int, adapter: str | None, examples: int, fmt: str) -> None:  # fmt: skip
    """The impact of a change: graph changes, and the touches it adds, removes and changes."""
    from playbook.compiler import compile_path
    from playbook.compiler.changes import graph_changes

    results = [compile_path(old), compile_path(new)]
    if any(not r.ok for r in results):
        fail(PlaybookError([d for r in results if not r.ok for d in r.diagnostics]))
    docs = [r.doc for r in results]
    assert docs[0] is not None and docs[1] is not None
    changes = graph_changes(docs[0], docs[1])
    if (accounts or events) and not contacts:
        fail(PlaybookError([_option_error(t("--accounts and --events need --contacts"))]))
    if db is not None and (contacts or accounts or events):
        fail(PlaybookError([_option_error(t("--db plans from the store's contacts and events: leave out {options}",
                                            options="--contacts, --accounts, --events"))]))  # fmt: skip
    the_effect = None
    in_flight_doc = None
    plans: list[Any] = []
    if db is not None:
        the_effect, in_flight_doc = _from_store(db, old, new, docs[1]["timezone"], start, days, adapter)
    elif contacts:
        from playbook.cli.plan import adapter_profile
        from playbook.plan.diff import effect

        try:
            limits, can_dissolve = adapter_profile(adapter)
        except PlaybookError as exc:
            fail(exc)
        planner = FilesPlanner(old, new, contacts, accounts, events, start, days, limits, can_dissolve)
        plans = planner.results
        try:
            the_effect = effect(planner)
        except PlaybookError as exc:
            fail(exc)
    alters = the_effect.alters_sending if the_effect is not None else bool(changes)
    if fmt == "json":
        doc = _doc(old, new, docs, changes, the_effect, examples, alters)
        if db is not None:
            doc["in_flight"] = in_flight_doc
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        out = console()
        _render(out, old, new, docs, changes, the_effect, examples, alters, in_flight_doc)
        if plans:
            from playbook.plan.tables import render_problems

            render_problems(plans[-1], console(stderr=True))
    sys.exit(EXIT_CHANGES if alters else EXIT_OK)


class FilesPlanner:
    """A way to plan each side over data files: the `plan` command's run, the same start for
    both; keeps the plans (their data problems are reported once)."""

    def __init__(self, old: str, new: str, contacts: str, accounts: str | None, events: str | None,
                 start: str | None, days: int, limits: Any = (), can_dissolve: bool = True) -> None:  # fmt: skip
        self.paths = {"old": old, "new": new}
        self.data = (contacts, accounts, events, start, days)
        self.adapter = (limits, can_dissolve)  # an adapter's platform limits, as `plan --adapter`
        self.moment = dt.datetime.now(dt.UTC)  # "today" once, for both sides
        self.results: list[Any] = []  # plan.run.PlanResult

    def __call__(self, side: str) -> Any:  # -> plan.diff.Side
        from playbook.plan.diff import Side
        from playbook.plan.run import PlanInput, run_plan

        contacts, accounts, events, start, days = self.data
        limits, can_dissolve = self.adapter
        spec = PlanInput([self.paths[side]], contacts, accounts, events, start, days, adapter_limits=limits,
                         can_dissolve_groups=can_dissolve, workers=1, keep_inputs=False)  # fmt: skip
        result = run_plan(spec, now=lambda: self.moment)
        self.results.append(result)
        return Side(result.touches, result.start, result.end, result.clock)


class StorePlanner:
    """Each side forecast from a daemon's store as it is now (runtime/forecast.py, as `plan
    --db`): OLD as if it stays loaded, NEW as a reload would load it — older versions finish
    what their contacts started, the new one takes over. Nothing is written to the store."""

    def __init__(self, store: Any, old: str, new: str, start: int, end: int, limits: Any = (),
                 can_dissolve: bool = True) -> None:  # fmt: skip
        self.store, self.paths = store, {"old": old, "new": new}
        self.start, self.end = start, end
        self.adapter = (limits, can_dissolve)

    def __call__(self, side: str) -> Any:  # -> plan.diff.Side
        from playbook.plan.diff import Side
        from playbook.runtime.forecast import forecast
        from playbook.vocab.localtime import LocalTime

        limits, can_dissolve = self.adapter
        fc = forecast(self.store, [self.paths[side]], self.start, self.end, shared_limits=limits,
                      can_dissolve_groups=can_dissolve)  # fmt: skip
        current = [pb for pb in fc.playbooks if pb.version in fc.current]
        return Side(fc.touches, fc.start, fc.end, LocalTime(current[-1].timezone))


def in_flight(store: Any, new: str, start: int, limits: Any = (), can_dissolve: bool = True) -> dict[str, Any]:
    """Contacts mid-journey in older versions when NEW is loaded at `start`: they finish the
    version they entered; `would_move`: how many `run --migrate` would move onto NEW (at the
    same step, where it still exists and no touch of theirs is held)."""
    from playbook.runtime.decide import Decider

    by_journey: dict[str, int] = {}
    moved = 0
    count = store.shard_count()
    docs = Decider(store, [new]).compile()
    for view in [store] if count == 1 else [store.view(shard) for shard in range(count)]:  # each shard's engine
        for migrate in (False, True):
            decider = Decider(view, [new], shared_limits=limits, can_dissolve_groups=can_dissolve)
            report = decider.build(start, docs, migrate=migrate, sink=lambda record: None)
            if migrate:
                moved += report.migrated
                break
            assert decider.engine is not None
            for flows in decider.engine.flows:
                if not flows.retired:
                    continue
                for name, run in flows.journeys.items():
                    n = sum(1 for history in run.history.values() if history and history[-1].status == "active")
                    if n:
                        by_journey[name] = by_journey.get(name, 0) + n
    return {"mid_journey": sum(by_journey.values()), "by_journey": dict(sorted(by_journey.items())),
            "would_move": moved}  # fmt: skip


def _from_store(db: str, old: str, new: str, timezone: str, start: str | None, days: int,
                adapter: str | None) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """`diff --db`: both sides forecast from the store now (or at --start), and who is mid-journey."""
    import time

    from playbook.cli.plan import adapter_profile
    from playbook.cli.store_options import reading_store
    from playbook.plan.diff import effect
    from playbook.plan.run import parse_start
    from playbook.vocab.localtime import LocalTime

    try:
        limits, can_dissolve = adapter_profile(adapter)
        with reading_store(db) as store:
            now = int(time.time())
            begin = now if start is None else parse_start(start, LocalTime(timezone),
                                                          lambda: dt.datetime.fromtimestamp(now, dt.UTC))  # fmt: skip
            the_effect = effect(StorePlanner(store, old, new, begin, begin + days * 86400, limits, can_dissolve))
            return the_effect, in_flight(store, new, begin, limits, can_dissolve)
    except PlaybookError as exc:
        fail(exc)
        raise


def _option_error(message: str) -> Any:
    from playbook.diagnostics import ERROR, Diagnostic

    return Diagnostic(ERROR, "option", message)


# ---- JSON --------------------------------------------------------------------------------------------------


def _doc(old: str, new: str, docs: list[Any], changes: list[Any], the_effect: Any, examples: int,
         alters: bool) -> dict[str, Any]:  # fmt: skip
    from playbook.plan.diff import effect_doc

    return {
        "old": {"path": old, "version": docs[0]["version"]},
        "new": {"path": new, "version": docs[1]["version"]},
        "changes": [c.as_dict() | ({"tightened": True} if c.tightened else {}) for c in changes],
        "effect": effect_doc(the_effect, examples) if the_effect is not None else None,
        "alters_sending": alters,
    }


# ---- the table ---------------------------------------------------------------------------------------------


def _render(out: Any, old: str, new: str, docs: list[Any], changes: list[Any], the_effect: Any, examples: int,
            alters: bool, in_flight_doc: dict[str, Any] | None = None) -> None:  # fmt: skip

    line = lambda text, style="": out.print(text, style=style, markup=False, highlight=False)  # noqa: E731
    line(t("old {path}  {version}", path=old, version=docs[0]["version"]), "bold")
    line(t("new {path}  {version}", path=new, version=docs[1]["version"]), "bold")
    if not changes:
        line(t("no graph changes: both compile to the same meaning"))
    else:
        line(t("graph changes ({n})", n=len(changes)), "bold")
        for c in changes:
            sign, style, _ = OPS[c.op]
            head = f"{sign} {t(KIND_WORDS.get(c.kind, c.kind))} {c.name}"
            if c.op == "changed":
                aspects = t("; ").join(t(ASPECT_WORDS[a]) if a in ASPECT_WORDS else a for a in c.aspect.split(", "))
                head += f"  ({aspects})" + (" " + t("tightened") if c.tightened else "")
            line(_clip(head), style)
            if c.op != "added":
                line(_clip(f"    - {c.old or '—'}"), "red" if c.op == "removed" else "")
            if c.op != "removed":
                line(_clip(f"    + {c.new or '—'}"), "green" if c.op == "added" else "")
    if the_effect is None:
        line(t("no data given (--contacts …): every graph change counts as altering what is sent"), "dim")
    else:
        _render_effect(out, line, the_effect, examples)
        if in_flight_doc is None:
            line(t("mid-journey: none (a plan from data files starts with nobody mid-journey)"), "dim")
        else:
            line(t("mid-journey in older versions: {n} (they finish the version they entered)",
                   n=f"{in_flight_doc['mid_journey']:,}"))  # fmt: skip
            line("  " + t("{m} of them would move to the new version with `run --migrate`",
                          m=f"{in_flight_doc['would_move']:,}"))  # fmt: skip
    line(t("the change alters what is sent (exit 2)") if alters else t("the change alters nothing that is sent (exit 0)"),
         "yellow" if alters else "green")  # fmt: skip


def _render_effect(out: Any, line: Any, e: Any, examples: int) -> None:
    from rich.table import Table

    from playbook.plan.diff import NEW, OLD
    from playbook.plan.tables import CHANNEL_WORDS, CHANNELS, OUTCOME_WORDS
    from playbook.vocab.localtime import iso
    from playbook.vocab.reasons import reason_text

    c = e.clock
    days = (e.end - e.start) // 86400
    line(t("effect over {start} → {end} ({days})", start=iso(e.start, c), end=iso(e.end, c),
           days=tn("{n} day", "{n} days", days)), "bold")  # fmt: skip
    line(t("touches that go out: {old} → {new} ({added} added, {removed} removed, {changed} changed)",
           old=f"{e.sent[OLD]:,}", new=f"{e.sent[NEW]:,}", added=f"{len(e.added):,}", removed=f"{len(e.removed):,}",
           changed=f"{len(e.changed):,}"))  # fmt: skip
    rows = e.by_flow()
    if rows:
        table = Table(title=t("per journey and channel"), title_justify="left")
        table.add_column(t("journey"), overflow="fold")
        table.add_column(t("channel"))
        for word in ("added", "removed", "changed"):
            table.add_column(t(OPS[word][2]), justify="right")
        for (flow, channel), n in rows.items():
            table.add_row(flow, t(CHANNEL_WORDS.get(channel, channel)), f"{n['added']:,}", f"{n['removed']:,}",
                          f"{n['changed']:,}")  # fmt: skip
        out.print(table)
    shown = [("added", [(b, None, []) for _, b in e.added]), ("removed", [(a, b, []) for a, b in e.removed]),
             ("changed", [(b, a, what) for a, b, what in e.changed])]  # fmt: skip
    if examples and any(items for _, items in shown):
        line(t("examples"), "bold")
        for op, items in shown:
            sign, style, _ = OPS[op]
            for x, before, what in items[:examples]:
                whom = x.contact or x.group or "—"
                if x.account:
                    whom = f"{whom} ({x.account})"
                when = c.local(x.at).strftime("%Y-%m-%d %H:%M")
                line(_clip(f"{sign} {when}  {x.channel:<6} {whom}  {x.flow} · {x.step}"), style)
                if op == "removed":  # `before` is the new version's touch, if it has one
                    if x.text:
                        line(_clip("    " + _one_line(x.text)), "dim")
                    if before is not None:
                        outcome = t(OUTCOME_WORDS.get(before.outcome, before.outcome))
                        if before.reason:
                            outcome = t("{outcome} ({reason})", outcome=outcome, reason=reason_text(before.reason))
                        line(_clip("    " + t("new version: {outcome}", outcome=outcome)))
                elif before is not None:
                    for word in what:
                        if word == "time":
                            old_v, new_v = c.local(before.at).strftime("%Y-%m-%d %H:%M"), when
                        elif word == "text":
                            line(_clip("    " + t("{aspect}:", aspect=t(DIFFERENCE_WORDS[word]))))
                            line(_clip("      - " + _one_line(before.text)), "red")
                            line(_clip("      + " + _one_line(x.text)), "green")
                            continue
                        else:
                            old_v, new_v = str(getattr(before, word) or "—"), str(getattr(x, word) or "—")
                        line(_clip("    " + t("{aspect}: {old} → {new}", aspect=t(DIFFERENCE_WORDS[word]), old=old_v,
                                                  new=new_v)))  # fmt: skip
                    if (x.outcome, x.reason) != (before.outcome, before.reason):
                        outcome = t(OUTCOME_WORDS.get(x.outcome, x.outcome))
                        if x.reason:
                            outcome = t("{outcome} ({reason})", outcome=outcome, reason=reason_text(x.reason))
                        line(_clip("    " + t("new version: {outcome}", outcome=outcome)))
                elif x.text:
                    line(_clip("    " + _one_line(x.text)), "dim")
    burst = []
    for side in (OLD, NEW):
        counts = e.burst.get(side, {})
        parts = ", ".join(f"{t(CHANNEL_WORDS[ch])} {counts[ch]:,}" for ch in CHANNELS if counts.get(ch))
        burst.append(f"{sum(counts.values()):,}" + (f" ({parts})" if parts else ""))
    line(t("first hour: {old} → {new} touches", old=burst[0], new=burst[1]))
    peaks = [f"{e.peak[side][1]:,} ({c.local(e.peak[side][0]).strftime('%m-%d %H:%M')})" if e.peak[side][1] else "0"
             for side in (OLD, NEW)]  # fmt: skip
    line(t("busiest hour: {old} → {new} touches", old=peaks[0], new=peaks[1]))


def _one_line(text: str) -> str:
    return text.replace("\n", "⏎")


WIDTH = 80  # the table output fits an 80-column terminal: longer lines are cut with "…"


def _clip(text: str, width: int = WIDTH) -> str:
    """`text` cut to `width` terminal cells (wide characters take two)."""
    from playbook.textcells import cell_width

    if cell_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = cell_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"
