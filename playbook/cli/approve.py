"""playbook approve VERSION [--by NAME] [--note TEXT] [--db URL] — let a version that waits
for approval send (runtime/approvals.py); `playbook reject` (cli/reject.py) is the other
answer. Works from any shell against the store, whether or not the daemon runs: the
daemon takes the decision in at its next step."""

from __future__ import annotations

import sys
from typing import Any

import click

from playbook.cli.common import EXIT_ERRORS, fail, say
from playbook.cli.store_options import db_option
from playbook.i18n import N_, t

STATE_WORDS = {"pending": N_("waiting"), "approved": N_("approved"), "rejected": N_("rejected"),
               "replaced": N_("replaced before a decision")}  # fmt: skip

by_option = click.option("--by", metavar="NAME", help=t("Who decides (default: the system user)."))
note_option = click.option("--note", metavar="TEXT", help=t("Why, for the record."))


def render_approvals(rows: list[dict[str, Any]], out: Any) -> None:
    """The launch gate's requests and decisions as a table (status, report)."""
    if not rows:
        return
    from rich.table import Table

    from playbook.runtime.report import short_time

    table = Table(title=t("approvals"), title_justify="left")
    for header in (t("version"), t("state"), t("first hour"), t("held"), t("decided"), t("note")):
        table.add_column(header, overflow="fold")
    for r in rows:
        hour = " · ".join(f"{k} {n}" for k, n in {**r["by_flow"], **r["by_channel"]}.items())
        first = f"{r['first_hour']} ({r['policy']})" + (f": {hour}" if hour else "")
        decided = f"{r['decided_by'] or ''} {short_time(r['decided_at'])}" if r["decided_at"] else "—"
        table.add_row(r["version"], t(STATE_WORDS[r["state"]]), first, str(r["held"]), decided, r["note"] or "")
    out.print(table)
    for r in rows:
        if r["state"] == "pending":
            out.print(t("to let it send: playbook approve {version} (or reject it: playbook reject {version})",
                        version=r["version"]), markup=False, highlight=False, soft_wrap=True)  # fmt: skip


def decide(db: str | None, version: str, state: str, by: str | None, note: str | None) -> None:
    """Record the decision on `version`'s pending request, or say why there is none."""
    import getpass

    from playbook.cli.store_options import reading_store
    from playbook.diagnostics import PlaybookError

    who = by or getpass.getuser()
    try:
        with reading_store(db) as store:
            row = store.decide_approval(version, state, who, note)
            requests = {r.version: r for r in store.approvals()}
    except PlaybookError as exc:
        fail(exc)
        return
    if row is None:
        found = requests.get(version)
        if found is None:
            waiting = ", ".join(v for v, r in requests.items() if r.state == "pending") or t("none")
            say(t("{version} does not wait for approval (waiting: {waiting})", version=version, waiting=waiting),
                "error", stderr=True)  # fmt: skip
        else:
            say(t("{version} was already {state} ({by}, {when})", version=version, state=t(STATE_WORDS[found.state]),
                  by=found.decided_by or "-", when=found.decided_at), "error", stderr=True)  # fmt: skip
        sys.exit(EXIT_ERRORS)
    if state == "approved":
        say(t("{version} approved by {by}: its touches go out", version=version, by=who), "ok")
    else:
        say(t("{version} rejected by {by}: its held touches are skipped", version=version, by=who), "ok")


@click.command(name="approve", help=t("Let a playbook version that waits for approval send."))
@click.argument("version")
@by_option
@note_option
@db_option
def command(version: str, by: str | None, note: str | None, db: str | None) -> None:
    decide(db, version, "approved", by, note)
