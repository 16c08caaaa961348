"""What the daemon tells its operator: log lines stamped in the playbook's timezone, and a
refused reload kept in the store so `playbook status` can show it.

Log lines read `2026-12-06 16:12:03+08:00 INFO    running 新客 (ab12cd34ef56)`: the time
local to the playbook, to the second, with the offset, as `plan` shows its span — never
the machine's zone or bare UTC. A message of several lines (a refused reload's
diagnostics) is written as it is, so the carets stay under what they point at.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from playbook.diagnostics import Diagnostic
from playbook.vocab.localtime import LocalTime, stamp

# engine_state: the last refused reload ({"at", "text", "diagnostics"}), None once a
# reload (or a start) succeeds.
RELOAD_REFUSED = "reload_refused"
_FIELDS = ("severity", "code", "message", "file", "line", "column", "end_column", "hint", "source_line")


class PlaybookTimeFormatter(logging.Formatter):
    """`TIME LEVEL message`, TIME in the timezone `zone()` names at the moment of logging
    (the daemon's playbook; it is known only once the playbooks are loaded)."""

    def __init__(self, zone: Callable[[], str]) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(message)s")
        self._zone = zone
        self._clock: LocalTime | None = None

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        name = self._zone()
        if self._clock is None or self._clock.name != name:
            self._clock = LocalTime(name)
        return stamp(record.created, self._clock)


def refused_record(at: int, text: str, diagnostics: Iterable[Diagnostic]) -> dict[str, Any]:
    """The engine_state value of a refused reload: when, the text logged, and the
    diagnostics as data (for `status --format json`)."""
    return {"at": at, "text": text, "diagnostics": [{k: getattr(d, k) for k in _FIELDS} for d in diagnostics]}
