"""Idempotent intake (issue 19, item 4): event ids, Idempotency-Key, the signed request's
timestamp window, and the rule for events far from the clock — through a real server on
an ephemeral port, on SQLite and PostgreSQL, and `report` reading what was stored."""

from __future__ import annotations

import datetime as dt
import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from playbook.runtime.intake import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    IntakeConfig,
    IntakeServer,
    sign,
    time_rule,
)
from playbook.runtime.report import report
from playbook.runtime.store import Store
from playbook.vocab.model import Event

TOKEN = "tok-idem"
SECRET = "sec-idem"
NOW = 1796086800  # 2026-12-01 09:00 +08:00: the intake's clock in these tests
AT = "2026-12-01T08:30:00+08:00"


class Clock:
    def __init__(self) -> None:
        self.t = float(NOW)

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(store: Store, clock: Clock) -> Iterator[IntakeServer]:
    config = IntakeConfig(token=TOKEN, secret=SECRET, port=0, timezone="Asia/Shanghai")
    srv = IntakeServer(store, config, now=clock)
    srv.start()
    yield srv
    srv.stop()


def post(server: IntakeServer, body: Any, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
    try:
        conn.request("POST", "/events", body=raw, headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def signed(body: bytes, at: int = NOW) -> dict[str, str]:
    return {SIGNATURE_HEADER: sign(body, SECRET, at), TIMESTAMP_HEADER: str(at)}


BEARER = {"Authorization": f"Bearer {TOKEN}"}


def purchase(**fields: Any) -> dict[str, Any]:
    return {"type": "purchase", "contact": "c1", "at": AT, "amount": 999, **fields}


def rows(store: Store) -> int:
    return sum(store.event_counts().values())


def test_a_purchase_posted_three_times_is_revenue_999(server: IntakeServer, store: Store, clock: Clock) -> None:
    body = json.dumps(purchase(id="order-1")).encode("utf-8")
    answers = []
    for attempt in range(3):  # a client retrying: each time signed again, a second later
        clock.t = NOW + attempt
        answers.append(post(server, body, signed(body, NOW + attempt)))
    assert [status for status, _ in answers] == [200, 200, 200]
    first, *again = (doc for _, doc in answers)
    assert first["stored"] == 1 and first["repeated"] == []
    for doc in again:  # acknowledged, with the first one's sequence number
        assert doc == {"accepted": 1, "stored": 0, "seqs": first["seqs"], "repeated": [0]}
    # the same event by bearer token with the id in the Idempotency-Key header: the same id
    status, doc = post(server, purchase(), {**BEARER, IDEMPOTENCY_HEADER: "order-1"})
    assert status == 200 and doc["stored"] == 0 and doc["seqs"] == first["seqs"]
    assert rows(store) == 1
    assert report(store)["purchases"]["revenue"] == 999
    assert store.next_events()[0].data == {"id": "order-1", "amount": 999}


def test_a_replayed_signed_request_without_ids_is_a_repeat(server: IntakeServer, store: Store) -> None:
    body = json.dumps([purchase(), purchase(contact="c2", amount=5)]).encode("utf-8")
    headers = signed(body)
    status, first = post(server, body, headers)
    assert status == 200 and first["stored"] == 2
    status, replay = post(server, body, headers)  # captured and sent again, bytes and headers
    assert status == 200 and replay["stored"] == 0 and replay["repeated"] == [0, 1]
    assert replay["seqs"] == first["seqs"] and rows(store) == 2
    # the signature names the events, not the data: nothing of it is in the stored event
    assert all("id" not in e.data for e in store.next_events())


@pytest.mark.parametrize("offset", [-301, 301, -3600, 10**9])
def test_a_timestamp_outside_five_minutes_is_refused(server: IntakeServer, store: Store, offset: int) -> None:
    body = json.dumps(purchase(id="late")).encode("utf-8")
    status, doc = post(server, body, signed(body, NOW + offset))
    assert status == 401 and "off the intake's clock" in doc["error"]
    assert rows(store) == 0


def test_the_timestamp_is_required_and_signed(server: IntakeServer, store: Store) -> None:
    body = json.dumps(purchase()).encode("utf-8")
    for offset in (-299, 299):  # inside the window
        status, _ = post(server, body, signed(body, NOW + offset))
        assert status == 200
    status, doc = post(server, body, {SIGNATURE_HEADER: sign(body, SECRET, NOW)})  # no timestamp
    assert status == 401 and TIMESTAMP_HEADER in doc["error"]
    # the timestamp is part of what is signed: moving it breaks the signature
    status, doc = post(server, body, {SIGNATURE_HEADER: sign(body, SECRET, NOW), TIMESTAMP_HEADER: str(NOW + 1)})
    assert status == 401 and "does not match" in doc["error"]
    status, doc = post(server, body, {SIGNATURE_HEADER: sign(body, SECRET, NOW), TIMESTAMP_HEADER: "soon"})
    assert status == 401
    # the two inside the window were signed at different times: two requests, and without
    # an id in them two events (a client retrying gives its events ids)
    assert rows(store) == 2


def test_an_id_taken_by_another_event_is_a_conflict(server: IntakeServer, store: Store) -> None:
    status, _ = post(server, purchase(id="o-7"), BEARER)
    assert status == 200
    status, doc = post(server, [purchase(id="o-8"), purchase(id="o-7", amount=1)], BEARER)
    assert status == 409 and doc["errors"] == [
        {"index": 1, "field": "id", "message": "the id 'o-7' is already taken by a different event"}
    ]
    assert rows(store) == 1  # the whole request stored nothing, o-8 included
    # the same id twice in one batch: the second is the same event, acknowledged
    status, doc = post(server, [purchase(id="o-9"), purchase(id="o-9")], BEARER)
    assert status == 200 and doc["stored"] == 1 and doc["repeated"] == [1] and doc["seqs"][0] == doc["seqs"][1]
    # the same instant written another way is the same event
    status, doc = post(server, purchase(id="o-9", at="2026-12-01T00:30:00Z"), BEARER)
    assert status == 200 and doc["repeated"] == [0]


def test_the_idempotency_key_header(server: IntakeServer, store: Store) -> None:
    status, doc = post(server, [purchase(), purchase()], {**BEARER, IDEMPOTENCY_HEADER: "k1"})
    assert status == 400 and "single event" in doc["error"]
    status, doc = post(server, purchase(id="a"), {**BEARER, IDEMPOTENCY_HEADER: "b"})
    assert status == 400 and "differ" in doc["error"]
    status, doc = post(server, purchase(), {**BEARER, IDEMPOTENCY_HEADER: "x" * 201})
    assert status == 400
    assert rows(store) == 0
    status, doc = post(server, purchase(id="k2"), {**BEARER, IDEMPOTENCY_HEADER: "k2"})
    assert status == 200 and doc["stored"] == 1


def test_events_far_from_the_clock(server: IntakeServer, store: Store) -> None:
    def at(seconds: int) -> str:
        return dt.datetime.fromtimestamp(NOW + seconds, dt.UTC).isoformat()

    status, doc = post(server, [purchase(), purchase(at=at(2 * 86400))], BEARER)  # 2099 would be the same
    assert status == 422 and doc["errors"][0]["index"] == 1 and doc["errors"][0]["field"] == "at"
    assert "2.0 days in the future" in doc["errors"][0]["message"] and rows(store) == 0
    status, doc = post(server, [purchase(at=at(3600)), purchase(at=at(-40 * 86400)), purchase()], BEARER)
    assert status == 200 and doc["stored"] == 3
    assert [(w["index"], w["message"]) for w in doc["warnings"]] == [
        (0, "the event is 60 minutes in the future: it waits until then"),
        (1, "the event is 40.0 days old: flows react to it now, not back then"),
    ]


def test_the_time_rule_edges() -> None:
    assert time_rule(NOW + 300, NOW) is None and time_rule(NOW - 30 * 86400, NOW) is None
    assert time_rule(NOW + 301, NOW) is not None and not time_rule(NOW + 301, NOW).refused  # type: ignore[union-attr]
    assert time_rule(NOW + 86400, NOW).refused is False  # type: ignore[union-attr]
    assert time_rule(NOW + 86401, NOW).refused is True  # type: ignore[union-attr]
    assert time_rule(NOW - 30 * 86400 - 1, NOW).refused is False  # type: ignore[union-attr]


def test_the_store_remembers_ids_for_the_window(store: Store) -> None:
    e = Event("purchase", "c1", NOW, {"id": "o-1", "amount": 999})
    other = Event("purchase", "c1", NOW, {"id": "o-1", "amount": 1})
    logged = store.log_events([e, e, Event("message", "c2", NOW)], "file")
    assert logged.repeated == [1] and logged.conflicts == [] and logged.stored == 2
    assert logged.seqs[0] == logged.seqs[1] and logged.seqs[2] is not None
    logged = store.log_events([other, Event("message", "c3", NOW)], "file")  # not all or nothing: c3 goes in
    assert logged.conflicts == [0] and logged.seqs[0] is None and logged.stored == 1
    logged = store.log_events([Event("message", "c4", NOW), other], "http", all_or_nothing=True)
    assert logged.conflicts == [1] and logged.seqs == [None, None] and rows(store) == 3
    assert store.append_events([e], "cli") == [store.log_events([e], "cli").seqs[0]]
    # beyond the window the id is forgotten: the same event is then a new one
    assert store.prune_event_ids(store.now() + dt.timedelta(seconds=1)) == 1
    assert store.log_events([e], "file").stored == 1 and rows(store) == 4


def test_the_daemon_forgets_ids_after_the_window(store: Store) -> None:
    from playbook.runtime.config import load_config
    from playbook.runtime.daemon import Daemon, RunOptions

    config = load_config(None, {"PLAYBOOK_DB": store.url})
    assert config.intake.remember_ids == 30 * 86400
    wall = [store.now().timestamp()]
    daemon = Daemon(config, RunOptions([]), clock=lambda: wall[0])
    store.log_events([Event("message", "c1", NOW, {"id": "m-1"})], "http")
    daemon._forget_old_event_ids(store)
    assert store.log_events([Event("message", "c1", NOW, {"id": "m-1"})], "http").stored == 0  # remembered
    wall[0] += 30 * 86400 + 3600  # a month and an hour later
    daemon._forget_old_event_ids(store)
    assert store.log_events([Event("message", "c1", NOW, {"id": "m-1"})], "http").stored == 1  # forgotten


# ---- `playbook event --id`, files with an id column, and `plan --events` -------------------------------


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    from playbook.cli import event as event_command

    monkeypatch.setattr(event_command, "wall_clock", lambda: float(NOW))


def cli(*args: str) -> Any:
    from click.testing import CliRunner

    from playbook.cli.main import cli as main

    return CliRunner().invoke(main, ["--lang", "en", *args])


def test_playbook_event_with_an_id(tmp_path: Any, pinned: None) -> None:
    db = str(tmp_path / "s.db")
    args = ("event", "purchase", "--contact", "c1", "amount=999", "--at", AT, "--id", "order-1", "--db", db)
    first = cli(*args)
    assert first.exit_code == 0 and "event 1 stored" in first.stdout, first.output
    again = cli(*args)
    assert again.exit_code == 0 and "event 1 was already stored with id order-1: not stored again" in again.stdout
    doc = json.loads(cli(*args, "--format", "json").stdout)
    assert doc["repeated"] is True and doc["seq"] == 1 and doc["id"] == "order-1"
    other = cli("event", "purchase", "--contact", "c1", "amount=5", "--at", AT, "--id", "order-1", "--db", db)
    assert other.exit_code == 1 and "already taken by a different event" in str(other.exception)
    with Store(db) as store:
        assert report(store)["purchases"]["revenue"] == 999 and rows(store) == 1
    late = cli("event", "purchase", "--contact", "c1", "--at", "2099-01-01 00:00", "--db", db)
    assert late.exit_code == 1 and "days in the future; events more than 1 day ahead are refused" in str(late.exception)
    old = cli("event", "message", "--contact", "c1", "--at", "2026-10-01 00:00", "--db", db)
    assert old.exit_code == 0 and "warning: the event is 61.4 days old" in old.stderr


def test_event_file_with_ids(tmp_path: Any, pinned: None) -> None:
    db = str(tmp_path / "s.db")
    data = tmp_path / "orders.jsonl"
    rows_ = [purchase(id="o-1"), purchase(id="o-2", contact="c2"), purchase(id="o-1"),  # row 3 repeats row 1
             purchase(id="o-2", amount=1), purchase(at="2099-01-01T00:00:00+08:00")]  # fmt: skip
    data.write_text("".join(json.dumps(r) + "\n" for r in rows_), encoding="utf-8")
    result = cli("event", "--file", str(data), "--db", db, "--format", "json")
    doc = json.loads(result.stdout)
    assert result.exit_code == 1  # rows 4 and 5 are problems
    assert (doc["stored"], doc["repeated"]) == (2, 1)
    assert [p["row"] for p in doc["problems"]] == [4, 5]
    # row 4 reuses row 2's id (another contact's): the store, which takes an id once, refuses it
    assert doc["problems"][0]["reason"] == "the id o-2 is already taken by a different event"
    again = cli("event", "--file", str(data), "--db", db)  # the whole file sent again: nothing new
    assert "0 events stored" in again.stdout and "3 already stored (same id), not again" in again.stdout
    with Store(db) as store:
        assert rows(store) == 2 and report(store)["purchases"]["revenue"] == 1998


def test_plan_counts_a_repeated_event_id_once(tmp_path: Any) -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    events = tmp_path / "events.jsonl"
    lines = (root / "playbooks" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    order = {"type": "purchase", "contact": "c01", "at": "2026-12-02T10:00:00+08:00", "amount": 999, "id": "o-1"}
    events.write_text("\n".join([*lines, json.dumps(order), json.dumps(order), json.dumps(order)]) + "\n", "utf-8")
    args = ["plan", str(root / "playbooks" / "new_customer.pb"), "--contacts", str(root / "playbooks" / "contacts.csv"),
            "--start", "2026-12-01 00:00", "--days", "3", "--format", "json"]  # fmt: skip
    once = tmp_path / "once.jsonl"
    once.write_text("\n".join([*lines, json.dumps(order)]) + "\n", "utf-8")
    thrice = json.loads(cli(*args, "--events", str(events)).stdout)
    single = json.loads(cli(*args, "--events", str(once)).stdout)
    n = len(lines)
    assert [(p["row"], p["reason"]) for p in thrice["problems"]] == [
        (n + 2, f"event id 'o-1' repeats row {n + 1}: the same event, counted once"),
        (n + 3, f"event id 'o-1' repeats row {n + 1}: the same event, counted once"),
    ]
    assert {k: v for k, v in thrice.items() if k != "problems"} == {k: v for k, v in single.items() if k != "problems"}


def test_plan_reads_an_id_column_of_a_csv_events_file(tmp_path: Any) -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    events = tmp_path / "events.csv"
    events.write_text("type,contact,at,amount,id\n"
                      "purchase,c01,2026-12-02 10:00,999,o-1\n"
                      "purchase,c01,2026-12-02 10:00,999,o-1\n"
                      "purchase,c01,2026-12-02 11:00,5,o-1\n"
                      "purchase,c02,2026-12-02 11:00,5,\n", encoding="utf-8")  # fmt: skip
    args = ["plan", str(root / "playbooks" / "new_customer.pb"), "--contacts", str(root / "playbooks" / "contacts.csv"),
            "--events", str(events), "--start", "2026-12-01 00:00", "--days", "3", "--format", "json"]  # fmt: skip
    doc = json.loads(cli(*args).stdout)
    assert [(p["row"], p["reason"]) for p in doc["problems"]] == [
        (3, "event id 'o-1' repeats row 2: the same event, counted once"),
        (4, "event id 'o-1' was given to a different event at row 2: this row is left out"),
    ]


def test_a_backfill_of_old_events_warns_in_short(tmp_path: Any, pinned: None) -> None:
    data = tmp_path / "old.jsonl"
    data.write_text("".join(json.dumps(purchase(contact=f"c{i}", at="2026-09-01 10:00")) + "\n" for i in range(25)),
                    encoding="utf-8")  # fmt: skip
    result = cli("event", "--file", str(data), "--db", str(tmp_path / "s.db"))
    assert result.exit_code == 0 and "25 events stored" in result.stdout
    warned = [line for line in result.stderr.splitlines() if "days old: flows react to it now" in line]
    assert len(warned) == 20 and result.stderr.rstrip().endswith("… and 5 more warnings")
    doc = json.loads(cli("event", "--file", str(data), "--db", str(tmp_path / "t.db"), "--format", "json").stdout)
    assert len(doc["warnings"]) == 25 and doc["warnings"][0] == {
        "row": 1, "reason": "the event is 91.0 days old: flows react to it now, not back then"}  # fmt: skip


def test_the_same_id_posted_at_once_by_many_clients_is_stored_once(server: IntakeServer, store: Store) -> None:
    """Retries racing each other (a client's timeout, a proxy's retry): appends of one id
    are serialised in the store (PostgreSQL: the events advisory lock; SQLite: BEGIN
    IMMEDIATE), so exactly one of them stores it."""
    import threading

    body = json.dumps([purchase(id="race-1"), purchase(id="race-2", contact="c2")]).encode("utf-8")
    answers: list[tuple[int, dict[str, Any]]] = []
    go = threading.Event()

    def client() -> None:
        go.wait()
        answers.append(post(server, body, BEARER))

    threads = [threading.Thread(target=client) for _ in range(12)]
    for thread in threads:
        thread.start()
    go.set()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in answers) == [200] * 12
    assert sum(doc["stored"] for _, doc in answers) == 2 and rows(store) == 2
    assert len({tuple(doc["seqs"]) for _, doc in answers}) == 1  # every client got the same sequence numbers
