"""playbook lsp — the language server for editors, over stdio (docs/editors.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from playbook.cli.columns import columns_option
from playbook.cli.common import fail
from playbook.diagnostics import PlaybookError
from playbook.extras import missing_extra
from playbook.i18n import t


@click.command(name="lsp", help=t("The language server for editors, over stdio."))
@click.option(
    "--contacts", type=click.Path(), help=t("A contacts file (CSV or JSON Lines): unknown fields become warnings.")
)
@columns_option
@click.option("--ignore", "ignored", multiple=True, metavar="CODE", help=t("Silence a warning code (repeatable)."))
def command(contacts: str | None, columns: str | None, ignored: tuple[str, ...]) -> None:
    """Serve the Language Server Protocol on stdin/stdout until the editor says exit."""
    try:
        from playbook.lsp.server import build
    except ImportError as exc:
        message = missing_extra(exc)
        if message is None:
            raise
        raise click.ClickException(message) from None
    loader = _loader(columns)
    known, records = None, None
    if contacts:
        try:
            known, records = loader(contacts)
        except PlaybookError as exc:
            fail(exc)
    build(known, ignored, records, loader, _project).start_io()


def _loader(columns: str | None) -> Callable[[str], tuple[set[str], list[dict[str, Any]]]]:
    """Reads a contacts file for the server: its fields (as `check --contacts`) and its
    contacts (hover's sample contact and segment counts)."""

    def load(path: str) -> tuple[set[str], list[dict[str, Any]]]:
        from playbook.cli.columns import column_pairs
        from playbook.data.columns import CONTACTS, ColumnMap
        from playbook.data.fields import field_names
        from playbook.data.files import read_records
        from playbook.vocab.localtime import DEFAULT_TIMEZONE, LocalTime

        column_map = ColumnMap(CONTACTS, column_pairs(columns))
        known = field_names(path, column_map)
        records, _ = read_records(path, LocalTime(DEFAULT_TIMEZONE), columns=ColumnMap(CONTACTS, column_pairs(columns)))
        return known, records

    return load


def _project(path: str) -> tuple[set[str], list[dict[str, Any]]]:
    """What a playbook.toml gives the server: the fields its [columns] declare, and the
    contacts (with their fields) of the store it names, when that store exists — read, never
    created or migrated."""
    from pathlib import Path

    import sqlalchemy as sa

    from playbook.runtime.config import load_config
    from playbook.runtime.store import Store, StoreError

    config = load_config(Path(path))
    fields = set(config.columns.values())
    url = config.store.url or ""
    database = sa.make_url(url).database if url.startswith("sqlite") else None
    if url.startswith("sqlite") and not (database and Path(database).is_file()):
        return fields, []
    try:
        records, deleted = Store(url).load_contacts()
    except (StoreError, sa.exc.SQLAlchemyError):
        return fields, []  # no store yet, or not one this version reads: fields only
    records = [r for r in records if r["id"] not in deleted]
    return fields | {k for r in records for k in r if k != "id"}, records
