"""What every command shares: the console, paths, diagnostics output, exit codes."""

from __future__ import annotations

import sys
from collections.abc import Iterable

import click

from playbook.diagnostics import Diagnostic, PlaybookError, render

EXIT_OK = 0
EXIT_ERRORS = 1  # the input has errors (check failed, fmt --check found changes)
EXIT_USAGE = 2  # click's own code for bad options


def console(stderr: bool = False):  # -> rich.console.Console, imported lazily for start-up time
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def print_diagnostics(diagnostics: Iterable[Diagnostic], stderr: bool = False) -> None:
    out = console(stderr)
    for d in diagnostics:
        text = render(d)
        style = "bold red" if d.is_error else "yellow"
        head, _, rest = text.partition("\n")
        out.print(head, style=style, markup=False)
        if rest:
            out.print(rest, markup=False)


def fail(error: PlaybookError) -> None:
    """Report an input error and exit 1 (never a traceback)."""
    print_diagnostics(error.diagnostics, stderr=True)
    sys.exit(EXIT_ERRORS)


paths_argument = click.argument("paths", nargs=-1, required=True, type=click.Path())
