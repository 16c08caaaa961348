"""Options of the commands that use the store (import, event, status, report, explain).
Kept apart from cli/common.py so the start-up-critical commands never import it."""

from __future__ import annotations

from typing import Any

import click

from playbook.i18n import t
from playbook.vocab.localtime import DEFAULT_TIMEZONE

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

timezone_option = click.option(
    "--timezone",
    metavar="TZ",
    help=t("Timezone of times without an offset (default: the active playbook's, else {tz}).", tz=DEFAULT_TIMEZONE),
)


def store_clock(store: Any, timezone: str | None) -> Any:  # -> LocalTime; imported lazily (start-up time)
    """The clock data times are read in: --timezone, else the active playbook's."""
    from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
    from playbook.runtime.importing import store_timezone
    from playbook.vocab.localtime import LocalTime

    tz = timezone or store_timezone(store)
    try:
        return LocalTime(tz)
    except (KeyError, ValueError):  # zoneinfo: not found (a KeyError) or a malformed name
        raise PlaybookError([Diagnostic(ERROR, "option", t("unknown timezone '{tz}'", tz=tz))]) from None
