"""playbook check PATH… — parse, compile and lint; exit 1 when any playbook has errors."""

from __future__ import annotations

import json
import re
import sys

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
@columns_option
@click.option("--ignore", "ignored", multiple=True, metavar="CODE", help=t("Silence a warning code (repeatable)."))
@click.option("--adapter", metavar="NAME", help=t("Report what this adapter cannot carry (e.g. wecom)."))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help=t("Output: text for people, json for scripts."),
)
def command(
    paths: tuple[str, ...], contacts: str | None, columns: str | None, ignored: tuple[str, ...], adapter: str | None,
    fmt: str,
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
    results = [compile_path(p, known_fields=known, ignore=ignored) for p in paths]
    if adapter:
        _adapter_warnings(results, adapter, set(ignored))
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


def _errors(count: int) -> str:
    """'1 error', '3 errors'."""
    return tn("{n} error", "{n} errors", count)


def _warnings(count: int) -> str:
    return tn("{n} warning", "{n} warnings", count)


def _adapter_warnings(results: list, adapter: str, ignored: set[str]) -> None:
    """Add what the adapter cannot honour to each compiled playbook's warnings."""
    from dataclasses import replace

    from playbook.adapters.capabilities import capabilities_of, unsupported
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
