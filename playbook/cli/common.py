"""What every command shares: the console, paths, diagnostics output, exit codes."""

from __future__ import annotations

import sys
from collections.abc import Iterable

import click

from playbook.diagnostics import Diagnostic, PlaybookError, render

EXIT_OK = 0
EXIT_ERRORS = 1  # the input has errors (check failed, fmt --check found changes)


def console(stderr: bool = False):  # -> rich.console.Console, imported lazily for start-up time
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def say(text: str, style: str = "", stderr: bool = False) -> None:
    """One line of plain output, coloured only on a terminal (click strips the colour
    otherwise). The start-up-critical commands use this rather than rich."""
    colours = {"error": ("red", True), "warning": ("yellow", False), "ok": ("green", False)}
    fg, bold = colours.get(style, (None, False))
    click.secho(text, fg=fg, bold=bold, err=stderr)


def print_diagnostics(diagnostics: Iterable[Diagnostic], stderr: bool = False) -> None:
    for d in diagnostics:
        head, _, rest = render(d).partition("\n")
        say(head, "error" if d.is_error else "warning", stderr)
        if rest:
            say(rest, stderr=stderr)


def fail(error: PlaybookError) -> None:
    """Report an input error and exit 1 (never a traceback)."""
    print_diagnostics(error.diagnostics, stderr=True)
    sys.exit(EXIT_ERRORS)


paths_argument = click.argument("paths", nargs=-1, required=True, type=click.Path())
