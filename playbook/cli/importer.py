"""playbook import FILE… [--db URL] [--accounts] — contacts (or staff accounts) into the
store, idempotently: re-run it with a newer export to update. Bad rows are reported with
their row numbers and the rest are imported; exit 1 when any row had a problem."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from playbook.cli.columns import column_pairs, columns_option, say_column_notes
from playbook.cli.common import EXIT_ERRORS, LateProgress, console, print_diagnostics
from playbook.cli.store_options import db_option, store_clock, timezone_option
from playbook.i18n import t


@click.command(
    name="import",
    help=t("Import contacts (or, with --accounts, staff accounts) into the store; re-run to update."),
)
@click.argument("files", nargs=-1, required=True, type=click.Path())
@db_option
@click.option("--accounts", "accounts", is_flag=True, help=t("The files are staff accounts, not contacts."))
@timezone_option
@click.option("--strict", is_flag=True, help=t("Any bad data row is fatal: nothing is imported."))
@columns_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help=t("table for people, json for scripts."),
)
def command(files: tuple[str, ...], db: str | None, accounts: bool, timezone: str | None, strict: bool,
            fmt: str, columns: str | None) -> None:  # fmt: skip
    from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
    from playbook.runtime.importing import import_files
    from playbook.runtime.store import Store, StoreError, default_url

    url = db or default_url()
    kind = "accounts" if accounts else "contacts"
    pairs = column_pairs(columns)
    say_column_notes([(f, kind) for f in files], pairs)
    try:
        with Store(url) as store:
            store.migrate()
            clock = store_clock(store, timezone)
            with LateProgress(t("importing")) as progress:
                results = import_files(store, files, kind, clock, strict=strict, progress=progress.update,
                                       columns=pairs)  # fmt: skip
            shown = store.engine.url.render_as_string(hide_password=True)
    except StoreError as exc:
        raise PlaybookError([Diagnostic(ERROR, "store", t("cannot use the store: {reason}", reason=exc))]) from None

    problems = [p for r in results for p in r.problems]
    refused = strict and bool(problems)
    if fmt == "json":
        doc = {"db": shown, "kind": kind, "imported": not refused, "files": [r.as_json() for r in results]}
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        _render(results, shown, refused)
    if problems:
        if fmt != "json":
            print_diagnostics((p.diagnostic() for p in problems), stderr=True)
        sys.exit(EXIT_ERRORS)


def _render(results: list[Any], shown: str, refused: bool) -> None:
    from rich.table import Table

    from playbook.tables import print_table

    out = console()
    table = Table(title=t("import into {db}", db=shown), title_justify="left")
    for header in (t("file"), t("rows"), t("inserted"), t("updated"), t("unchanged"), t("problems")):
        table.add_column(header, justify="left" if header == t("file") else "right", overflow="fold")
    for r in results:
        c = r.counts
        table.add_row(r.path, str(r.rows), str(c.inserted), str(c.updated), str(c.unchanged),
                      str(len(r.problems)) if r.problems else "")  # fmt: skip
    print_table(out, table)
    if refused:
        console(stderr=True).print(t("--strict: the data has problems; nothing imported"), style="red", markup=False)
