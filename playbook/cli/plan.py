"""playbook plan PATH… --contacts FILE … — the dry-run: who gets what, when, from which
account, and what quiet hours and limits did to it. Nothing is sent."""

from __future__ import annotations

import gc
import os
import sys
from typing import Any

import click

from playbook.cli.columns import columns_option
from playbook.cli.common import EXIT_ERRORS, LateProgress, WholeNumber, console
from playbook.cli.common import write_text as _write
from playbook.i18n import t


@click.command(name="plan", help=t("Dry-run playbooks over contacts and events: the full timeline of touches."))
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--db",
    metavar="URL",
    help=t("Plan forward from a daemon's store as it is now (its contacts, journeys, held touches, limit counts)."),
)
@click.option(
    "--contacts",
    type=click.Path(),
    help=t("Contacts: CSV (tags split on '{separator}') or JSON Lines.", separator="; ； , ， 、 |"),
)
@click.option("--accounts", type=click.Path(), help=t("Staff accounts: CSV or JSON Lines with id, name, …."))
@click.option("--events", type=click.Path(), help=t("Events: JSON Lines {fields}.", fields="{type, contact, at, …}"))
@click.option(
    "--start", metavar="DT", help=t("Start (local time of the playbook), default today 00:00 (with --db: now).")
)
@click.option("--days", type=WholeNumber(1, 3660), default=7, show_default=True, help=t("Horizon in days."))
@click.option(
    "--simulate",
    metavar="K=P,…",
    help=t(
        "Draw events: {example}.", example="reply=0.3,purchase=0.05,delete=0.01,interaction=0.1,friend_added=30/day"
    ),
)
@click.option("--seed", type=WholeNumber(), default=0, show_default=True, help=t("Seed for --simulate."))
@click.option("--adapter", metavar="NAME", help=t("Apply an adapter's platform limits (e.g. wecom)."))
@click.option("--contact", "contact_id", metavar="ID", help=t("Show this contact's own timeline with rendered text."))
@click.option("--strict", is_flag=True, help=t("Any bad data row is fatal."))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "html"]),
    default="table",
    show_default=True,
    help=t("table for people, json for scripts, html for sharing."),
)
@click.option("--out", type=click.Path(), help=t("Write the output to this file instead of the terminal."))
@click.option(
    "--by",
    "by",
    type=click.Choice(["account-day"]),
    help=t("A table by staff account and day: dm/tasks, over-cap cells marked."),
)
@click.option(
    "--show-skipped", is_flag=True, help=t("List the skipped and deferred contacts by reason (after the tables).")
)
@columns_option
@click.option(
    "--workers",
    type=click.IntRange(0, 64),
    default=0,
    help=t("Processes that plan the accounts in parallel; 0 (the default): one per CPU for large contact files."),
)
def command(paths: tuple[str, ...], db: str | None, contacts: str | None, accounts: str | None, events: str | None,
            start: str | None, days: int, simulate: str | None, seed: int, adapter: str | None,
            contact_id: str | None, strict: bool, fmt: str, out: str | None, by: str | None, show_skipped: bool,
            workers: int, columns: str | None) -> None:  # fmt: skip
    """Dry-run playbooks over contacts and events: the full timeline of touches."""
    from playbook.plan import tables
    from playbook.plan.run import PlanInput, run_plan
    from playbook.plan.simulate import parse_simulation

    if db is not None:
        if contacts or accounts or events or simulate or columns:
            raise click.UsageError(t("--db plans from the store's contacts and events: leave out {options}",
                                     options="--contacts, --accounts, --events, --simulate, --columns"))  # fmt: skip
        result = _from_store(db, paths, start, days, adapter)
        _show(result, fmt, out, contact_id, by, show_skipped)
        return
    if not paths:
        raise click.UsageError(t("give the playbook's PATH (or --db URL to plan from a store)"))
    if contacts is None:
        raise click.UsageError(t("--contacts is needed (or --db URL to plan from a store)"))

    # A plan is one batch: what it builds lives until the end and forms no garbage cycles
    # worth collecting, while the collector's full passes over a multi-GB heap cost
    # minutes at a million contacts. The process exits right after.
    gc.disable()
    from playbook.cli.columns import column_pairs, say_column_notes

    pairs = column_pairs(columns)
    say_column_notes([(contacts, "contacts"), (accounts, "accounts"), (events, "events")], pairs)
    limits, can_dissolve = adapter_profile(adapter)
    simulation = parse_simulation(simulate)
    listing = show_skipped and fmt == "table" and not contact_id and by is None  # read back from the JSON lines
    spec = PlanInput(
        paths,
        contacts,
        accounts,
        events,
        start,
        days,
        simulation.odds,
        seed,
        limits,
        can_dissolve,
        keep_inputs=contact_id is not None,  # only a contact's timeline shows the input events
        workers=workers or auto_workers(contacts),
        output="json" if fmt in ("json", "html") or listing else "table",  # (json and html: the whole plan)
        contact=contact_id,
        columns=pairs,
        arrivals=simulation.arrivals,
    )
    with LateProgress(t("planning")) as progress:
        result = run_plan(spec, progress=progress.update)
    if events:
        from playbook.cli.columns import unheard_events
        from playbook.cli.common import print_diagnostics

        listened = {e for pb in result.playbooks for e in pb.events}
        print_diagnostics(unheard_events(result.event_types, listened, events), stderr=True)
    if strict and (result.problems or result.unknown_contacts):
        err = console(stderr=True)
        tables.render_problems(result, err)
        err.print(t("--strict: the data has problems; nothing planned"), style="red", markup=False)
        sys.exit(EXIT_ERRORS)
    _show(result, fmt, out, contact_id, by, show_skipped)


