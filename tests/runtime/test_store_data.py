"""Contacts and accounts (idempotent import), playbook versions and the event log."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from playbook.data.files import read_records
from playbook.runtime.importing import import_files, store_timezone
from playbook.runtime.rows import Journal
from playbook.runtime.store import Store
from playbook.vocab.localtime import LocalTime
from playbook.vocab.model import Event
from playbook.vocab.values import Instant

ROOT = Path(__file__).resolve().parents[2]
CLOCK = LocalTime("Asia/Shanghai")
CONTACTS = ROOT / "playbooks" / "contacts.csv"
ACCOUNTS = ROOT / "playbooks" / "accounts.csv"


def test_import_twice_changes_nothing_the_second_time(store: Store) -> None:
    (first,) = import_files(store, [str(CONTACTS)], "contacts", CLOCK)
    assert (first.counts.inserted, first.counts.updated, first.counts.unchanged) == (first.rows, 0, 0)
    assert first.rows == 40 and not first.problems
    (second,) = import_files(store, [str(CONTACTS)], "contacts", CLOCK)
    assert (second.counts.inserted, second.counts.updated, second.counts.unchanged) == (0, 0, 40)
    records, _ = store.load_contacts()
    expected, _ = read_records(CONTACTS, CLOCK)
    assert sorted(records, key=lambda r: r["id"]) == sorted(expected, key=lambda r: r["id"])


def test_import_updates_merges_and_reports_bad_rows(store: Store, tmp_path: Path) -> None:
    first = tmp_path / "c1.csv"
    first.write_text("id,name,account,spent\nc1,阿四,a1,100\nc2,白一,a1,\n", encoding="utf-8")
    import_files(store, [str(first)], "contacts", CLOCK)
    # events changed c1 meanwhile: fields the file lacks are kept on re-import
    records, _ = store.load_contacts()
    c1 = next(r for r in records if r["id"] == "c1")
    store.write(Journal(contacts=[{**c1, "orders": 2}]))
    second = tmp_path / "c2.jsonl"
    second.write_text(
        '{"id": "c1", "name": "阿四", "account": "a2", "spent": 100}\n'
        '{"id": "c2", "name": "白一", "account": "a1"}\n'
        '{"id": "c3", "account": "a1", "added_at": "2026-12-01 09:00"}\n'
        '{"id": "c4", "added_at": "2026-13-01"}\n'
        "not json\n"
        '{"name": "no id"}\n',
        encoding="utf-8",
    )
    (result,) = import_files(store, [str(second)], "contacts", CLOCK)
    assert (result.counts.inserted, result.counts.updated, result.counts.unchanged) == (1, 1, 1)
    assert [(p.row, p.reason) for p in result.problems] == [
        (4, "'2026-13-01' is not a date on the calendar"),
        (5, "not valid JSON: Expecting value"),
        (6, "the row has no id"),
    ]
    records, _ = store.load_contacts()
    by_id = {r["id"]: r for r in records}
    assert by_id["c1"] == {"id": "c1", "name": "阿四", "account": "a2", "spent": 100, "orders": 2}
    assert by_id["c3"]["added_at"] == Instant(1796086800) and type(by_id["c3"]["added_at"]) is Instant
    # the account column follows the field (the daemon finds an account's contacts by it)
    assert store.status().contacts == 3


def test_ids_with_nul_are_row_problems(store: Store, tmp_path: Path) -> None:
    data = tmp_path / "c.jsonl"
    data.write_text('{"id": "c\\u00001"}\n{"id": "c2", "account": "a\\u0000"}\n{"id": "c3"}\n', encoding="utf-8")
    (result,) = import_files(store, [str(data)], "contacts", CLOCK)
    assert result.counts.inserted == 1 and len(result.problems) == 2
    assert all("NUL" in p.reason for p in result.problems)


def test_strict_import_imports_nothing_when_a_row_is_bad(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,added_at\nc1,2026-12-01\nc2,not-a-date-2026-99-99\n,x\n", encoding="utf-8")
    (result,) = import_files(store, [str(bad)], "contacts", CLOCK, strict=True)
    assert [p.row for p in result.problems] == [4]
    assert store.load_contacts() == ([], set())


def test_accounts_import_and_the_timezone_of_the_active_playbook(store: Store) -> None:
    (result,) = import_files(store, [str(ACCOUNTS)], "accounts", CLOCK)
    assert result.counts.inserted == 3
    assert {a["id"] for a in store.load_accounts()} == {"a1", "a2", "a3"}
    assert store_timezone(store) == "Asia/Shanghai"
    store.save_version({"version": "pb-ny", "name": "ny", "timezone": "America/New_York"})
    assert store_timezone(store) == "Asia/Shanghai"  # saved but not active
    store.activate_version("pb-ny")
    assert store_timezone(store) == "America/New_York"


def test_versions_are_saved_once_and_activated_and_retired(store: Store) -> None:
    doc = {"version": "pb-abc", "name": "new_customer", "timezone": "Asia/Shanghai", "journeys": {"j": {"n": 1}}}
    assert store.save_version(doc) is True
    assert store.save_version(doc) is False
    assert store.get_version("pb-abc").document == doc
    assert store.get_version("pb-nope") is None
    assert store.versions(active=True) == []
    store.activate_version("pb-abc")
    (active,) = store.versions(active=True)
    assert active.version == "pb-abc" and active.activated_at is not None
    store.retire_version("pb-abc")
    assert store.versions(active=True) == []
    assert [v.version for v in store.versions(active=False)] == ["pb-abc"]


def test_make_current_retires_the_others_and_activates_these_at_once(store: Store) -> None:
    for version in ("pb-1", "pb-2", "pb-3"):
        store.save_version({"version": version, "name": "p"})
    store.make_current(["pb-1", "pb-2"])
    assert [v.version for v in store.versions(active=True)] == ["pb-1", "pb-2"]
    store.make_current(["pb-3", "pb-2"])  # a reload: pb-1 retired, pb-3 running, pb-2 stays
    assert [v.version for v in store.versions(active=True)] == ["pb-2", "pb-3"]
    assert store.get_version("pb-1").retired_at is not None
    store.make_current(["pb-1"])  # back to an older version: running again
    assert [v.version for v in store.versions(active=True)] == ["pb-1"]


def test_events_come_back_in_arrival_order_until_processed(store: Store) -> None:
    events = [Event("message", f"c{i % 3}", 1000 - i, {"n": i, "t": Instant(i)}) for i in range(25)]
    seqs = store.append_events(events, "http")
    assert seqs == sorted(seqs) and len(set(seqs)) == 25
    more = store.append_events([Event("purchase", "c1", 5, {"amount": 12.5})], "cli")
    assert more[0] > seqs[-1]
    pending = store.next_events(limit=100)
    assert [e.seq for e in pending] == [*seqs, *more]  # arrival order, not event time
    assert [e.data.get("n") for e in pending[:25]] == list(range(25))
    assert store.next_events(limit=5, after=seqs[9])[0].seq == seqs[10]
    store.mark_events(processed=seqs[:10], rejected={seqs[10]: "unknown contact"})
    assert [e.seq for e in store.next_events()] == [*seqs[11:], *more]
    assert store.event_counts() == {"new": 15, "processed": 10, "rejected": 1}
    # and through a journal, in the same transaction as the state they changed
    store.write(Journal(events_processed=seqs[11:]))
    assert [e.seq for e in store.next_events()] == more


def test_concurrent_appends_never_let_a_tailing_reader_skip_one(open_store: Callable[..., Store]) -> None:
    """Readers that follow the log with `after=last seen` must never miss an event that
    committed late with a lower number (appends are serialised for that)."""
    writers, per_writer = 4, 25
    main = open_store()
    main.migrate()
    done = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            store = open_store()
            for i in range(per_writer):
                store.append_events([Event("message", f"w{n}", i, {"i": i}), Event("message", f"w{n}", i, {})], "http")
        except BaseException as exc:  # reported below
            errors.append(exc)

    def read() -> None:
        store = open_store()
        last = 0
        while True:
            finished = done.is_set()
            batch = store.next_events(limit=50, after=last)
            seen.extend(e.seq for e in batch)
            last = batch[-1].seq if batch else last
            if finished and not batch:
                return

    reader = threading.Thread(target=read)
    reader.start()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    done.set()
    reader.join()
    assert not errors
    assert len(seen) == len(set(seen)) == writers * per_writer * 2
