"""playbook approve VERSION [--by NAME] [--note TEXT] [--db URL] — let a version that waits
for approval send (runtime/approvals.py); `playbook reject` (cli/reject.py) is the other
answer. Works from any shell against the store, whether or not the daemon runs: the
daemon takes the decision in at its next step."""

from __future__ import annotations

import sys

import click

from playbook.cli.common import EXIT_ERRORS, fail, say
from playbook.cli.store_options import db_option
from playbook.i18n import N_, t

STATE_WORDS = {"pending": N_("waiting"), "approved": N_("approved"), "rejected": N_("rejected"),
               "replaced": N_("replaced before a decision")}  # fmt: skip

by_option = click.option("--by", metavar="NAME", help=t("Who decides (default: the system user)."))
note_option = click.option("--note", metavar="TEXT", help=t("Why, for the record."))


def decide(db: str | None, version: str, state: str, by: str | None, note: str | None) -> None:
    """Record the decision on `version`'s pending request, or say why there is none."""
    import getpass

    from playbook.cli.status import reading_store
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
