"""playbook import FILE… [--db URL] [--accounts] — contacts (or staff accounts) into the
store, idempotently: re-run it with a newer export to update. Bad rows are reported with
their row numbers and the rest are imported; exit 1 when any row had a problem.

playbook import --from wecom [--config playbook.toml] [--db URL] — the staff and customers
WeCom has, read through the configured adapter, into the same store the same way."""

from __future__ import annotations

import json
import sys
from pathlib import Path
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
@click.argument("files", nargs=-1, type=click.Path())
@click.option(
    "--from",
    "source",
    type=click.Choice(["wecom"]),
    help=t("Read the staff and customers from the platform instead of files (its adapter's configuration)."),
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help=t("With --from: the daemon's configuration (default: playbook.toml in the current folder, if there is one)."),
)
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
def command(files: tuple[str, ...], source: str | None, config_path: Path | None, db: str | None, accounts: bool,
            timezone: str | None, strict: bool, fmt: str, columns: str | None) -> None:  # fmt: skip
    from playbook.diagnostics import ERROR, Diagnostic, PlaybookError

    if source is not None:
        if files or accounts or strict or columns:
            raise click.UsageError(t("--from reads the platform: give no files, --accounts, --strict or --columns with it"))
        _from_platform(source, config_path, db, fmt)
        return
    if not files:
        raise click.UsageError(t("give the files to import, or --from wecom"))
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


def _from_platform(source: str, config_path: Path | None, db: str | None, fmt: str) -> None:
    """`import --from wecom`: the configured adapter's `sync` into the store."""
    import time

    from playbook.adapters.base import AdapterError
    from playbook.adapters.registry import build
    from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
    from playbook.runtime.config import CONFIG_FILE, load_config, load_secrets, with_overrides
    from playbook.runtime.importing import import_synced, known_contacts
    from playbook.runtime.store import Store, StoreError

    if config_path is None and Path(CONFIG_FILE).is_file():
        config_path = Path(CONFIG_FILE)
    config = with_overrides(load_config(config_path), db=db)
    if config.adapter.name != source:
        where = str(config_path) if config_path else CONFIG_FILE
        raise PlaybookError([Diagnostic(ERROR, "config", t("import --from {source} reads the {source} adapter's "
                                                           "[adapter] section: {file} names '{name}'", source=source,
                                                           file=where, name=config.adapter.name))])  # fmt: skip
    url = config.store.url
    assert url is not None
    adapter = build(source, config.adapter.options, load_secrets(config))
    try:
        with Store(url) as store:
            store.migrate()
            known = known_contacts(store)
            adapter.open()
            try:
                synced = adapter.sync(known, time.time(), full=True)
            except AdapterError as exc:
                raise PlaybookError([Diagnostic(ERROR, "adapter", t("cannot read contacts from {source}: {reason}",
                                                                    source=source, reason=exc.reason))]) from None  # fmt: skip
            finally:
                adapter.close()
            result = import_synced(store, synced, source, int(time.time()))
            shown = store.engine.url.render_as_string(hide_password=True)
    except StoreError as exc:
        raise PlaybookError([Diagnostic(ERROR, "store", t("cannot use the store: {reason}", reason=exc))]) from None
    if fmt == "json":
        click.echo(json.dumps({"db": shown, "imported": True, **result.as_json()}, ensure_ascii=False, indent=2,
                              sort_keys=True))  # fmt: skip
    else:
        from rich.table import Table

        from playbook.tables import print_table

        out = console()
        table = Table(title=t("import into {db}", db=shown), title_justify="left")
        for header in (t("from"), t("rows"), t("inserted"), t("updated"), t("unchanged"), t("gone upstream")):
            table.add_column(header, justify="left" if header == t("from") else "right")
        for label, c, rows, gone in ((t("{source} staff", source=source), result.accounts, result.staff, ""),
                                     (t("{source} customers", source=source), result.contacts, result.customers,
                                      str(result.deleted))):  # fmt: skip
            table.add_row(label, str(rows), str(c.inserted), str(c.updated), str(c.unchanged), gone)
        print_table(out, table)
        calls = sum(result.calls.values())
        out.print(t("{calls} API calls: {detail}", calls=calls,
                    detail=", ".join(f"{k} {v}" for k, v in sorted(result.calls.items())) or "-"), markup=False)  # fmt: skip
    if result.problems:
        if fmt != "json":
            for problem in result.problems:
                console(stderr=True).print(problem, style="yellow", markup=False)
        sys.exit(EXIT_ERRORS)
