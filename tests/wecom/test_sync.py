"""Contacts and staff from WeCom: `playbook import --from wecom`, the adapter's sync
(playbook/adapters/wecom/sync.py) against the test server, the store import, re-reads on
callbacks and the daemon's schedule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from playbook.adapters.base import HttpRequest, TransientError
from playbook.adapters.wecom import crypto
from playbook.adapters.wecom.adapter import WeComAdapter
from playbook.adapters.wecom.sync import WeComSync, sync_interval
from playbook.cli.main import cli
from playbook.runtime.importing import import_synced, known_contacts
from playbook.runtime.rows import Journal
from playbook.runtime.store import Store
from playbook.testing.wecom_directory import Relation
from playbook.testing.wecom_server import WeComServer, event_xml
from playbook.vocab.values import Instant
from tests.runtime.conftest import backend, pg_database, store_url  # noqa: F401 (fixtures: SQLite and PostgreSQL)
from tests.wecom import Clock

CORP, SECRET = "wwsynccorp01", "sync-secret"
TOKEN, AES_KEY = "synctoken", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
T0 = 1_796_000_000


class Sleeper:
    """`sleep` for a simulated clock: waiting moves the clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.t += seconds


@pytest.fixture
def server():
    clock = Clock(T0)
    with WeComServer(corp_id=CORP, secret=SECRET, clock=clock, strict=True) as srv:
        yield srv


def adapter_for(server: WeComServer, tmp: Path, **options: Any) -> WeComAdapter:
    adapter = WeComAdapter({"corp_id": CORP, "base_url": server.url, "state_file": str(tmp / "state.json"), **options},
                           {"secret": SECRET, "callback_token": TOKEN, "callback_aes_key": AES_KEY},
                           clock=server.clock)  # fmt: skip
    adapter.open()
    return adapter


def corp_tag(server: WeComServer, name: str, group: str = "客户等级") -> str:
    with server._lock:
        doc = server._add_corp_tag({}, {"group_name": group, "tag": [{"name": name}]}, server.clock())
    return doc["tag_group"]["tag"][0]["id"]


def mark(server: WeComServer, userid: str, customer: str, *tag_ids: str) -> None:
    with server._lock:
        server._marks[(userid, customer)].update(tag_ids)


def shop(server: WeComServer) -> None:
    """Two staff members, three customers; wmB is followed by both."""
    d = server.directory
    d.customer("wmA", "李四", {"a1": Relation(remark="李部长", createtime=T0 - 86400 * 30, state="store-qr",
                                            add_way=1, personal_tags=["爱砍价"])})  # fmt: skip
    d.customer("wmB", "王五", {"a2": Relation(createtime=T0 - 86400 * 2, add_way=3),
                              "a1": Relation(createtime=T0 - 86400 * 10, remark="老王")})  # fmt: skip
    d.customer("wmC", "赵六", {"a2": Relation(createtime=T0 - 3600, state="live")})
    svip, fruit = corp_tag(server, "SVIP"), corp_tag(server, "水果", "兴趣")
    mark(server, "a1", "wmA", svip)
    mark(server, "a2", "wmB", fruit)
    mark(server, "a1", "wmB", svip)


def test_full_sync_records(server: WeComServer, tmp_path: Path) -> None:
    shop(server)
    adapter = adapter_for(server, tmp_path)
    found = adapter.sync({}, server.clock(), full=True)
    assert found.accounts == [{"id": "a1"}, {"id": "a2"}] and found.gone == [] and found.problems == []
    by_id = {r["id"]: r for r in found.contacts}
    assert by_id["wmA"] == {"id": "wmA", "account": "a1", "name": "李四", "remark": "李部长", "state": "store-qr",
                            "added_at": T0 - 86400 * 30, "add_way": 1, "tags": ["SVIP"]}  # fmt: skip
    # followed by two: the member who added them first owns them; tags from both; no personal tags by default
    assert by_id["wmB"]["account"] == "a1" and by_id["wmB"]["remark"] == "老王"
    assert by_id["wmB"]["added_at"] == T0 - 86400 * 10 and by_id["wmB"]["tags"] == ["SVIP", "水果"]
    assert by_id["wmC"]["state"] == "live" and by_id["wmC"]["tags"] == []
    assert found.calls == {"externalcontact/get_follow_user_list": 1, "externalcontact/get_corp_tag_list": 1,
                           "externalcontact/batch/get_by_user": 1}  # fmt: skip
    # the stored account is kept while that member still follows the customer
    again = adapter.sync({"wmB": "a2"}, server.clock(), full=True)
    assert {r["id"]: r["account"] for r in again.contacts}["wmB"] == "a2"
    adapter.close()


