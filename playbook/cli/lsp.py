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
    known, sample = None, None
    if contacts:
        try:
            known, sample = loader(contacts)
        except PlaybookError as exc:
            fail(exc)
    build(known, ignored, sample, loader).start_io()


def _loader(columns: str | None) -> Callable[[str], tuple[set[str], dict[str, Any] | None]]:
    """Reads a contacts file for the server: its fields (as `check --contacts`) and its first
    contact (hover's sample)."""

    def load(path: str) -> tuple[set[str], dict[str, Any] | None]:
        from playbook.cli.columns import column_pairs
        from playbook.compiler.build import DEFAULT_TIMEZONE
        from playbook.data.columns import CONTACTS, ColumnMap
        from playbook.data.fields import field_names
        from playbook.data.files import read_records
        from playbook.vocab.localtime import LocalTime

        column_map = ColumnMap(CONTACTS, column_pairs(columns))
        known = field_names(path, column_map)
        records, _ = read_records(path, LocalTime(DEFAULT_TIMEZONE), columns=ColumnMap(CONTACTS, column_pairs(columns)))
        return known, (records[0] if records else None)

    return load
