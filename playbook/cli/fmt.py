"""playbook fmt PATH… [--check] [--diff] — rewrite playbooks (or, with --check/--diff, only report) in the canonical layout (docs/fmt.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from playbook.cli.common import EXIT_ERRORS, EXIT_OK, console, paths_argument, print_diagnostics
from playbook.i18n import t


@click.command(name="fmt")
@paths_argument
@click.option("--check", "check_only", is_flag=True, help=t("Change nothing; exit 1 when a file is not formatted."))
@click.option("--diff", "show_diff", is_flag=True, help=t("Print what would change as a diff; write nothing."))
def command(paths: tuple[str, ...], check_only: bool, show_diff: bool) -> None:
    """Rewrite playbooks in the canonical layout; files with errors are left as they are."""
    from playbook.compiler import playbook_files
    from playbook.diagnostics import PlaybookError
    from playbook.syntax.fmt import format_source
    from playbook.syntax.source import read_source

    out = console()
    changed: list[Path] = []
    failed = False
    for path in paths:
        try:
            files = playbook_files(path)
        except PlaybookError as exc:
            print_diagnostics(exc.diagnostics, stderr=True)
            failed = True
            continue
        for file in files:
            try:
                before = read_source(file)
                after = format_source(before, str(file))
            except PlaybookError as exc:  # a file that does not parse is never rewritten
                print_diagnostics(exc.diagnostics, stderr=True)
                failed = True
                continue
            if before == after:
                continue
            changed.append(file)
            if check_only:  # with --diff stdout is the patch alone, so the verdict goes to stderr
                (console(stderr=True) if show_diff else out).print(t("would reformat {path}", path=file), markup=False)
            if show_diff:  # like black: --diff only prints, with or without --check
                import difflib

                diff = difflib.unified_diff(before.splitlines(True), after.splitlines(True), str(file), str(file))
                out.print("".join(diff), markup=False, end="")
            elif not check_only:
                file.write_text(after, encoding="utf-8")
                out.print(t("reformatted {path}", path=file), markup=False)
    if failed or (check_only and changed):  # --diff alone exits 0, as black's does
        sys.exit(EXIT_ERRORS)
    sys.exit(EXIT_OK)