def test_personal_tags_come_from_externalcontact_get(server: WeComServer, tmp_path: Path) -> None:
    shop(server)
    adapter = adapter_for(server, tmp_path, personal_tags=True)
    server.clear_calls()
    found = adapter.sync({}, server.clock(), full=True)
    assert {r["id"]: r["tags"] for r in found.contacts}["wmA"] == ["SVIP", "爱砍价"]
    assert len(server.calls_to("externalcontact/get")) == 3  # one per customer


def test_moments_audience_tags_are_not_customer_tags(server: WeComServer, tmp_path: Path) -> None:
    shop(server)
    adapter = adapter_for(server, tmp_path)
    audience = corp_tag(server, "日常朋友圈·买家秀·1c9e", "playbook")
    mark(server, "a1", "wmA", audience)
    with adapter.state.lock:
        adapter.state.section("moment_tags")["a1"] = {audience: ["wmA"]}
    found = adapter.sync({}, server.clock(), full=True)
    assert {r["id"]: r["tags"] for r in found.contacts}["wmA"] == ["SVIP"]


def test_paging_and_100_userids_a_call(server: WeComServer, tmp_path: Path) -> None:
    staff = [f"u{i:03d}" for i in range(150)]
    for i in range(450):
        server.directory.customer(f"wm{i:04d}", f"客户{i}", [staff[i % 150]])
    adapter = adapter_for(server, tmp_path)
    server.clear_calls()
    found = adapter.sync({}, server.clock(), full=True)
    assert len(found.contacts) == 450 and len(found.accounts) == 150
    calls = server.calls_to("externalcontact/batch/get_by_user")
    assert all(len(c.body["userid_list"]) <= 100 and c.body["limit"] == 100 for c in calls)
    assert len(calls) == 5  # 100 members: 300 relations, 3 pages; 50 members: 150, 2 pages


def test_gone_only_for_accounts_read_completely(server: WeComServer, tmp_path: Path) -> None:
    shop(server)
    server.directory.customer("wmD", "钱七", ["a3"])
    adapter = adapter_for(server, tmp_path)
    known = {"wmA": "a1", "wmB": "a1", "wmC": "a2", "wmD": "a3", "wmOld": "a2", "c01": "someone-else"}
    server.remove_friend("wmC")
    server.directory.unlicensed.add("a3")
    server.remove_friend("wmD")
    found = adapter.sync(known, server.clock(), full=True)
    # wmC and wmOld: a2 was read completely and does not have them; wmD: a3 has no licence, left alone;
    # c01: its account is not a WeCom member this app sees
    assert found.gone == ["wmC", "wmOld"]
    assert len(found.problems) == 1 and "a3" in found.problems[0]


def test_rate_limit_answers_are_waited_out(server: WeComServer, tmp_path: Path) -> None:
    shop(server)
    adapter = adapter_for(server, tmp_path)
    sleeper = Sleeper(server.clock)  # type: ignore[arg-type]
    syncer = WeComSync(adapter.client, clock=server.clock, sleep=sleeper, per_minute=2)
    server.fail_next("externalcontact/batch/get_by_user", 45009)
    found = syncer.full({})
    assert len(found.contacts) == 3
    assert found.calls["externalcontact/batch/get_by_user"] == 2  # one 45009, then the answer
    assert sleeper.slept == [60.0]  # the minute block
    # pacing: with 2 calls a minute allowed, a third within the same minute waits for the window
    for _ in range(3):
        syncer.one("wmA", {})
    assert sleeper.slept == [60.0, 60.0]


def test_sync_option() -> None:
    assert sync_interval("6h") == 6 * 3600 and sync_interval(None) is None and sync_interval("1h30m") == 5400
    with pytest.raises(ValueError):
        sync_interval("often")
    with pytest.raises(ValueError):
        sync_interval("10s")  # at least a minute


