"""The store per shard (issue 18): the count recorded and refused, events routed to their
contact's shard, a shard's view reading and claiming that shard's rows only, journals
filed under their shard, and an existing store upgraded as a one-shard store."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from alembic import command

from playbook.runtime import schema
from playbook.runtime.migrations import alembic_config
from playbook.runtime.rows import CounterRow, EnrolmentRow, Journal, TimerRow, TouchRow
from playbook.runtime.store import ShardCountRefused, Store
from playbook.vocab.model import Event
from playbook.vocab.shards import shard_of

T0 = 1796086800
V1 = "pb-000000000001"
N = 4


def _accounts_by_shard(count: int = N) -> dict[int, str]:
    """One account id per shard."""
    found: dict[int, str] = {}
    i = 0
    while len(found) < count:
        found.setdefault(shard_of(f"acct{i}", count), f"acct{i}")
        i += 1
    return found


def _version(store: Store) -> None:
    store.save_version({"version": V1, "name": "p", "title": "p"})


@pytest.fixture
def pg_store(open_store: Callable[..., Store], backend: str) -> Store:
    if backend != "postgresql":
        pytest.skip("scale-out needs PostgreSQL")
    s = open_store()
    s.migrate()
    return s


def test_sqlite_refuses_more_than_one_shard(open_store: Callable[..., Store], backend: str) -> None:
    store = open_store()
    store.migrate()
    if backend == "sqlite":
        with pytest.raises(ShardCountRefused, match="scale-out needs PostgreSQL"):
            store.record_shards(2)
    store.record_shards(1)
    assert store.shard_count() == 1
    if backend == "postgresql":  # recorded: another count is refused
        with pytest.raises(ShardCountRefused, match="never re-sharded"):
            open_store().record_shards(3)


def test_the_count_is_recorded_once(pg_store: Store, open_store: Callable[..., Store]) -> None:
    acc = _accounts_by_shard()
    pg_store.import_records("contacts", [{"id": f"c{s}", "account": a} for s, a in acc.items()])
    pg_store.append_events([Event("purchase", "c2", T0, {"amount": 1})], "cli")
    pg_store.record_shards(N)  # a store that never ran takes the count: contacts and events routed now
    other = open_store()
    assert other.shard_count() == N
    other.record_shards(N)  # the same count again: fine
    with pytest.raises(ShardCountRefused, match="has 4 shards and the configuration asks for 8"):
        other.record_shards(8)
    with pytest.raises(ShardCountRefused, match="has 4 shards"):
        other.record_shards(1)
    with pg_store.database.read() as conn:
        shards = {k: v for k, v in conn.execute(sa.select(schema.contacts.c.id, schema.contacts.c.shard))}
        event_shard = conn.execute(sa.select(schema.events.c.shard)).scalar_one()
    assert shards == {f"c{s}": s for s in acc}
    assert event_shard == 2


def test_a_store_that_ran_is_one_shard(pg_store: Store) -> None:
    _version(pg_store)
    pg_store.write(Journal(timers=[TimerRow(1, T0, 0, (), "day", ())]))
    with pytest.raises(ShardCountRefused, match="has 1 shards"):
        pg_store.record_shards(N)
    pg_store.record_shards(1)


def test_events_follow_their_contacts_route(pg_store: Store) -> None:
    pg_store.record_shards(N)
    acc = _accounts_by_shard()
    pg_store.import_records("contacts", [{"id": "known", "account": acc[3]}])
    seqs = pg_store.append_events([
        Event("friend_added", "new1", T0, {"account": acc[1]}),  # first sight: its account's shard
        Event("purchase", "new1", T0 + 1, {"amount": 5}),  # no account: follows the contact's route
        Event("purchase", "known", T0 + 2, {"amount": 5, "account": acc[2]}),  # a stored contact: its row's shard
        Event("purchase", "nobody", T0 + 3, {}),  # nothing known: shard 0
    ], "cli")  # fmt: skip
    later = pg_store.append_events([Event("purchase", "new1", T0 + 4, {})], "http")  # from its stored event
    with pg_store.database.read() as conn:
        got = {k: v for k, v in conn.execute(sa.select(schema.events.c.seq, schema.events.c.shard))}
    assert [got[s] for s in seqs + later] == [1, 1, 3, 0, 1]
    for shard, expect in ((1, [seqs[0], seqs[1], later[0]]), (3, [seqs[2]]), (0, [seqs[3]]), (2, [])):
        assert [e.seq for e in pg_store.view(shard).next_events()] == expect
    # an imported contact first seen in events keeps the route its events have
    pg_store.import_records("contacts", [{"id": "new1", "account": acc[2]}])
    with pg_store.database.read() as conn:
        query = sa.select(schema.contacts.c.shard).where(schema.contacts.c.id == "new1")
        assert conn.execute(query).scalar_one() == 1


def _shard_journal(shard: int, account: str) -> Journal:
    cid = f"c{shard}"
    key = f"{V1}/j/{cid}/n1/1"
    return Journal(
        contacts=[{"id": cid, "account": account}],
        enrolments=[EnrolmentRow(V1, "j", cid, 1, T0)],
        timers=[TimerRow(100, T0 + 60, 3, (cid,), "day", ())],  # each shard numbers its own items
        counters=[CounterRow("p", "dm per contact per day", cid, T0, T0 + 86400, 1)],
        touches=[TouchRow(key=key, version=V1, flow="j", step="dm", channel="dm", due=T0, state="pending",
                          account=account, contact=cid, at=T0, text="hi", outcome="ok", next_attempt_at=T0)],
        flow_state={(V1, "rotation:r", ""): {"cycle": shard, "first_day": None}},
        engine_state={"clock": {"start": T0, "now": T0 + shard}},
    )  # fmt: skip


def test_a_view_reads_writes_and_claims_its_shard(pg_store: Store) -> None:
    pg_store.record_shards(N)
    _version(pg_store)
    acc = _accounts_by_shard()
    for shard, account in acc.items():
        pg_store.view(shard).write(_shard_journal(shard, account))
    for shard in acc:
        view = pg_store.view(shard)
        state = view.load_state()
        assert [c["id"] for c in state.contacts] == [f"c{shard}"]
        assert [e.contact for e in state.enrolments] == [f"c{shard}"]
        assert [(t.seq, t.shard, t.order) for t in state.timers] == [(100, shard, (f"c{shard}",))]
        assert [c.scope_id for c in state.counters] == [f"c{shard}"]
        assert state.flow_state == {(V1, "rotation:r", ""): {"cycle": shard, "first_day": None}}  # one per engine
        assert state.engine_state["clock"]["now"] == T0 + shard
        assert view.engine_value("clock")["now"] == T0 + shard
        claimed = view.claim_due(T0, owner=f"o{shard}")
        assert [r.contact for r in claimed] == [f"c{shard}"]
        assert [r.key for r in view.touches(states=("sending",))] == [claimed[0].key]
        assert view.sent_in("p", T0, T0 + 1) == [("dm", acc[shard], f"c{shard}")]
    whole = pg_store.load_state()
    assert len(whole.contacts) == N and len(whole.timers) == N
    pg_store.view(1).write(Journal(timers_removed=[100]))  # a shard's view removes its own item only
    assert len(pg_store.load_state().timers) == N - 1 and pg_store.view(1).load_state().timers == []
    # imports are taken in per shard
    pg_store.import_records("contacts", [{"id": f"c{s}", "account": a, "vip": True} for s, a in acc.items()])
    for shard in acc:
        records, _, _ = pg_store.view(shard).contacts_changed_since(0)
        assert [r["id"] for r in records] == [f"c{shard}"]
    assert pg_store.imports() == pg_store.view(3).imports() == 1  # store-wide: shard 0's row


def test_shards_count_their_timers_apart(pg_store: Store) -> None:
    """Each shard's engine numbers its timeline items from its own timers, so two shards
    write the same seq: both rows are kept, and one shard's engine removing its item leaves
    the other's (before, a timer of one shard overwrote or deleted another's — an event
    stamped ahead, a journey's next step or a shard's day tick was lost at the next restore)."""
    pg_store.record_shards(N)
    _version(pg_store)
    for shard in range(N):
        pg_store.view(shard).write(Journal(timers=[TimerRow(7, T0 + 60 * shard, 3, (shard,), "day", ())]))
    for shard in range(N):
        assert [(t.seq, t.due) for t in pg_store.view(shard).load_state().timers] == [(7, T0 + 60 * shard)]
    pg_store.view(1).write(Journal(timers_removed=[7]))
    assert [t.seq for t in pg_store.view(1).load_state().timers] == []
    assert sorted((t.shard, t.seq) for t in pg_store.load_state().timers) == [(0, 7), (2, 7), (3, 7)]


def test_an_existing_store_upgrades_to_one_shard(open_store: Callable[..., Store]) -> None:
    store = open_store()
    with store.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0006")
    now = store.now()
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO playbook_versions (version, name, document, created_at) "
                             "VALUES (:v, 'p', '{}', :now)"), {"v": V1, "now": now})  # fmt: skip
        conn.execute(sa.text("INSERT INTO contacts (id, account, fields, deleted, updated_at) "
                             "VALUES ('c1', 'a1', '{\"account\": \"a1\"}', false, :now)"), {"now": now})  # fmt: skip
        conn.execute(sa.text("INSERT INTO flow_state (version, runner, item, value, updated_at) "
                             "VALUES (:v, 'rotation:r', '', '1', :now)"), {"v": V1, "now": now})  # fmt: skip
        conn.execute(sa.text("INSERT INTO engine_state (name, value, updated_at) VALUES ('clock', :c, :now)"),
                     {"c": f'{{"start": {T0}, "now": {T0}}}', "now": now})  # fmt: skip
    store.migrate()
    assert store.shard_count() == 1
    state = store.view(0).load_state()
    assert [c["id"] for c in state.contacts] == ["c1"]
    assert state.flow_state == {(V1, "rotation:r", ""): 1}
    assert state.engine_state["clock"] == {"start": T0, "now": T0}
    store.record_shards(1)
    if store.dialect == "postgresql":
        with pytest.raises(ShardCountRefused, match="has 1 shards"):
            store.record_shards(N)


def test_the_daemon_refuses_another_count(tmp_path, open_store: Callable[..., Store], backend: str,
                                          caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """`playbook run` with [daemon] shards the store cannot have: exit 2 and the reason (SQLite:
    scale-out needs PostgreSQL; PostgreSQL: the recorded count), nothing decided."""
    from playbook.runtime.config import load_config
    from playbook.runtime.daemon import EXIT_CONFIG, Daemon, RunOptions
    from tests.runtime.processes import write_jsonl_config

    store = open_store()
    store.migrate()
    if backend == "postgresql":
        store.record_shards(4)
    (tmp_path / "p.pb").write_text('playbook "p"\ntimezone "Asia/Shanghai"\n', encoding="utf-8")
    config = write_jsonl_config(tmp_path / "p.toml", store.url, tmp_path / "out.jsonl", shards=2)
    code = Daemon(load_config(config), RunOptions([str(tmp_path / "p.pb")], once=True)).run()
    assert code == EXIT_CONFIG
    expected = "scale-out needs PostgreSQL" if backend == "sqlite" else "has 4 shards and the configuration asks for 2"
    assert expected in caplog.text
    assert store.versions() == []  # nothing loaded
