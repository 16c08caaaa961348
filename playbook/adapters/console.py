"""The `console` adapter: shows each delivery in the terminal and reports it sent.

The default adapter, for trying a playbook with `playbook run` before any platform is
connected. Options: `console`, a rich Console to print to (tests pass one writing to a
StringIO); standard output otherwise. Times are the playbook's, to the second, with the
offset (`2026-12-06 16:12:03+08:00`), as the daemon's log lines: the daemon sets
`timezone` once the playbooks are loaded (UTC before, and outside a daemon).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rich.console import Console
from rich.text import Text

from playbook.adapters.base import SENT, Adapter, Delivery, Result
from playbook.adapters.capabilities import BUILTIN, Capabilities
from playbook.adapters.registry import adapter_error, check_options
from playbook.i18n import t, tn
from playbook.textsafe import safe_console
from playbook.vocab.localtime import LocalTime, stamp


class ConsoleAdapter(Adapter):
    name: ClassVar[str] = "console"
    capabilities: ClassVar[Capabilities] = BUILTIN["console"]
    idempotent: ClassVar[bool] = False

    def __init__(self, options: Mapping[str, Any] | None = None, secrets: Mapping[str, str] | None = None):
        super().__init__(options, secrets)
        check_options(self.name, self.options, ["console"])
        console = self.options.get("console")
        if console is not None and not isinstance(console, Console):
            raise adapter_error(t("the console adapter's option 'console' must be a rich Console"))
        self.console: Console = console if console is not None else safe_console()  # data's controls escaped
        self._lock = threading.Lock()  # workers send concurrently; keep each delivery's lines together

    def __repr__(self) -> str:
        return "ConsoleAdapter()"

    def send(self, batch: Sequence[Delivery]) -> list[Result]:
        with self._lock:
            for d in batch:
                self.console.print(render(d, LocalTime(self.timezone)))
        return [Result(d.key, SENT) for d in batch]


def render(d: Delivery, clock: LocalTime | None = None) -> Text:
    """One delivery: a header line (time, channel, account → recipient, flow · step), then its text.

    Built from Text pieces, never markup, so brackets in a message are shown as written.
    """
    if d.audience is not None:
        recipient = tn("{n} contact can see it", "{n} contacts can see it", len(d.audience))
    elif d.group is not None:
        recipient = t("group {group}", group=d.group)
    else:
        recipient = d.contact or "-"
    line = Text()
    line.append(stamp(d.at, clock or LocalTime("UTC")), style="dim")
    line.append("  ")
    line.append(f"{d.channel:<7}", style="bold cyan")  # the longest, "moment", and a space
    line.append(f"{d.account or '-'} → {recipient}", style="bold")
    line.append(f"  {d.flow} · {d.step}", style="green")
    if d.attempt > 1:
        line.append("  " + t("attempt {n}", n=d.attempt), style="yellow")
    for text_line in d.text.splitlines() or [""]:
        line.append("\n    " + text_line)
    return line
