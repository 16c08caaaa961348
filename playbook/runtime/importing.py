"""`playbook import`: the contacts and accounts files `plan` reads, into the store.

Idempotent: a record's fields overwrite the stored ones, fields it lacks are kept, and a
record that changes nothing is counted as unchanged — so importing the same file twice
changes nothing the second time. Rows with problems are reported with their row numbers
and the rest are imported (unless `strict`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from playbook.data.columns import ColumnMap
from playbook.data.files import RowProblem, read_records
from playbook.engine.timeutil import LocalTime
from playbook.runtime.rows import UpsertCounts
from playbook.runtime.store import Store

DEFAULT_TIMEZONE = "Asia/Shanghai"  # the engine's own fallback when no playbook says


@dataclass
class FileImport:
    path: str
    kind: str  # contacts | accounts
    rows: int  # good records read
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    problems: list[RowProblem] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "kind": self.kind,
            "rows": self.rows,
            "inserted": self.counts.inserted,
            "updated": self.counts.updated,
            "unchanged": self.counts.unchanged,
            "problems": [{"row": p.row, "reason": p.reason} for p in self.problems],
        }


def store_timezone(store: Store) -> str:
    """Times without an offset are local to the playbook: the newest active version's
    timezone, else the engine's default."""
    for row in reversed(store.versions(active=True)):
        tz = row.document.get("timezone") if isinstance(row.document, dict) else None
        if tz:
            return str(tz)
    return DEFAULT_TIMEZONE


def import_files(store: Store, paths: Sequence[str], kind: str, clock: LocalTime, *, strict: bool = False,
                 progress: Callable[[int, int], None] | None = None,
                 columns: tuple[tuple[str, str], ...] = ()) -> list[FileImport]:  # fmt: skip
    """Read every file, then import them in order (a later file updates an earlier one).
    With `strict`, a single bad row anywhere imports nothing. `progress(done, total)`."""
    if kind not in ("contacts", "accounts"):
        raise ValueError(f"unknown kind {kind!r}")
    read: list[tuple[FileImport, list[dict[str, Any]]]] = []
    for path in paths:
        records, problems = read_records(path, clock, columns=ColumnMap(kind, columns))
        good = [r for r in records if _usable(r)]
        if len(good) < len(records):  # rare (a corrupt file); the reader gave no row numbers for these
            problems += [RowProblem(str(path), 0, f"id {r['id']!r}: ids cannot contain NUL characters")
                         for r in records if not _usable(r)]  # fmt: skip
        read.append((FileImport(str(path), kind, len(good), problems=problems), good))
    if strict and any(f.problems for f, _ in read):
        return [f for f, _ in read]
    total = sum(len(records) for _, records in read)
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    for result, records in read:
        result.counts = store.import_records(kind, records, progress=step)
    return [f for f, _ in read]


def _usable(record: dict[str, Any]) -> bool:
    return "\x00" not in str(record["id"]) and "\x00" not in str(record.get("account") or "")
