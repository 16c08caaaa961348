"""The WeCom adapter's own memory, kept in a JSON file (`state_file`), written atomically.

What WeCom cannot be asked cheaply, or at all, and the adapter must not forget across restarts:

* `moment_tags`: account → corp tag id → the customers this adapter put that tag on (the
  Moments audience tags it keeps in step: only the difference is marked before each post);
* `join_ways`: group instance id → {config_id, qr_code, chat_id_list} (one join way per
  short-term group instance, created with its first invitation);
* `media`: upload key → {media_id, created_at} (temporary media live 3 days);
* `moments`: jobid → {moment_id, at} (a Moments job can be read for 24 hours only; its
  moment_id is what later tells who published the post);
* `tasks`: msgid (or `moment:<jobid>`) → {keys, account, chat_type, at, reminded}: every task
  the adapter created, written as soon as WeCom's answer names it (recovery, reminders,
  cancelling unconfirmed tasks);
* `calls`: call id → {keys, account, chat_type, text, at}: a task-creating call in flight,
  written before the call and removed once its answer came — what is left after a crash or a
  lost answer is looked for in WeCom before anything is sent again;
* `welcome`: external_userid → {code, account, at}: a WelcomeCode from the add_external_contact
  callback, kept for its 20 seconds (never logged).

The file is replaced as a whole (a temporary file beside it, fsync, rename), so a crash
leaves the old or the new version, never a torn one.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from playbook.adapters.registry import adapter_error
from playbook.i18n import t

VERSION = 1
SECTIONS = ("moment_tags", "join_ways", "media", "moments", "tasks", "calls", "welcome")
SECTIONS += ("staff_sends",)  # msgid → {at, customers}: staff members' own mass messages counted (sync)
SECTIONS += ("group_members",)  # group instance → {customer: chat}: who the adapter last knew in its chats


class AdapterState:
    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.RLock()
        self.data: dict[str, Any] = {name: {} for name in SECTIONS}
        self._loaded = False

    def load(self) -> None:
        with self.lock:
            if self._loaded:
                return
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                doc = {}
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise adapter_error(
                    t("cannot read the wecom adapter's state file {path}: {reason}", path=str(self.path),
                      reason=type(exc).__name__),
                    t("move it aside to start with an empty memory (tag memberships and join ways are then made again)"),
                ) from None  # fmt: skip
            if not isinstance(doc, dict):
                doc = {}
            for name in SECTIONS:
                section = doc.get(name)
                self.data[name] = section if isinstance(section, dict) else {}
            self._loaded = True

    def section(self, name: str) -> dict[str, Any]:
        self.load()
        return self.data[name]

    def save(self) -> None:
        with self.lock:
            if not self._loaded:
                return
            payload = json.dumps({"version": VERSION, **self.data}, ensure_ascii=False, sort_keys=True)
            folder = self.path.parent
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(payload)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
