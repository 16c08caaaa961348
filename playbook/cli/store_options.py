"""Options of the commands that use the store (import, event, status, report, explain).
Kept apart from cli/common.py so the start-up-critical commands never import it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from playbook.i18n import t
from playbook.vocab.localtime import DEFAULT_TIMEZONE

if TYPE_CHECKING:
    from playbook.runtime.store import Store

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


@contextmanager
def reading_store(db: str | None) -> Iterator[Store]:
    """The store at `db` (default as `playbook import`), for reading; a missing store or
    one this version cannot read is a PlaybookError (exit 1), never a traceback."""
    from sqlalchemy.exc import ArgumentError

    from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
    from playbook.runtime.store import Store, StoreError, default_url, sqlite_path

    def refuse(reason: object) -> PlaybookError:
        return PlaybookError([Diagnostic(ERROR, "store", t("cannot use the store: {reason}", reason=reason))])

    url = db or default_url()
    try:
        path = sqlite_path(url)
    except ArgumentError:  # not even a URL: Store says why below
        path = None
    if path is not None and not path.exists():
        raise refuse(t("{path} does not exist (run `playbook import` or start the daemon first)", path=path))
    try:
        store = Store(url)
        try:
            store.check_schema()
        except StoreError:
            if path is None:
                raise
            store.close()  # a read-only disk or folder: read the file as it is, without locking
            store = Store(url, read_only=True)
            store.check_schema()
        with store:
            yield store
    except StoreError as exc:
        raise refuse(exc) from None
