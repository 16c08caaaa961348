"""Data values on a terminal: control characters are shown, never obeyed.

A contact's name, an event's field or a message text comes from outside; written raw to
a terminal, `\\x1b[2J` clears the screen, `\\x1b]0;…\\x07` sets the window title, a
right-to-left override (U+202E) reorders what follows. Every terminal output goes
through one function, `escape_controls`, at the one place all of it passes: where rich
turns segments of text into what is written (`SafeConsole`, which every console of the
CLI, the daemon's log and the console adapter is), and `cli.common.say` for the plain
lines. rich's own styling is added around the text after that, so colours still work.

    escape_controls("Bob\\x1b[2J")   -> "Bob\\\\x1b[2J"   (shown as the six characters \\x1b[2J)

Escaped: C0 controls but newline and tab, DEL, C1 controls (U+0080–U+009F, CSI among
them) and the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
U+2066–U+2069). Newlines are kept (a message's lines are lines).
"""

from __future__ import annotations

from functools import cache
from typing import Any

_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_TABLE = {c: f"\\x{c:02x}" for c in _CONTROLS if c not in (0x0A, 0x09)} | {c: f"\\u{c:04x}" for c in _BIDI}


def escape_controls(text: str) -> str:
    """`text` with every control character (newline and tab aside) written as an escape."""
    return text.translate(_TABLE)


@cache
def _safe_console_class() -> type:
    from rich.console import Console
    from rich.segment import Segment

    class SafeConsole(Console):
        """A rich Console that escapes control characters in the text it writes (not in
        its own control segments: cursor moves, and the styles it wraps around text)."""

        def render_str(self, text: str, **kwargs: Any) -> Any:
            # strings (printed, or table cells) escaped before they are measured: columns stay aligned
            return super().render_str(escape_controls(text), **kwargs)

        def _render_buffer(self, buffer: Any) -> str:
            # and everything, Text built by the caller included, as it is written
            return super()._render_buffer(
                s if s.control else Segment(escape_controls(s.text), s.style, s.control) for s in buffer
            )

        def _escape_record(self) -> None:
            # what `record=True` kept (plan --out, --format html) is escaped the same way
            with self._record_buffer_lock:
                self._record_buffer[:] = [
                    s if s.control else Segment(escape_controls(s.text), s.style, s.control)
                    for s in self._record_buffer
                ]

        def export_text(self, **kwargs: Any) -> str:
            self._escape_record()
            return super().export_text(**kwargs)

        def export_html(self, **kwargs: Any) -> str:
            self._escape_record()
            return super().export_html(**kwargs)

        def export_svg(self, **kwargs: Any) -> str:
            self._escape_record()
            return super().export_svg(**kwargs)

    return SafeConsole


def safe_console(**kwargs: Any) -> Any:  # -> rich.console.Console; rich imported on first use
    """A rich Console (same arguments) whose output escapes control characters."""
    return _safe_console_class()(**kwargs)
