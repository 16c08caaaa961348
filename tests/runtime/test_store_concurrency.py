"""Concurrent writers on one SQLite file queue on the busy timeout instead of failing with
"database is locked" — including read-then-write transactions (import, claims) and a
writer that holds the lock for a while."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import sqlalchemy as sa

from playbook.runtime import schema
from playbook.runtime.rows import Journal, Settlement, TimerRow, TouchRow
from playbook.runtime.store import Store
from playbook.vocab.model import Event

V = "pb-000000000001"
WRITERS, ROUNDS = 6, 25


def test_concurrent_sqlite_writers_never_see_database_is_locked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'playbook.db'}"
    setup = Store(url)
    setup.migrate()
    setup.save_version({"version": V, "name": "x"})
    errors: list[BaseException] = []
    start = threading.Barrier(WRITERS + 1)
    claimed: list[str] = []

    def writer(n: int) -> None:
        store = Store(url)
        try:
            start.wait()
            for i in range(ROUNDS):
                store.append_events([Event("message", f"c{n}", i, {"i": i})] * 3, "http")
                # read-then-write: the classic source of "database is locked" in SQLite
                store.import_records(
                    "contacts", [{"id": f"c{(n + k) % 10}", "account": "a1", "n": i} for k in range(20)]
                )
                seq = store.reserve_seqs(1)
                key = f"{V}/j/c{n}/{i}"
                store.write(Journal(
                    timers=[TimerRow(seq, i, 3, (), "step", (n, i), V)],
                    touches=[TouchRow(key, V, "j", "dm", "dm", i, "pending", account="a1", next_attempt_at=i)],
                ))  # fmt: skip
                mine = store.claim_due(10**9, owner=f"p{n}", limit=5)
                claimed.extend(r.key for r in mine)
                store.settle([Settlement(r.key, "sent") for r in mine], owner=f"p{n}")
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            store.close()

    def hog() -> None:
        """Hold the write lock for a second while the others try to write."""
        store = Store(url)
        try:
            start.wait()
            with store.database.write() as conn:
                conn.execute(sa.insert(schema.sequences).values(name="hog", next_value=1))
                time.sleep(1.0)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)] + [threading.Thread(target=hog)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    status = setup.status()
    assert status.events == {"new": WRITERS * ROUNDS * 3}
    assert status.timers == WRITERS * ROUNDS
    assert sum(status.touches.values()) == WRITERS * ROUNDS
    assert len(claimed) == len(set(claimed))  # nobody claimed a touch twice
    setup.close()


def test_a_writer_waits_for_the_lock_instead_of_failing(tmp_path: Path) -> None:
    """With a short busy timeout a blocked writer gives up with a StoreError; with the
    default it waits for the holder to finish."""
    url = f"sqlite:///{tmp_path / 'playbook.db'}"
    holder, waiter, impatient = Store(url), Store(url), Store(url, busy_timeout=0.1)
    holder.migrate()
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with holder.database.write() as conn:
            conn.execute(sa.insert(schema.sequences).values(name="x", next_value=1))
            held.set()
            release.wait(5)

    th = threading.Thread(target=hold)
    th.start()
    held.wait(5)
    from playbook.runtime.store import StoreError

    try:
        impatient.append_events([Event("message", "c1", 0)], "cli")
        raise AssertionError("expected the impatient writer to give up")
    except StoreError as exc:
        assert "database is locked" in str(exc)
    timer = threading.Timer(0.5, release.set)
    timer.start()
    began = time.monotonic()
    assert waiter.append_events([Event("message", "c1", 0)], "cli") == [1]
    assert time.monotonic() - began >= 0.3
    th.join()
    for s in (holder, waiter, impatient):
        s.close()
