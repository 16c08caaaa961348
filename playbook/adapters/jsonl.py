"""The `jsonl` adapter: an outbox file, one JSON object a line per delivery.

    [adapter]
    name = "jsonl"
    [adapter.options]
    path = "outbox.jsonl"

Lines are appended and each batch is fsync'd before `send` returns, so a touch the ledger
records as sent is on disk; a batch that fails half-way is cut back off the file before
the call fails, so a retry cannot write a line twice. The file itself
is the platform's memory: after a crash between the write and the ledger update,
`reconcile` finds the keys already written and reports them sent, and the keys not in the
file absent (sent again), so nothing is lost or written twice. Another program may tail the file and deliver from it.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from io import FileIO
from pathlib import Path
from typing import Any, ClassVar

from playbook.adapters.base import ABSENT, SENT, Adapter, Delivery, Fenced, PermanentError, Result, TransientError
from playbook.adapters.capabilities import BUILTIN, Capabilities
from playbook.adapters.registry import check_options, require_option
from playbook.i18n import t


def iso_utc(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def delivery_record(d: Delivery) -> dict[str, Any]:
    """A delivery as plain JSON values: every field, times as ISO 8601 UTC (shared with webhook)."""
    return {
        "key": d.key,
        "version": d.version,
        "flow": d.flow,
        "step": d.step,
        "channel": d.channel,
        "account": d.account,
        "contact": d.contact,
        "group": d.group,
        "audience": list(d.audience) if d.audience is not None else None,
        "content": d.content,
        "text": d.text,
        "parts": dict(d.parts) if d.parts is not None else None,
        "at": iso_utc(d.at),
        "due": iso_utc(d.due),
        "attempt": d.attempt,
    }


def dumps(record: Mapping[str, Any]) -> str:
    """Stable bytes for the same delivery (sorted keys), Chinese kept readable."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class JsonlAdapter(Adapter):
    name: ClassVar[str] = "jsonl"
    capabilities: ClassVar[Capabilities] = BUILTIN["jsonl"]
    idempotent: ClassVar[bool] = False  # whoever reads the file sees every line

    def __init__(self, options: Mapping[str, Any] | None = None, secrets: Mapping[str, str] | None = None):
        super().__init__(options, secrets)
        check_options(self.name, self.options, ["path"])
        self.path = Path(require_option(self.name, self.options, "path"))
        self._file: FileIO | None = None
        self._lock = threading.Lock()  # the dispatcher's workers send concurrently; lines must not interleave
        self._token: int | None = None  # the writer's fencing token, once the daemon gave it (`fence`)

    @property
    def fence_path(self) -> Path:
        """Beside the outbox: the newest writer's fencing token, locked (flock) while written
        and while a batch is written, so a writer with an older token cannot append."""
        return self.path.with_name(self.path.name + ".fence")

    def fence(self, token: int, shard: int = 0) -> None:
        """Record our token (the highest wins). Waits while a writer is mid-batch: what it
        writes is then in the file before `reconcile` reads it."""
        with self._lock:
            fd = self._open_fence(make_folder=True)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if token > _read_token(fd):
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, str(token).encode("ascii"), 0)
                    os.fsync(fd)
                self._token = token
            finally:
                os.close(fd)  # releases the lock

    def _open_fence(self, *, make_folder: bool = False) -> int:
        """The fence file's descriptor (created if missing); an OS error is worth retrying."""
        try:
            if make_folder:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.fence_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise TransientError(t("cannot open the outbox {path}: {reason}", path=self.fence_path,
                                   reason=exc)) from None  # fmt: skip

    def __repr__(self) -> str:
        return f"JsonlAdapter(path={str(self.path)!r})"

    def open(self) -> None:
        with self._lock:
            self._open()

    def _open(self) -> FileIO:
        if self._file is None:
            file: FileIO | None = None
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # Unbuffered: what write() returned is in the file, so a failed batch can be cut off exactly.
                file = FileIO(self.path, "a")
                # A crash mid-line leaves a torn last line: start a fresh one so the next record stays whole.
                if os.fstat(file.fileno()).st_size > 0 and not _ends_with_newline(self.path):
                    _write_all(file, b"\n")
            except OSError as exc:
                if file is not None:
                    file.close()
                # Worth retrying: the operator can fix the folder or its permissions while the daemon runs.
                raise TransientError(t("cannot open the outbox {path}: {reason}", path=self.path, reason=exc)) from None
            self._file = file
        return self._file

    def send(self, batch: Sequence[Delivery]) -> list[Result]:
        data = "".join(dumps(delivery_record(d)) + "\n" for d in batch).encode("utf-8")
        with self._lock, self._fenced():
            file = self._open()
            start = os.fstat(file.fileno()).st_size
            try:
                _write_all(file, data)
                os.fsync(file.fileno())
            except OSError as exc:
                reason = t("cannot write the outbox {path}: {reason}", path=self.path, reason=exc)
                try:  # take back the part that was written, so a retry cannot duplicate it
                    os.ftruncate(file.fileno(), start)
                    os.fsync(file.fileno())
                except OSError:
                    # Some lines may be in the file: reconcile can tell after a restart, a retry could not.
                    raise PermanentError(reason) from None
                raise TransientError(reason) from None
        return [Result(d.key, SENT) for d in batch]

    @contextmanager
    def _fenced(self) -> Iterator[None]:
        """Hold the fence file's lock while a batch is written, after checking that no newer
        writer has fenced us off (only once the daemon gave a token)."""
        if self._token is None:
            yield
            return
        fd = self._open_fence()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _read_token(fd) > self._token:
                raise Fenced(t("the outbox {path} was taken over by a newer writer", path=self.path))
            yield
        finally:
            os.close(fd)

    def reconcile(self, deliveries: Sequence[Delivery]) -> list[Result]:
        """The file is the proof both ways: a key with a whole line in it was sent; a key
        without one never was (a line torn by a crash does not count), so it is `ABSENT`
        and goes out again. Sound because only the lease holder writes the outbox and the
        previous holder is gone (or fenced) when this is called."""
        wanted = {d.key for d in deliveries}
        found: set[str] = set()
        with self._lock:
            if self.path.exists():
                with self.path.open(encoding="utf-8", errors="replace") as lines:
                    for line in lines:
                        key = _key_of(line)
                        if key in wanted:
                            found.add(key)
        return [Result(d.key, SENT if d.key in found else ABSENT) for d in deliveries]

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _read_token(fd: int) -> int:
    raw = os.pread(fd, 32, 0).strip()
    return int(raw) if raw.isdigit() else 0


def _write_all(file: FileIO, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = file.write(view)
        if not written:
            raise OSError("the file took no more bytes")
        view = view[written:]


def _key_of(line: str) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None  # a torn line: that delivery did not make it
    key = record.get("key") if isinstance(record, dict) else None
    return key if isinstance(key, str) else None


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
