"""`playbook import`: the contacts and accounts files `plan` reads, into the store — or, with
`--from wecom`, what the messaging platform has (`import_synced`).

Idempotent: a record's fields overwrite the stored ones, fields it lacks are kept, and a
record that changes nothing is counted as unchanged — so importing the same file twice
changes nothing the second time. Rows with problems are reported with their row numbers
and the rest are imported (unless `strict`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from playbook.adapters.base import Adapter, AdapterError, Synced
from playbook.data.columns import ColumnMap
from playbook.data.files import RowProblem, read_records
from playbook.i18n import t
from playbook.runtime.rows import UpsertCounts
from playbook.runtime.store import Store
from playbook.vocab.localtime import DEFAULT_TIMEZONE, LocalTime
from playbook.vocab.model import Event
from playbook.vocab.values import Instant

log = logging.getLogger("playbook.import")


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


# ---- from the messaging platform (`playbook import --from wecom`, the daemon's re-sync) ----------
@dataclass
class SyncImport:
    """What one contact sync changed in the store."""

    source: str  # the adapter's name
    accounts: UpsertCounts = field(default_factory=UpsertCounts)
    contacts: UpsertCounts = field(default_factory=UpsertCounts)
    staff: int = 0  # account records read
    customers: int = 0  # contact records read
    deleted: int = 0  # known contacts the platform no longer has: a `deleted` event each
    problems: list[str] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    spent: list[tuple[str, str, int]] = field(default_factory=list)  # quota spent outside the playbooks

    def as_json(self) -> dict[str, Any]:
        def counts(c: UpsertCounts, rows: int) -> dict[str, int]:
            return {"rows": rows, "inserted": c.inserted, "updated": c.updated, "unchanged": c.unchanged}

        return {
            "from": self.source,
            "accounts": counts(self.accounts, self.staff),
            "contacts": {**counts(self.contacts, self.customers), "deleted": self.deleted},
            "problems": list(self.problems),
            "calls": dict(sorted(self.calls.items())),
            "spent": len(self.spent),
        }


def known_contacts(store: Store) -> dict[str, str | None]:
    """The stored contacts that are not deleted → their account (what a sync compares with)."""
    return store.contact_accounts()


def import_synced(store: Store, synced: Synced, source: str, now: int) -> SyncImport:
    """A platform's contacts and accounts (an adapter's `sync`) into the store through the same
    idempotent import as files; each contact it no longer has gets a `deleted` event (by =
    "sync") in the event log, which the engine processes like any deletion."""
    result = SyncImport(source, staff=len(synced.accounts), customers=len(synced.contacts),
                        problems=list(synced.problems), calls=dict(synced.calls), spent=list(synced.spent))  # fmt: skip
    if synced.accounts:
        result.accounts = store.import_records("accounts", synced.accounts)
    if synced.contacts:
        result.contacts = store.import_records("contacts", [_typed_synced(r) for r in synced.contacts])
    if synced.gone:
        store.append_events([Event("deleted", cid, now, {"by": "sync"}) for cid in synced.gone], "adapter")
        result.deleted = len(synced.gone)
    if synced.events:
        store.append_events(list(synced.events), "adapter")
    return result


def _typed_synced(record: dict[str, Any]) -> dict[str, Any]:
    """A synced record's values as a data file's would be typed: `added_at` an instant, `tags`
    a set of names."""
    out = dict(record)
    if isinstance(out.get("added_at"), int):
        out["added_at"] = Instant(out["added_at"])
    for key in ("tags", "groups"):
        if key in out:
            out[key] = frozenset(str(name) for name in out[key])
    return out


def sync_contacts(adapter: Adapter, store: Store, now: float, source: str) -> SyncImport | None:
    """The daemon's turn: the adapter's due sync (scheduled, or customers callbacks named) into
    the store, logged; a failure is logged and tried again later (the adapter decides when).
    The quota spent outside the playbooks comes back in `spent`: the caller counts it
    (`Decider.count_spent`)."""
    try:
        synced = adapter.sync(known_contacts(store), now, quota=True)
    except AdapterError as exc:
        log.warning(t("cannot read contacts from {source}: {reason}", source=source, reason=exc.reason))
        return None
    result = import_synced(store, synced, source, int(now))
    for problem in result.problems:
        log.warning(problem)
    c = result.contacts
    if c.inserted or c.updated or result.deleted or result.accounts.inserted:
        log.info(t("contacts from {source}: {inserted} new, {updated} changed, {deleted} gone", source=source,
                   inserted=c.inserted, updated=c.updated, deleted=result.deleted))  # fmt: skip
    return result
