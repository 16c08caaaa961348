"""playbook check PATH… — parse, compile and lint; exit 1 when any playbook has errors."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from playbook.cli.columns import columns_option
from playbook.cli.common import EXIT_ERRORS, EXIT_OK, fail, paths_argument, print_diagnostics, say
from playbook.diagnostics import PlaybookError
from playbook.i18n import t, tn


@click.command(name="check", help=t("Parse, compile and lint playbooks."))
@paths_argument
@click.option(
    "--contacts", type=click.Path(), help=t("A contacts file (CSV or JSON Lines): unknown fields become warnings.")
)
@click.option(
    "--accounts",
    type=click.Path(),
    help=t("An accounts file (CSV or JSON Lines): the accounts and roles SLAs escalate to are checked against it."),
)
@columns_option
@click.option("--ignore", "ignored", multiple=True, metavar="CODE", help=t("Silence a warning code (repeatable)."))
@click.option("--adapter", metavar="NAME", help=t("Report what this adapter cannot carry (e.g. wecom)."))
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help=t("With --adapter: connect with this configuration and probe the platform (permissions, trusted IP, accounts)."),
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help=t("Output: text for people, json for scripts."),
)
def command(
    paths: tuple[str, ...], contacts: str | None, accounts: str | None, columns: str | None, ignored: tuple[str, ...],
    adapter: str | None, config_path: Path | None, fmt: str,
) -> None:
    """Parse, compile and lint playbooks."""
    from playbook.compiler import compile_path

    known = None
    if contacts:
        from playbook.cli.columns import column_pairs
        from playbook.data.columns import CONTACTS, ColumnMap
        from playbook.data.fields import field_names

        try:
            known = field_names(contacts, ColumnMap(CONTACTS, column_pairs(columns)))
        except PlaybookError as exc:
            fail(exc)
    staff = _accounts(accounts, columns) if accounts else None
    results = [compile_path(p, known_fields=known, ignore=ignored, known_accounts=staff) for p in paths]
    if adapter:
        _adapter_warnings(results, adapter, set(ignored))
    if adapter and config_path is not None:
        _probe(results, adapter, config_path)
    errors = sum(len(r.errors) for r in results)
    warnings = sum(len(r.warnings) for r in results)
    if fmt == "json":
        out = [
            {
                "path": r.path,
                "ok": r.ok,
                "version": r.version,
                "diagnostics": [
                    {k: getattr(d, k) for k in ("severity", "code", "message", "file", "line", "column", "hint")}
                    for d in r.diagnostics
                ],
            }
            for r in results
        ]
        click.echo(json.dumps(out, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        for r in results:
            print_diagnostics(r.diagnostics)
        for r in results:
            if r.ok and r.warnings:
                line = t(
                    "✓ {path}: {version} ({warnings})",
                    path=r.path,
                    version=r.version,
                    warnings=_warnings(len(r.warnings)),
                )
                say(line, "ok")
            elif r.ok:
                say(t("✓ {path}: {version}", path=r.path, version=r.version), "ok")
            else:
                say(t("✗ {path}: {errors}", path=r.path, errors=_errors(len(r.errors))), "error")
        if len(results) > 1 or errors or warnings:
            summary = t(
                "{errors}, {warnings} in {playbooks}",
                errors=_errors(errors),
                warnings=_warnings(warnings),
                playbooks=tn("{n} playbook", "{n} playbooks", len(results)),
            )
            say(summary)
    sys.exit(EXIT_ERRORS if errors else EXIT_OK)


def _accounts(path: str, columns: str | None) -> list[dict]:
    """The accounts file's records (id, name, role): what SLA escalations may name."""
    from playbook.cli.columns import column_pairs
    from playbook.data.columns import ACCOUNTS, ColumnMap
    from playbook.data.files import read_records
    from playbook.vocab.localtime import LocalTime

    try:  # only text fields are kept: the timezone never matters to them
        records, _ = read_records(path, LocalTime("UTC"), only=("role",), columns=ColumnMap(ACCOUNTS, column_pairs(columns)))
    except PlaybookError as exc:
        fail(exc)
    return records


def _errors(count: int) -> str:
    """'1 error', '3 errors'."""
    return tn("{n} error", "{n} errors", count)


def _warnings(count: int) -> str:
    return tn("{n} warning", "{n} warnings", count)


def _adapter_warnings(results: list, adapter: str, ignored: set[str]) -> None:
    """Add what the adapter cannot honour to each compiled playbook's warnings."""
    from dataclasses import replace

    from playbook.adapters.capabilities import unsupported
    from playbook.adapters.registry import capabilities_of
    from playbook.compiler import suppress

    try:
        caps = capabilities_of(adapter)
    except PlaybookError as exc:
        fail(exc)
    for r in results:
        if r.doc is None:
            continue
        sources = {f.path: f.source.split("\n") for f in r.files}  # the text compile already read
        # Silenced like every other warning: --ignore, or `# ignore: CODE` in the file.
        for d in suppress(unsupported(r.doc, caps, adapter, r.path), r.files, ignored):
            lines = sources.get(d.file, [])
            line = lines[d.line - 1] if 0 < d.line <= len(lines) else ""
            name = re.search(r"\b(?:content|group)\s+([^\s={]+)", line)  # underline the declared name
            column, end = (name.start(1) + 1, name.end(1) + 1) if name else (1, 1)
            d = replace(d, source_line=line, column=column, end_column=end)
            r.diagnostics.append(d)


def _probe(results: list, adapter: str, config_path: Path) -> None:
    """`check --adapter NAME --config FILE`: build the adapter as `run` would, open it and
    let it probe the platform with one cheap call for everyone and one per account (the
    store's accounts); each problem becomes an error of the first playbook."""
    from playbook.adapters.registry import build
    from playbook.diagnostics import ERROR, Diagnostic
    from playbook.runtime.config import load_config, load_secrets, with_overrides

    try:
        config = with_overrides(load_config(config_path), adapter=adapter)
        built = build(config.adapter.name, config.adapter.options, load_secrets(config))
        built.open()
    except PlaybookError as exc:
        fail(exc)
        return
    try:
        accounts = _store_accounts(config.store.url)
        problems = built.probe(accounts)
    finally:
        built.close()
    target = results[0] if results else None
    for problem in problems:
        if target is not None:
            target.diagnostics.append(Diagnostic(ERROR, "adapter-probe", problem, str(config_path), 0))
    if not problems:
        say(t("✓ {adapter}: the platform answers ({n} accounts probed)", adapter=adapter, n=len(accounts)), "ok")


def _store_accounts(url: str) -> list[str]:
    """The accounts the store knows (none when there is no store yet)."""
    from playbook.runtime.store import Store, StoreError, sqlite_path

    path = sqlite_path(url)
    if path is not None and not path.exists():
        return []
    try:
        with Store(url) as store:
            return [str(a["id"]) for a in store.load_accounts()]
    except StoreError:
        return []
