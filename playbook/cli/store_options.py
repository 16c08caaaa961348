"""Options of the commands that use the store (import, event; run, status, report later).
Kept apart from cli/common.py so the start-up-critical commands never import it."""

from __future__ import annotations

import click

from playbook.i18n import t

DEFAULT_DB = "playbook.db"  # mirrors playbook.runtime.store (not imported here: start-up time)

db_option = click.option(
    "--db",
    metavar="URL",
    help=t(
        "The store: a SQLite file or a database URL (default: ${env}, else {default}).",
        env="PLAYBOOK_DB",
        default=DEFAULT_DB,
    ),  # fmt: skip
)
