"""playbook status [--db URL] [--format table|json] — what the daemon's store holds now:
pending timers, the ledger by state, events by status, dead letters and the last errors.

Also the store opening that status, report and explain share: they only read, so a store
that does not exist yet is an error, not a new empty file."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from playbook.cli.common import console, fail
from playbook.cli.store_options import db_option, reading_store
from playbook.i18n import N_, t

if TYPE_CHECKING:
    from playbook.runtime.store import Store

# Ledger states, event statuses and enrolment statuses, as column headers.
STATE_WORDS = {
    "held": N_("held"),
    "pending": N_("pending"),
    "sending": N_("sending"),
    "sent": N_("sent"),
    "failed": N_("failed"),
    "skipped": N_("skipped"),
    "unknown": N_("unknown"),
    "dead": N_("dead"),
    "new": N_("new"),
    "processed": N_("processed"),
    "rejected": N_("rejected"),
    "active": N_("active"),
    "done": N_("done"),
    "exited": N_("exited"),
}

HELP_FORMAT = {"table": N_("table for people, json for scripts."), "text": N_("text for people, json for scripts.")}


def format_option(people: str = "table") -> Callable[[Any], Any]:
    """--format PEOPLE|json: `people` (table or text) is the default."""
    return click.option("--format", "fmt", type=click.Choice([people, "json"]), default=people, show_default=True,
                        help=t(HELP_FORMAT[people]))  # fmt: skip


def show(db: str | None, fmt: str, build: Callable[[Store], dict[str, Any]],
         render: Callable[[dict[str, Any], Any], None]) -> None:  # fmt: skip
    """Build a document from the store and print it: stable JSON (sorted keys) for scripts,
    `render` on the terminal's console for people."""
    from playbook.diagnostics import PlaybookError

    try:
        with reading_store(db) as store:
            doc = build(store)
    except PlaybookError as exc:
        fail(exc)
        return
    if fmt == "json":
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        render(doc, console())


@click.command(name="status", help=t("What the store holds: pending timers, the ledger by state, dead letters."))
@db_option
@format_option()
def command(db: str | None, fmt: str) -> None:
    from playbook.runtime.report import status

    show(db, fmt, status, render)


def _counts_table(title: str, counts: dict[str, int]) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for state in counts:
        table.add_column(t(STATE_WORDS.get(state, state)), justify="right")
    table.add_row(*(str(n) for n in counts.values()))
    return table


def render(doc: dict[str, Any], out: Any) -> None:
    """The status as tables on a rich console."""
    from rich.table import Table

    from playbook.runtime.report import local_time as short_time  # times to the second, with the offset
    from playbook.tables import print_table

    versions = ", ".join(f"{v['name']} ({v['version']})" for v in doc["versions"]) or t("none")
    out.print(t("active playbooks: {versions}", versions=versions), markup=False, highlight=False)
    timers = doc["timers"]
    out.print(t("timers pending: {count} (next due {when})", count=timers["pending"],
                when=short_time(timers["next_due"])), markup=False, highlight=False)  # fmt: skip
    contacts = doc["contacts"]
    out.print(t("contacts: {total} ({deleted} deleted) · accounts: {accounts}", total=contacts["total"],
                deleted=contacts["deleted"], accounts=doc["accounts"]), markup=False, highlight=False)  # fmt: skip
    for held in doc.get("held") or []:  # one line per reason an adapter holds touches back
        out.print(t("⚠ {n} touches held: {reason}", n=held["touches"], reason=held["reason"]), markup=False,
                  highlight=False, style="yellow")
    writer = doc.get("writer")
    out.print(t("daemon: {host} pid {pid}, since {since}", host=writer["host"], pid=writer["pid"],
                since=short_time(writer["since"])) if writer else t("daemon: none running on this store"),
              markup=False, highlight=False)  # fmt: skip
    if doc.get("deployment"):
        _render_deployment(doc["deployment"], out, short_time)
    out.print(_counts_table(t("ledger"), doc["touches"]))
    out.print(_counts_table(t("events"), doc["events"]))
    out.print(_counts_table(t("enrolments"), doc["enrolments"]))
    from playbook.cli.approve import render_approvals

    render_approvals(doc.get("approvals", []), out)
    for key, title in (("dead", t("dead letters (latest)")), ("errors", t("last errors"))):
        rows = doc[key]
        if not rows:
            continue
        table = Table(title=title, title_justify="left")
        for header in (t("when"), t("state"), t("flow · step"), t("to"), t("attempts"), t("error"), t("retry at")):
            table.add_column(header, overflow="fold")
        for r in rows:
            to = r["contact"] or r["group"] or ""
            if r["account"]:
                to = f"{to} ({r['account']})" if to else r["account"]
            table.add_row(short_time(r["updated_at"]), t(STATE_WORDS.get(r["state"], r["state"])),
                          f"{r['flow']} · {r['step']}", to, str(r["attempts"]), r["error"] or "",
                          short_time(r["next_attempt_at"]) if r["next_attempt_at"] else "")  # fmt: skip
        print_table(out, table)
    refused = doc.get("reload_refused")
    if refused:  # what the daemon logged: `playbook check`'s text for the files it refused
        out.print(t("reload refused at {when}, the running versions carry on:", when=short_time(refused["at"])),
                  style="red", markup=False, highlight=False)  # fmt: skip
        out.print(refused["text"], markup=False, highlight=False)


def _render_deployment(dep: dict[str, Any], out: Any, short_time: Any) -> None:
    """Scale-out: the processes, their shards and lease ages, and the shards nobody holds."""
    out.print(t("deployment: {shards} shards over {n} processes", shards=dep["shards"], n=len(dep["processes"])),
              markup=False, highlight=False)  # fmt: skip
    for p in dep["processes"]:
        out.print(t("  {host} pid {pid}, since {since}, renewed {age} s ago: shards {shards} ({n})", host=p["host"],
                    pid=p["pid"], since=short_time(p["since"]), age=p["lease_age"], shards=p["shards"],
                    n=p["held"]), markup=False, highlight=False)  # fmt: skip
    if dep["free"] != "-":
        out.print(t("  free shards: {shards}", shards=dep["free"]), markup=False, highlight=False)
    if dep["expired"] != "-":
        out.print(t("  shards whose holder stopped renewing (taken over soon): {shards}", shards=dep["expired"]),
                  markup=False, highlight=False, style="yellow")  # fmt: skip
    waiting = dep.get("forwards_waiting") or {}
    if waiting.get("count"):
        out.print(t("  {n} escalation tasks forwarded over a minute ago wait for shards {shards} to take them",
                    n=waiting["count"], shards=waiting["shards"]), markup=False, highlight=False,
                  style="yellow")  # fmt: skip