def test_import_is_idempotent_and_deletes_through_the_event_log(server: WeComServer, tmp_path: Path,
                                                                 store_url: str) -> None:  # noqa: F811  # fmt: skip
    shop(server)
    adapter = adapter_for(server, tmp_path)
    with Store(store_url) as store:
        store.migrate()
        first = import_synced(store, adapter.sync(known_contacts(store), server.clock(), full=True), "wecom", T0)
        assert (first.contacts.inserted, first.accounts.inserted, first.deleted) == (3, 2, 0)
        records, _ = store.load_contacts()
        wm_a = next(r for r in records if r["id"] == "wmA")
        assert wm_a["added_at"] == Instant(T0 - 86400 * 30) and wm_a["tags"] == frozenset({"SVIP"})
        again = import_synced(store, adapter.sync(known_contacts(store), server.clock(), full=True), "wecom", T0)
        assert (again.contacts.unchanged, again.contacts.updated, again.accounts.unchanged) == (3, 0, 2)
        server.remove_friend("wmC")
        server.directory.relation("wmA", "a1").remark = "李总"
        third = import_synced(store, adapter.sync(known_contacts(store), server.clock(), full=True), "wecom", T0)
        assert (third.contacts.updated, third.contacts.unchanged, third.deleted) == (1, 1, 1)
        [event] = [e for e in store.next_events() if e.type == "deleted"]
        assert event.contact == "wmC" and event.data == {"by": "sync"}
        assert known_contacts(store) == {"wmA": "a1", "wmB": "a1", "wmC": "a2"}
        wm_c = next(r for r in store.load_contacts()[0] if r["id"] == "wmC")
        store.write(Journal(contacts=[wm_c], deleted_contacts={"wmC"}))  # as the engine records the deletion
        assert known_contacts(store) == {"wmA": "a1", "wmB": "a1"}  # no second `deleted` for it
    adapter.close()