def _show(
    result: Any, fmt: str, out: str | None, contact_id: str | None, by: str | None = None, show_skipped: bool = False
) -> None:  # a plan.run.PlanResult
    """The plan's outputs: JSON, tables, a contact's timeline, HTML."""
    from playbook.plan import jsonwriter, tables

    if fmt == "json":
        if out is None:
            jsonwriter.write_json(result, sys.stdout)
        else:
            with open(out, "w", encoding="utf-8") as fh:
                jsonwriter.write_json(result, fh)
        if result.sections is not None:
            result.sections.close()
        return
    if fmt == "html" and not contact_id:
        _write(_html_page(result), out)
        return
    from playbook.textsafe import safe_console

    screen = safe_console(
        record=fmt == "html" or out is not None, highlight=False, soft_wrap=True, file=None if out is None else _Null()
    )
    if contact_id:
        if not tables.render_contact(result, contact_id, screen):
            console(stderr=True).print(t("no contact '{id}' in the plan", id=contact_id), style="red", markup=False)
            sys.exit(EXIT_ERRORS)
    elif by == "account-day":
        tables.render_account_day(result, screen)
    else:
        tables.render_tables(result, screen)
        if show_skipped:
            _list_skipped(result, screen)
    if fmt == "html":
        _write(screen.export_html(), out)
    elif out is not None:
        _write(screen.export_text(), out)


def _list_skipped(result: Any, screen: Any) -> None:  # a plan.run.PlanResult
    """`--show-skipped`: the touches read back from the plan's JSON lines (a plan made in
    shards keeps no touches of its own), grouped by reason."""
    import tempfile

    from playbook.plan import jsonwriter
    from playbook.plan.html import read_plan
    from playbook.plan.notes import render_skipped, skipped_by_reason

    with tempfile.TemporaryFile("w+", encoding="utf-8") as fh:
        jsonwriter.write_json(result, fh)
        if result.sections is not None:
            result.sections.close()
        fh.seek(0)
        _, _, touches = read_plan(fh)
        groups = skipped_by_reason(touches)
    render_skipped(groups, screen)


