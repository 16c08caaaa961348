"""What every command shares: the console, paths, diagnostics output, exit codes."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Any

import click

from playbook.diagnostics import Diagnostic, PlaybookError, render
from playbook.textsafe import escape_controls

EXIT_OK = 0
EXIT_ERRORS = 1  # the input has errors (check failed, fmt --check found changes)


def console(stderr: bool = False):  # -> rich.console.Console, imported lazily for start-up time
    from playbook.textsafe import safe_console

    return safe_console(stderr=stderr, highlight=False, soft_wrap=True)  # data's control characters escaped


def say(text: str, style: str = "", stderr: bool = False) -> None:
    """One line of plain output, coloured only on a terminal (click strips the colour
    otherwise). The start-up-critical commands use this rather than rich."""
    colours = {"error": ("red", True), "warning": ("yellow", False), "ok": ("green", False)}
    fg, bold = colours.get(style, (None, False))
    click.secho(escape_controls(text), fg=fg, bold=bold, err=stderr)  # a data value's controls shown, not obeyed


def print_diagnostics(diagnostics: Iterable[Diagnostic], stderr: bool = False) -> None:
    for d in diagnostics:
        head, _, rest = render(d).partition("\n")
        say(head, "error" if d.is_error else "warning", stderr)
        if rest:
            say(rest, stderr=stderr)


def write_text(text: str, out: str | None) -> None:
    """`text` to the file `out` (UTF-8), or to the terminal when `out` is None."""
    if out is None:
        click.echo(text, nl=False)
        return
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(text)


def fail(error: PlaybookError) -> None:
    """Report an input error and exit 1 (never a traceback)."""
    print_diagnostics(error.diagnostics, stderr=True)
    sys.exit(EXIT_ERRORS)


paths_argument = click.argument("paths", nargs=-1, required=True, type=click.Path())


class LateProgress:
    """A progress bar on stderr that appears only once the work has taken a second (and
    only on a terminal): short runs stay quiet."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> LateProgress:
        return self

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            if time.monotonic() - self.started < 1.0 or not sys.stderr.isatty():
                return
            from rich.progress import Progress

            self.bar = Progress(console=console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=total)
        self.bar.update(self.task, completed=done)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


class WholeNumber(click.IntRange):
    """An integer option that also takes full-width digits (`--days ７`), as the values in
    data files and playbooks do."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.isascii():
            import unicodedata

            value = unicodedata.normalize("NFKC", value)
        return super().convert(value, param, ctx)
