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

Several daemons (scale-out: each holds some of the store's shards) may share one outbox on
one machine: `OUTBOX.fence` holds the newest fencing token of each shard, and a batch —
the touches of one shard — is written while holding that file's lock (`flock`) after
checking that no newer holder of its shard has fenced this process off; so processes append
one batch at a time and a paused process cannot write a shard's touches once another took
the shard. Writers on different machines need a shared file system whose `flock` works
across them (not NFS before v4); otherwise give each machine its own outbox.
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
        # the fencing token the daemon gave per shard it holds (`fence`); empty: never fenced
        self._tokens: dict[int, int] = {}

    @property
    def fence_path(self) -> Path:
        """Beside the outbox: the newest writer's fencing token per shard, locked (flock) while
        written and while a batch is written, so a writer with an older token of a batch's
        shard cannot append — and so writers of several processes append one batch at a time."""
        return self.path.with_name(self.path.name + ".fence")

    def fence(self, token: int, shard: int = 0) -> None:
        """Record our token for `shard` (the highest wins). Waits while a writer is mid-batch:
        what it writes is then in the file before `reconcile` reads it."""
        with self._lock:
            fd = self._open_fence(make_folder=True)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                tokens = self._read_tokens(fd)
                if token > tokens.get(shard, 0):
                    tokens[shard] = token
                    _write_tokens(fd, tokens)
                self._tokens[shard] = token
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
                file = FileIO(self.path, "a+")  # appends; read too, for the last byte
            except OSError as exc:
                if file is not None:
                    file.close()
                # Worth retrying: the operator can fix the folder or its permissions while the daemon runs.
                raise TransientError(t("cannot open the outbox {path}: {reason}", path=self.path, reason=exc)) from None
            self._file = file
        return self._file

    def send(self, batch: Sequence[Delivery]) -> list[Result]:
        data = "".join(dumps(delivery_record(d)) + "\n" for d in batch).encode("utf-8")
        with self._lock, self._fenced({d.shard for d in batch}):
            file = self._open()
            start = os.fstat(file.fileno()).st_size
            try:
                # A crash mid-line leaves a torn last line: start a fresh one so the next record
                # stays whole (here, under the fence lock: never inside another process's batch).
                if start > 0 and not _ends_with_newline(file.fileno(), start):
                    data = b"\n" + data
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
    def _fenced(self, shards: set[int]) -> Iterator[None]:
        """Hold the fence file's lock while a batch is written, after checking that no newer
        writer has fenced us off any of the batch's shards (only once the daemon gave a token;
        a shard it never gave one for is not ours to write)."""
        if not self._tokens:
            yield
            return
        fd = self._open_fence()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            tokens = self._read_tokens(fd)
            for shard in sorted(shards):
                ours = self._tokens.get(shard)
                if ours is None or tokens.get(shard, 0) > ours:
                    raise Fenced(t("the outbox {path} was taken over by a newer writer of shard {shard}",
                                   path=self.path, shard=shard), shard=shard)  # fmt: skip
            yield
        finally:
            os.close(fd)

    def _read_tokens(self, fd: int) -> dict[int, int]:
        """The fence file's tokens per shard; a file nobody can read stops writing (retried)."""
        try:
            return _parse_tokens(_read_all(fd))
        except ValueError as exc:
            raise TransientError(t("the outbox's fence file {path} is unreadable ({reason}): remove it only once no "
                                   "playbook run writes to this outbox", path=self.fence_path, reason=exc)) from None  # fmt: skip

    def reconcile(self, deliveries: Sequence[Delivery]) -> list[Result]:
        """The file is the proof both ways: a key with a whole line in it was sent; a key
        without one never was (a line torn by a crash does not count), so it is `ABSENT`
        and goes out again. Sound because only a shard's lease holder writes its touches and
        the shard's previous holder is gone (or fenced) when this is called."""
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


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0) if size else b""


def _parse_tokens(raw: bytes) -> dict[int, int]:
    """`{"0": 5, "3": 2}` (shard → token; spaces after it are padding); the single number an
    older version wrote is shard 0's token; an empty file holds none. ValueError otherwise."""
    text = raw.decode("ascii").strip()
    if not text:
        return {}
    if text.isdigit():
        return {0: int(text)}
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    tokens: dict[int, int] = {}
    for shard, token in doc.items():
        if not shard.isdigit() or not isinstance(token, int) or isinstance(token, bool) or token < 0:
            raise ValueError(f"shard {shard!r}: token {token!r}")
        tokens[int(shard)] = token
    return tokens


def _write_tokens(fd: int, tokens: Mapping[int, int]) -> None:
    """Write the tokens over the file in one write, padded with spaces to at least the old
    length instead of truncating first, so a crash never leaves an empty (unfenced) file."""
    data = json.dumps({str(k): tokens[k] for k in sorted(tokens)}, separators=(",", ":")).encode("ascii")
    data = data.ljust(os.fstat(fd).st_size, b" ")
    os.pwrite(fd, data, 0)
    os.fsync(fd)


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


def _ends_with_newline(fd: int, size: int) -> bool:
    return os.pread(fd, 1, size - 1) == b"\n"