def _html_page(result: Any) -> str:  # a plan.run.PlanResult
    """The manager's page (plan/html.py), made from the JSON contract."""
    import tempfile

    from playbook.plan import jsonwriter, tables
    from playbook.plan.html import MissingCharts, read_plan, render_html

    title = " + ".join(pb.title or pb.name for pb in result.playbooks)
    try:
        with tempfile.TemporaryFile("w+", encoding="utf-8") as fh:  # the JSON, read back a line at a time
            jsonwriter.write_json(result, fh)
            if result.sections is not None:
                result.sections.close()
            fh.seek(0)
            head, events, touches = read_plan(fh)
            if result.drawn is not None and "simulated" not in head:  # what --simulate drew, also at odds alone
                from playbook.plan.notes import drawn_json

                head["simulated"] = drawn_json(result)
            page = render_html(head, events, touches, title, tables.journeys_without_goal(result),
                               tables.account_caps(result))  # fmt: skip
    except MissingCharts:
        console(stderr=True).print(t("--format html draws charts: install playbook[html]"), style="red", markup=False)
        sys.exit(EXIT_ERRORS)
    from playbook.textsafe import escape_controls

    return escape_controls(page)  # a data value's control characters shown, not obeyed (the page may go to stdout)


def _from_store(db: str, paths: tuple[str, ...], start: str | None, days: int, adapter: str | None) -> Any:
    """`plan --db`: the store's state now, run forward (runtime/forecast.py), as a plan."""
    import datetime as dt
    import time

    from playbook.cli.common import fail
    from playbook.cli.store_options import reading_store
    from playbook.diagnostics import PlaybookError
    from playbook.plan.run import JourneyCounts, PlanResult, metric_parts, metrics, parse_start, sla_outcomes
    from playbook.plan.touches import PlannedTouches
    from playbook.runtime.decide import current_documents
    from playbook.runtime.forecast import forecast
    from playbook.vocab.localtime import LocalTime

    limits, can_dissolve = adapter_profile(adapter)
    try:
        with reading_store(db) as store:
            if paths:
                from playbook.compiler import load_playbooks

                timezone = load_playbooks(paths)[-1].playbook.timezone
            else:
                timezone = current_documents(store)[-1]["timezone"]
            clock = LocalTime(timezone)
            now = int(time.time())
            begin = now if start is None else parse_start(start, clock, lambda: dt.datetime.fromtimestamp(now, dt.UTC))
            with LateProgress(t("planning")):
                fc = forecast(store, list(paths), begin, begin + days * 86400, shared_limits=limits,
                              can_dissolve_groups=can_dissolve)  # fmt: skip
    except PlaybookError as exc:
        fail(exc)
    current = [pb for pb in fc.playbooks if pb.version in fc.current]
    counts = metric_parts(fc.engines[0], since=fc.start)
    if len(fc.engines) > 1:  # a store with shards: every shard's engine, added up as plan/shards.py does
        parts: dict[str, JourneyCounts] = {}
        for engine in fc.engines:
            for key, journey in metric_parts(engine, since=fc.start).items():
                parts.setdefault(key, JourneyCounts()).add(journey)
        counts = dict(sorted(parts.items()))
    fields = fc.contacts.fields
    for event in fc.events:
        event.account = event.data.get("account") if event.contact is None else \
            fields.get(event.contact, {}).get("account")  # fmt: skip
    inputs = [e for e in fc.inputs if fc.start <= e.at < fc.end]
    return PlanResult(current, clock, fc.start, fc.end, PlannedTouches(fc.touches), fc.events, metrics(counts), [],
                      fc.unknown_contacts, fc.contacts, inputs, metric_counts=counts,
                      service_levels=sla_outcomes(fc.events, fc.playbooks))  # fmt: skip


# Below this size a contacts file is planned in one process: starting workers (each reads
# every file) costs more than it saves (bench/README.md, "Plan benchmark").
SHARD_FROM_BYTES = 4 * 2**20


def auto_workers(contacts: str) -> int:
    """One worker per CPU this process may use, for a large contacts file; else one."""
    try:
        large = os.path.getsize(contacts) >= SHARD_FROM_BYTES
    except OSError:
        return 1  # the plan says what is wrong with the file
    if not large:
        return 1
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def adapter_profile(name: str | None) -> tuple[list, bool]:
    """The platform limits an adapter declares, and whether it can dissolve groups."""
    if name is None:
        return [], True
    from playbook.adapters.registry import capabilities_of

    caps = capabilities_of(name)
    return list(caps.limits), caps.dissolve_groups


class _Null:
    """A file that swallows writes (the console only records, for --out)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass
