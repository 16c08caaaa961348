"""Standing groups with WeCom (docs/language.md §7.2): an invitation carries its numbered
group's join way; a customer who scans it lands in the first chat with room, or in a room
WeCom makes when all are full (auto_create_room,
https://developer.work.weixin.qq.com/document/path/92229; at most 500 a customer group,
https://developer.work.weixin.qq.com/document/path/98429); the member-change callback names
only the chat, and the adapter adds the group instance the chat belongs to, so the engine
counts the member in the right group."""

from __future__ import annotations

from pathlib import Path

from playbook.adapters.wecom.adapter import CALLBACK_PATH, WeComAdapter
from playbook.runtime.intake import IntakeConfig, IntakeServer
from playbook.runtime.store import Store
from playbook.testing.wecom_server import CHAT_MEMBERS_MAX, WeComServer
from playbook.vocab.localtime import LocalTime
from tests.wecom.test_adapter import AGENT, CORP, SECRET, bodies, delivery

TOKEN, KEY = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"


def member_change(chat: str, member: str, detail: str = "add_member", at: int = 1796000000) -> dict:
    return {"ToUserName": CORP, "FromUserName": "sys", "CreateTime": at, "MsgType": "event",
            "Event": "change_external_chat", "ChatId": chat, "ChangeType": "update", "UpdateDetail": detail,
            "JoinScene": 3, "MemChangeCnt": 1, "MemChangeList": [member]}  # fmt: skip


def test_a_scan_into_an_auto_created_room_counts_in_its_group(tmp_path: Path) -> None:
    server = WeComServer(corp_id=CORP, strict=False, secret=SECRET, agent_id=AGENT).start()
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    adapter = WeComAdapter({"corp_id": CORP, "agent_id": AGENT, "base_url": server.url,
                            "state_file": str(tmp_path / "s.json"), "media_dir": str(tmp_path),
                            "groups": {"VIP会员群": ["wrVipTemplate"]}},
                           {"secret": SECRET, "callback_token": TOKEN, "callback_aes_key": KEY})  # fmt: skip
    adapter.open()
    routes = adapter.callbacks(lambda events: store.append_events(list(events), "adapter"))
    intake = IntakeServer(store, IntakeConfig(port=0, events=False), LocalTime("Asia/Shanghai"), routes)
    intake.start()
    try:
        instance = "VIP会员群/zhangsan/1"
        adapter.send([delivery("v1", contact="wmA", group=instance, flow="VIP群邀请", content="VIP邀请")])
        (way,) = bodies(server, "add_join_way")
        assert way["auto_create_room"] == 1 and way["room_base_name"] == "VIP会员群"
        config_id = server.calls_to("get_join_way")[0].body["config_id"]
        for n in range(CHAT_MEMBERS_MAX):  # the template chat fills up
            assert server.scan_join_way(config_id, f"wm{n}") == "wrVipTemplate"
        room = server.scan_join_way(config_id, "wmA")
        assert room is not None and room != "wrVipTemplate"  # WeCom made a room
        assert server.chat_name(room) == "VIP会员群1" and server.chat_members(room) == ["wmA"]
        url = intake.url + CALLBACK_PATH
        assert server.send_callback(url, TOKEN, KEY, CORP, member_change(room, "wmA")).status_code == 200
        assert server.send_callback(url, TOKEN, KEY, CORP, member_change("wrElsewhere", "wmB", at=1796000060)
                                    ).status_code == 200  # fmt: skip
        joined, other = store.next_events()
        assert (joined.type, joined.contact, joined.data["chat_id"]) == ("joined_group", "wmA", room)
        assert joined.data["group"] == instance  # found by reading the join way again
        assert "group" not in other.data  # a chat no join way of ours leads to
    finally:
        intake.stop()
        adapter.close()
        server.stop()
        store.close()


def test_without_auto_create_room_a_full_way_takes_nobody() -> None:
    with WeComServer(corp_id=CORP, strict=False, secret=SECRET, agent_id=AGENT) as server:
        import httpx

        token = httpx.get(f"{server.url}/cgi-bin/gettoken", params={"corpid": CORP, "corpsecret": SECRET}).json()
        answer = httpx.post(f"{server.url}/cgi-bin/externalcontact/groupchat/add_join_way",
                            params={"access_token": token["access_token"]},
                            json={"scene": 2, "auto_create_room": 0, "chat_id_list": ["wrOnly"]}).json()  # fmt: skip
        config_id = answer["config_id"]
        for n in range(CHAT_MEMBERS_MAX):
            server.scan_join_way(config_id, f"wm{n}")
        assert server.scan_join_way(config_id, "wmLate") is None
        assert server.scan_join_way(config_id, "wm0") == "wrOnly"  # already a member
        assert server.join_way(config_id)["chat_id_list"] == ["wrOnly"]


def test_a_full_sync_reads_who_is_in_each_group_instance(tmp_path: Path) -> None:
    """Members a callback never named (no MemChangeList, a lost callback) come from the chats'
    member lists (groupchat/get, https://developer.work.weixin.qq.com/document/path/96338):
    the difference from what the adapter knew, as joined_group/left_group (by = "sync")."""
    from playbook.runtime.importing import import_synced

    with WeComServer(corp_id=CORP, strict=False, secret=SECRET, agent_id=AGENT) as server:
        server.add_chat("wrVipTemplate", "zhangsan")
        store = Store(f"sqlite:///{tmp_path / 'store.db'}")
        store.migrate()
        adapter = WeComAdapter({"corp_id": CORP, "agent_id": AGENT, "base_url": server.url,
                                "state_file": str(tmp_path / "s.json"), "media_dir": str(tmp_path),
                                "groups": {"VIP会员群": ["wrVipTemplate"]}}, {"secret": SECRET})  # fmt: skip
        adapter.open()
        try:
            instance = "VIP会员群/zhangsan/1"
            adapter.send([delivery("v1", contact="wmA", group=instance, flow="VIP群邀请", content="VIP邀请")])
            config_id = server.calls_to("get_join_way")[0].body["config_id"]
            server.scan_join_way(config_id, "wmA")
            server.scan_join_way(config_id, "wmB")
            first = adapter.sync({}, 1796000000, full=True)
            assert [(e.type, e.contact, e.data["group"], e.data["by"]) for e in first.events] == [
                ("joined_group", "wmA", instance, "sync"), ("joined_group", "wmB", instance, "sync")]  # fmt: skip
            assert first.calls["externalcontact/groupchat/get"] == 1
            import_synced(store, first, "wecom", 1796000000)
            assert [e.type for e in store.next_events()] == ["joined_group", "joined_group"]
            server.leave_chat("wrVipTemplate", "wmA")
            again = adapter.sync({}, 1796003600, full=True)
            assert [(e.type, e.contact) for e in again.events] == [("left_group", "wmA")]  # only the difference
            assert adapter.sync({}, 1796007200, full=True).events == []
        finally:
            adapter.close()
            store.close()
