"""playbook lsp — the language server for editors, over stdio (docs/editors.md)."""

from __future__ import annotations

import click

from playbook.cli.columns import columns_option
from playbook.cli.common import fail
from playbook.diagnostics import PlaybookError
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
    except ImportError:
        raise click.ClickException(t("the language server needs its extra: pip install 'playbook[lsp]'")) from None
    known = None
    if contacts:
        from playbook.cli.columns import column_pairs
        from playbook.data.columns import CONTACTS, ColumnMap
        from playbook.data.fields import field_names

        try:
            known = field_names(contacts, ColumnMap(CONTACTS, column_pairs(columns)))
        except PlaybookError as exc:
            fail(exc)
    build(known, ignored).start_io()
