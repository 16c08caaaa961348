"""playbook check PATH… — parse, compile and lint; exit 1 when any playbook has errors."""

from __future__ import annotations

import json
import sys

import click

from playbook.cli.common import EXIT_ERRORS, EXIT_OK, console, fail, paths_argument, print_diagnostics
from playbook.diagnostics import PlaybookError


@click.command(name="check")
@paths_argument
@click.option(
    "--contacts", type=click.Path(), help="A contacts file (CSV or JSON Lines): unknown fields become warnings."
)
@click.option("--ignore", "ignored", multiple=True, metavar="CODE", help="Silence a warning code (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(paths: tuple[str, ...], contacts: str | None, ignored: tuple[str, ...], fmt: str) -> None:
    """Parse, compile and lint playbooks."""
    from playbook.compiler import compile_path

    known = None
    if contacts:
        from playbook.data.fields import field_names

        try:
            known = field_names(contacts)
        except PlaybookError as exc:
            fail(exc)
    results = [compile_path(p, known_fields=known, ignore=ignored) for p in paths]
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
        out_console = console()
        for r in results:
            if r.ok:
                mark, style = "✓", "green"
                tail = f" ({len(r.warnings)} warning{'s' if len(r.warnings) != 1 else ''})" if r.warnings else ""
                out_console.print(f"{mark} {r.path}: {r.version}{tail}", style=style, markup=False)
            else:
                out_console.print(
                    f"✗ {r.path}: {len(r.errors)} error{'s' if len(r.errors) != 1 else ''}", style="red", markup=False
                )
        if len(results) > 1 or errors or warnings:
            out_console.print(
                f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''} "
                f"in {len(results)} playbook{'s' if len(results) != 1 else ''}",
                markup=False,
            )
    sys.exit(EXIT_ERRORS if errors else EXIT_OK)
