"""Errors and warnings users can hit, as structured records rendered by one function.

A `Diagnostic` knows its file, line, column and span; `render` turns it into the
LANGUAGE.md §13 layout:

    playbooks/新客.pb:14:9: error: unknown segment '老课'
       14 |   if in 老课 { dm 老客关怀 }
          |         ^^^^ did you mean '老客'?

Carets are measured in terminal cells, so they sit under wide (CJK) characters.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from playbook.i18n import N_, t
from playbook.textcells import cell_width  # one definition; also imported from here

# Severities are codes (JSON output, comparisons); the rendered header translates them.
ERROR = "error"
WARNING = "warning"
_SEVERITY_WORDS = {ERROR: N_("error"), WARNING: N_("warning")}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: str
    code: str
    message: str
    file: str = ""
    line: int = 0
    column: int = 0
    end_column: int = 0
    hint: str = ""
    # The text of the source line; filled in by whoever knows the source.
    source_line: str = field(default="", compare=False)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.column, self.message)


class PlaybookError(Exception):
    """Raised when input cannot be used; carries every diagnostic found, not just the first."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(render(d) for d in self.diagnostics))


def render(d: Diagnostic) -> str:
    location = d.file or "<input>"
    if d.line:
        location += f":{d.line}:{d.column}"
    severity = t(_SEVERITY_WORDS[d.severity]) if d.severity in _SEVERITY_WORDS else d.severity
    head = t("{location}: {severity}: {message}", location=location, severity=severity, message=d.message)
    if d.code and d.severity == WARNING:
        head += f" [{d.code}]"
    if not d.line or not d.source_line:
        return head + (f"\n  {d.hint}" if d.hint else "")
    line_text = d.source_line.rstrip("\n")
    gutter = f"{d.line:>5} | "
    before = line_text[: max(d.column - 1, 0)]
    # Keep tabs so the caret lines up with what the terminal shows above it.
    pad = "".join("\t" if ch == "\t" else " " * cell_width(ch) for ch in before)
    end = d.end_column if d.end_column > d.column else d.column + 1
    marked = line_text[d.column - 1 : end - 1] or " "
    carets = "^" * max(cell_width(marked), 1)
    tail = f" {d.hint}" if d.hint else ""
    return f"{head}\n{gutter}{line_text}\n{' ' * 5} | {pad}{carets}{tail}"


def render_all(diagnostics: Iterable[Diagnostic]) -> str:
    """Several diagnostics, one after the other, exactly as `playbook check` prints them
    (its `print_diagnostics` renders each with `render`; the daemon's refused reload and
    `playbook status` use this, so the three never differ)."""
    return "\n".join(render(d) for d in diagnostics)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """'did you mean 'X'?' for the nearest candidate, or '' when nothing is close."""
    best = nearest(name, candidates)
    return t("did you mean '{name}'?", name=best) if best else ""


def nearest(name: str, candidates: Iterable[str]) -> str | None:
    pool = sorted(set(candidates))
    if not pool:
        return None
    # Short (often two-character Chinese) names need a looser cut-off than long ones.
    cutoff = 0.5 if len(name) <= 3 else 0.6
    found = difflib.get_close_matches(name, pool, n=1, cutoff=cutoff)
    return found[0] if found else None
