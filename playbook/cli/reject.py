"""playbook reject VERSION [--by NAME] [--note TEXT] [--db URL] — a version that waits for
approval never sends: its held touches end skipped (runtime/approvals.py)."""

from __future__ import annotations

import click

from playbook.cli.approve import by_option, decide, note_option
from playbook.cli.store_options import db_option
from playbook.i18n import t


@click.command(
    name="reject", help=t("Refuse a playbook version that waits for approval: its held touches are skipped.")
)
@click.argument("version")
@by_option
@note_option
@db_option
def command(version: str, by: str | None, note: str | None, db: str | None) -> None:
    decide(db, version, "rejected", by, note)
