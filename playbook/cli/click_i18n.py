"""click's own strings (Usage:, Options, [required], Error: …, No such option …) in the
operator's language.

click translates those strings with the standard library's gettext: each of its modules
does `from gettext import gettext as _` (and `ngettext`) and calls them when it formats
help or an error. Installing a gettext catalogue would need compiled .mo files and the
process locale; instead `install()` points those module-level names at two small
functions that look the msgid up in `playbook.i18n_zh_click` when the language is Chinese
(`--lang zh`, `PLAYBOOK_LANG`, `LANG=zh_CN.UTF-8` — the same choice as every other
message) and defer to gettext otherwise. Our own help texts go through `playbook.i18n.t`.
"""

from __future__ import annotations

import gettext
import sys
from collections.abc import Sequence

import click

from playbook.i18n import language
from playbook.textcells import cell_width, wrap_cells

# click's modules that call _() or ngettext() (click 8.1–8.x); all loaded by `import click`.
_MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "termui", "types", "utils")


def click_gettext(message: str) -> str:
    if language() == "zh":
        from playbook.i18n_zh_click import CLICK_ZH

        return CLICK_ZH.get(message, message)
    return gettext.gettext(message)


def click_ngettext(singular: str, plural: str, n: int) -> str:
    if language() == "zh":
        from playbook.i18n_zh_click import CLICK_ZH_PLURAL

        pair = CLICK_ZH_PLURAL.get(singular)
        if pair is not None:
            return pair[0] if n == 1 else pair[1]
    return gettext.ngettext(singular, plural, n)


def install() -> None:
    """Route click's gettext calls through the functions above and format help in
    terminal cells (idempotent)."""
    click.Context.formatter_class = CellHelpFormatter  # the documented hook for a help formatter
    for name in _MODULES:
        module = sys.modules.get(f"click.{name}")
        if module is None:  # a click without that module
            continue
        if hasattr(module, "_"):
            module._ = click_gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = click_ngettext  # type: ignore[attr-defined]


class CellHelpFormatter(click.HelpFormatter):
    """click's help formatter, measuring and wrapping in terminal cells so Chinese help
    lines keep to the screen width and the option column stays aligned."""

    def write_text(self, text: str) -> None:
        """Paragraphs re-flowed to the width, as click does (a paragraph whose first line is
        "\\b" keeps its lines); Chinese lines are joined without a space."""
        indent = " " * self.current_indent
        width = max((self.width or 80) - self.current_indent, 11)
        for n, paragraph in enumerate(p for p in text.split("\n\n") if p.strip()):
            if n:
                self.write("\n")
            raw = paragraph.strip("\n").split("\n")
            lines = [line.strip() for line in raw]
            if lines[0] == "\b":
                rows = [line.rstrip() for line in raw[1:]]
            else:
                joined = lines[0]
                for line in lines[1:]:
                    wide = joined[-1:] and cell_width(joined[-1]) == 2 and cell_width(line[:1]) == 2
                    joined += line if wide else " " + line
                rows = wrap_cells(joined, width)
            for row in rows:
                self.write(f"{indent}{row}\n" if row else "\n")

    def write_dl(self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        rows = list(rows)
        first_width = min(max((cell_width(first) for first, _ in rows), default=0), col_max) + col_spacing
        indent = " " * self.current_indent
        text_width = max((self.width or 80) - first_width - 2 - self.current_indent, 10)
        for first, second in rows:
            self.write(f"{indent}{first}")
            if not second:
                self.write("\n")
                continue
            if cell_width(first) <= first_width - col_spacing:
                self.write(" " * (first_width - cell_width(first)))
            else:
                self.write("\n" + " " * (first_width + self.current_indent))
            lines = wrap_cells(second, text_width)
            self.write(lines[0] + "\n")
            for line in lines[1:]:
                self.write(" " * (first_width + self.current_indent) + line + "\n")