def test_cli_import_from_wecom(server: WeComServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shop(server)
    server.clock = __import__("time").time  # the CLI uses the wall clock
    config = tmp_path / "playbook.toml"
    config.write_text(f'[store]\nurl = "store.db"\n[adapter]\nname = "wecom"\n[adapter.options]\n'
                      f'corp_id = "{CORP}"\nbase_url = "{server.url}"\nstate_file = "state.json"\n',
                      encoding="utf-8")  # fmt: skip
    monkeypatch.setenv("PLAYBOOK_WECOM_SECRET", SECRET)
    monkeypatch.delenv("PLAYBOOK_DB", raising=False)
    runner = CliRunner()
    out = runner.invoke(cli, ["--lang", "en", "import", "--from", "wecom", "--config", str(config), "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["contacts"] == {"rows": 3, "inserted": 3, "updated": 0, "unchanged": 0, "deleted": 0}
    assert doc["accounts"]["inserted"] == 2 and doc["calls"]["externalcontact/batch/get_by_user"] == 1
    again = runner.invoke(cli, ["import", "--from", "wecom", "--config", str(config), "--format", "json"])
    assert json.loads(again.output)["contacts"]["unchanged"] == 3
    table = runner.invoke(cli, ["--lang", "en", "import", "--from", "wecom", "--config", str(config)])
    assert table.exit_code == 0 and "wecom customers" in table.output and "API calls" in table.output
    wrong = runner.invoke(cli, ["import", "--from", "wecom", "some.csv", "--config", str(config)])
    assert wrong.exit_code != 0 and "--from" in wrong.output
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        assert store.status().contacts == 3


def _callback(adapter: WeComAdapter, fields: dict[str, Any]) -> int:
    route = adapter.callbacks(lambda events: None)["/wecom/callback"]
    query, body = crypto.seal_message(TOKEN, AES_KEY, CORP, event_xml(fields))
    return route(HttpRequest("POST", "/wecom/callback", query, body.encode("utf-8"))).status


def test_callbacks_name_customers_to_read_again(server: WeComServer, tmp_path: Path) -> None:
    shop(server)
    adapter = adapter_for(server, tmp_path, sync="6h")
    now = server.clock()
    assert adapter.sync_due(now)  # the first sync when the daemon starts
    assert len(adapter.sync({}, now).contacts) == 3
    assert not adapter.sync_due(now)
    server.directory.relation("wmA", "a1").remark = "李总"
    assert _callback(adapter, {"ToUserName": CORP, "FromUserName": "sys", "CreateTime": int(now), "MsgType": "event",
                               "Event": "change_external_contact", "ChangeType": "edit_external_contact",
                               "UserID": "a1", "ExternalUserID": "wmA"}) == 200  # fmt: skip
    assert adapter.sync_due(now)
    server.clear_calls()
    one = adapter.sync({"wmA": "a1"}, now)
    assert [r["remark"] for r in one.contacts] == ["李总"]
    assert [c.endpoint for c in server.calls] == ["externalcontact/get"]  # one customer, one call
    server.remove_friend("wmC")
    _callback(adapter, {"ToUserName": CORP, "FromUserName": "sys", "CreateTime": int(now) + 1, "MsgType": "event",
                        "Event": "change_external_contact", "ChangeType": "edit_external_contact", "UserID": "a2",
                        "ExternalUserID": "wmC"})  # fmt: skip
    assert adapter.sync({"wmC": "a2"}, now).gone == ["wmC"]
    # a corp tag renamed in the console: every customer carrying it changes, so a full sync comes
    _callback(adapter, {"ToUserName": CORP, "FromUserName": "sys", "CreateTime": int(now) + 2, "MsgType": "event",
                        "Event": "change_external_tag", "ChangeType": "update", "Id": "x", "TagType": "tag"})  # fmt: skip
    assert adapter.sync_due(now)
    server.clear_calls()
    adapter.sync({}, now)
    assert server.calls_to("externalcontact/batch/get_by_user")
    # then the schedule: nothing until 6 hours later
    assert not adapter.sync_due(now + 3600) and adapter.sync_due(now + 6 * 3600)
    adapter.close()


def test_without_the_sync_option_callbacks_read_nothing(server: WeComServer, tmp_path: Path) -> None:
    shop(server)
    adapter = adapter_for(server, tmp_path)
    _callback(adapter, {"ToUserName": CORP, "FromUserName": "sys", "CreateTime": T0, "MsgType": "event",
                        "Event": "change_external_contact", "ChangeType": "edit_external_contact", "UserID": "a1",
                        "ExternalUserID": "wmA"})  # fmt: skip
    assert not adapter.sync_due(T0 + 10**6)
    adapter.close()


def test_the_daemon_syncs_on_its_schedule(server: WeComServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from playbook.runtime.config import load_config
    from playbook.runtime.daemon import Daemon, RunOptions

    shop(server)
    server.directory.staff_send("a2", ["wmC"], "周末特价")  # a2's own mass message: wmC's quota spent
    config_file = tmp_path / "playbook.toml"
    config_file.write_text('[store]\nurl = "store.db"\n[adapter]\nname = "wecom"\n[adapter.options]\n'
                           f'corp_id = "{CORP}"\nsync = "6h"\n', encoding="utf-8")  # fmt: skip
    monkeypatch.delenv("PLAYBOOK_DB", raising=False)
    config = load_config(config_file)
    adapter = adapter_for(server, tmp_path, sync="6h")
    playbook = Path(__file__).resolve().parents[2] / "playbooks" / "new_customer.pb"
    assert Daemon(config, RunOptions([str(playbook)], once=True), adapter=adapter, clock=server.clock).run() == 0
    with Store(config.store.url) as store:
        records, deleted = store.load_contacts()
        assert sorted(r["id"] for r in records) == ["wmA", "wmB", "wmC"] and not deleted
        platform = {(c.rule, c.scope_id): c.count for c in store.load_state().counters if c.scope == "platform"}
        assert platform == {("dm per contact per day", "wmC"): 1, ("dm per contact per month", "wmC"): 1}


def test_a_callback_during_a_long_sync_is_answered_at_once(server: WeComServer, tmp_path: Path) -> None:
    import threading
    import time

    shop(server)
    adapter = adapter_for(server, tmp_path, sync="6h")
    server.slow("externalcontact/batch/get_by_user", 1.5, after=False)  # WeCom takes its time
    syncing = threading.Thread(target=lambda: adapter.sync({}, server.clock()))
    syncing.start()
    time.sleep(0.3)
    started = time.monotonic()
    status = _callback(adapter, {"ToUserName": CORP, "FromUserName": "sys", "CreateTime": T0, "MsgType": "event",
                                 "Event": "change_external_contact", "ChangeType": "edit_external_contact",
                                 "UserID": "a1", "ExternalUserID": "wmA"})  # fmt: skip
    assert status == 200 and time.monotonic() - started < 1.0  # WeCom gives up after 5 s
    syncing.join()
    assert adapter.sync_due(server.clock())  # wmA, named while the sync ran, is read next
    adapter.close()


def test_a_failed_re_read_waits_a_minute_and_keeps_the_customer(server: WeComServer, tmp_path: Path) -> None:
    shop(server)
    adapter = adapter_for(server, tmp_path, sync="6h")
    now = server.clock()
    adapter.sync({}, now)
    _callback(adapter, {"ToUserName": CORP, "FromUserName": "sys", "CreateTime": T0, "MsgType": "event",
                        "Event": "change_external_contact", "ChangeType": "edit_external_contact", "UserID": "a1",
                        "ExternalUserID": "wmA"})  # fmt: skip
    server.fail_http("externalcontact/get", 502)
    with pytest.raises(TransientError):
        adapter.sync({}, now)
    assert not adapter.sync_due(now + 30) and adapter.sync_due(now + 60)
    assert [r["id"] for r in adapter.sync({}, now + 60).contacts] == ["wmA"]
    adapter.close()
