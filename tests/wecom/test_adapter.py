"""The WeCom adapter, channel by channel, against the WeCom-compatible server (only the base URL
tells it where WeCom is)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from playbook.adapters import registry
from playbook.adapters.base import DEAD, FAILED, LATER, SENT, Delivery
from playbook.adapters.capabilities import wecom_limits
from playbook.adapters.wecom.adapter import WeComAdapter, moment_tag_name
from playbook.diagnostics import PlaybookError
from playbook.testing.wecom_server import WeComServer
from tests.wecom import Clock

CORP, SECRET, AGENT = "wwadapter001", "adapter-secret", 1000002
T0 = 1_796_000_000  # 2026-11-30, a Monday


def delivery(key: str, channel: str = "dm", account: str | None = "zhangsan", contact: str | None = None, *,
             text: str = "您好", content: str | None = "欢迎语", group: str | None = None,
             audience: tuple[str, ...] | None = None, parts: dict[str, Any] | None = None, at: int = T0,
             attempt: int = 1, ref: str | None = None, flow: str = "新客培育", step: str = "s1") -> Delivery:  # fmt: skip
    return Delivery(key=key, version="pb-1", flow=flow, step=step, channel=channel, account=account, contact=contact,
                    group=group, audience=audience, content=content, text=text, parts=parts, at=at, due=at,
                    attempt=attempt, ref=ref)  # fmt: skip


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def server(clock: Clock) -> Iterator[WeComServer]:
    # friendships learnt from the calls: these tests are about other behaviours (strict: test_faithful.py)
    with WeComServer(corp_id=CORP, strict=False, secret=SECRET, agent_id=AGENT, clock=clock) as srv:
        yield srv


@pytest.fixture
def make(server: WeComServer, clock: Clock, tmp_path: Path) -> Iterator[Callable[..., WeComAdapter]]:
    made: list[WeComAdapter] = []

    def build(**options: Any) -> WeComAdapter:
        opts = {"corp_id": CORP, "agent_id": AGENT, "base_url": server.url, "state_file": str(tmp_path / "state.json"),
                "media_dir": str(tmp_path), **options}  # fmt: skip
        adapter = WeComAdapter(opts, {"secret": SECRET}, clock=clock)
        adapter.open()
        made.append(adapter)
        return adapter

    yield build
    for adapter in made:
        adapter.close()


def bodies(server: WeComServer, endpoint: str) -> list[Any]:
    return [c.body for c in server.calls_to(endpoint) if c.errcode == 0]


# ---- options -------------------------------------------------------------------------------------
def test_registered_and_declares_what_it_does() -> None:
    cls = registry.adapter_class("wecom")
    assert cls is WeComAdapter and cls.gives_receipts and not cls.idempotent
    caps = cls.capabilities
    assert caps.tags and caps.batch_size == 10_000 and not caps.dissolve_groups and caps.limits == wecom_limits()


@pytest.mark.parametrize(
    ("options", "secrets", "words"),
    [
        ({"corp_id": CORP, "agnet_id": 1}, {"secret": "x"}, "did you mean 'agent_id'"),
        ({}, {"secret": "x"}, "corp_id"),
        ({"corp_id": CORP}, {}, "secret"),
        ({"corp_id": CORP, "quota": "year"}, {"secret": "x"}, "month, week or day"),
        ({"corp_id": CORP, "app_messages_per_minute": 40}, {"secret": "x"}, "at most 30"),
        ({"corp_id": CORP, "app_messages_per_hour": 1001}, {"secret": "x"}, "at most 1000"),
        ({"corp_id": CORP, "groups": {"g": "  "}}, {"secret": "x"}, "groups.g"),
        ({"corp_id": CORP, "agent_id": "app"}, {"secret": "x"}, "AgentId"),
        ({"corp_id": CORP, "base_url": "ftp://x"}, {"secret": "x"}, "base_url"),
    ],
)
def test_options_are_checked(options: dict[str, Any], secrets: dict[str, str], words: str) -> None:
    with pytest.raises(PlaybookError) as caught:
        WeComAdapter(options, secrets)
    diagnostic = caught.value.diagnostics[0]
    assert words in f"{diagnostic.message} {diagnostic.hint}"


def test_the_quota_mode_sets_the_limits_and_secrets_stay_out_of_the_repr() -> None:
    secrets = {"secret": "s-e-c-r-e-t", "callback_token": "tok123", "callback_aes_key": "k" * 43}
    week = WeComAdapter({"corp_id": CORP, "quota": "week"}, secrets)
    assert week.capabilities.limits == wecom_limits("week") and week.capabilities.tags
    assert WeComAdapter({"corp_id": CORP, "quota": "day"}, secrets).capabilities.limits == wecom_limits("day")
    shown = repr(week) + repr(week.client)
    assert all(value not in shown for value in secrets.values())


# ---- dm ------------------------------------------------------------------------------------------
def test_same_content_goes_in_one_call_split_above_10000(
    server: WeComServer, make: Callable[..., WeComAdapter]
) -> None:
    adapter = make()
    batch = [delivery(f"k{i:05d}", contact=f"wm{i:05d}") for i in range(10_001)]
    results = adapter.send(batch)
    assert all(r.status == SENT for r in results)
    calls = bodies(server, "add_msg_template")
    assert [len(b["external_userid"]) for b in calls] == [10_000, 1]
    assert calls[0]["sender"] == "zhangsan" and calls[0]["chat_type"] == "single"
    assert calls[0]["text"] == {"content": "您好"}
    assert len({r.ref for r in results}) == 2 and results[0].ref == server.tasks[0].msgid


def test_different_texts_are_different_tasks(server: WeComServer, make: Callable[..., WeComAdapter]) -> None:
    adapter = make()
    results = adapter.send([delivery("a", contact="wmA", text="阿四您好"), delivery("b", contact="wmB", text="白一您好"),
                            delivery("c", contact="wmC", text="阿四您好")])  # fmt: skip
    assert [r.status for r in results] == [SENT] * 3 and results[0].ref == results[2].ref != results[1].ref
    assert sorted(b["external_userid"] for b in bodies(server, "add_msg_template")) == [["wmA", "wmC"], ["wmB"]]


def test_attachments_are_uploaded_once_and_again_after_three_days(server: WeComServer, clock: Clock,
                                                                   make: Callable[..., WeComAdapter],
                                                                   tmp_path: Path) -> None:  # fmt: skip
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "new.jpg").write_bytes(b"\xff\xd8\xff-a-jpeg-image")
    adapter = make()
    parts = {"images": ["assets/new.jpg"], "link": "https://example.com/story", "title": "品牌故事"}
    adapter.send([delivery("a", contact="wmA", parts=parts)])
    adapter.send([delivery("b", contact="wmB", parts=parts)])
    assert len(server.calls_to("media/upload")) == 1
    image, link = bodies(server, "add_msg_template")[1]["attachments"]
    assert link == {"msgtype": "link", "link": {"title": "品牌故事", "url": "https://example.com/story"}}
    assert server.media(image["image"]["media_id"])["filename"] == "new.jpg"
    clock.t += 3 * 86400  # the media_id is gone: uploaded again
    assert adapter.send([delivery("c", contact="wmC", parts=parts)])[0].status == SENT
    assert len(server.calls_to("media/upload")) == 2
    missing = adapter.send([delivery("d", contact="wmD", parts={"images": ["assets/none.jpg"]})])[0]
    assert missing.status == DEAD and "none.jpg" in (missing.error or "")


def test_fail_list_and_41048_are_dead_with_a_reason(clock: Clock, tmp_path: Path) -> None:
    with WeComServer(corp_id=CORP, secret=SECRET, clock=clock, strict=True) as server:
        server.add_customer("wmA", "zhangsan")
        server.add_customer("wmB", "lisi")
        adapter = WeComAdapter({"corp_id": CORP, "base_url": server.url, "state_file": str(tmp_path / "s.json")},
                               {"secret": SECRET}, clock=clock)  # fmt: skip
        a, b = adapter.send([delivery("a", contact="wmA"), delivery("b", contact="wmB")])
        assert a.status == SENT and b.status == DEAD and "fail_list" in (b.error or "")
        (c,) = adapter.send([delivery("c", contact="wmB")])
        assert c.status == DEAD and "41048" in (c.error or "")
        adapter.close()


def test_an_invitation_carries_its_instance_join_way(server: WeComServer, make: Callable[..., WeComAdapter]) -> None:
    adapter = make(groups={"车厘子预售群": ["wrTemplate1"]})
    instance = "车厘子预售群/zhangsan/2026-12-04/1"
    invite = {"group": instance, "flow": "车厘子预售群", "content": "预售邀请", "text": "进群吗"}
    adapter.send([delivery("i1", contact="wmA", **invite), delivery("i2", contact="wmB", **invite)])
    adapter.send([delivery("i3", contact="wmC", **invite)])
    (way,) = bodies(server, "add_join_way")  # once per instance
    assert way["scene"] == 2 and way["auto_create_room"] == 1 and way["room_base_name"] == "车厘子预售群"
    assert way["chat_id_list"] == ["wrTemplate1"] and way["state"] == instance
    qr = server.join_way(server.calls_to("get_join_way")[0].body["config_id"])["qr_code"]
    for body in bodies(server, "add_msg_template"):
        assert body["attachments"] == [{"msgtype": "link", "link": {"title": "车厘子预售群", "url": qr}}]
    other = {**invite, "group": "水果群/zhangsan/1", "flow": "水果群"}  # no template chats: the text alone
    adapter.send([delivery("i4", contact="wmD", **other)])
    assert "attachments" not in bodies(server, "add_msg_template")[-1]
    state = json.loads(Path(adapter.state_path).read_text(encoding="utf-8"))
    assert state["join_ways"][instance]["qr_code"] == qr


def test_a_journey_invitation_into_a_standing_group_uses_the_group_join_way(
    server: WeComServer, make: Callable[..., WeComAdapter]
) -> None:
    """`invite VIP会员群` in a journey: the delivery's flow is the journey, its group the standing
    group's numbered group; the join way is the group's (its template chats, its name for the
    rooms WeCom makes when full: auto_create_room,
    https://developer.work.weixin.qq.com/document/path/92229)."""
    adapter = make(groups={"VIP会员群": ["wrVip1"]})
    invite = {"group": "VIP会员群/zhangsan/1", "flow": "VIP群邀请", "content": "VIP邀请", "text": "进群吗"}
    adapter.send([delivery("v1", contact="wmA", **invite)])
    (way,) = bodies(server, "add_join_way")
    assert way["auto_create_room"] == 1 and way["room_base_name"] == "VIP会员群" and way["chat_id_list"] == ["wrVip1"]
    (body,) = bodies(server, "add_msg_template")
    assert body["attachments"][0]["link"]["title"] == "VIP会员群"


# ---- group posts ---------------------------------------------------------------------------------
def test_group_posts_go_to_the_instance_chats(server: WeComServer, make: Callable[..., WeComAdapter]) -> None:
    adapter = make(groups={"车厘子预售群": {"zhangsan": ["wrT1", "wrT2"], "lisi": ["wrL1"]}})  # chats per account
    instance = "车厘子预售群/zhangsan/2026-12-04/1"
    adapter.send([delivery("i1", contact="wmA", group=instance, flow="车厘子预售群")])
    post = {"channel": "group", "group": instance, "flow": "车厘子预售群", "content": "开群欢迎", "text": "欢迎大家"}
    (result,) = adapter.send([delivery("p1", **post)])
    body = bodies(server, "add_msg_template")[-1]
    assert result.status == SENT and body["chat_type"] == "group" and body["chat_id_list"] == ["wrT1", "wrT2"]
    assert body["sender"] == "zhangsan"
    lisi = {**post, "group": "车厘子预售群/lisi/2026-12-04/1"}  # no invitation yet: the template chats
    assert adapter.send([delivery("p3", account="lisi", **lisi)])[0].status == SENT
    assert bodies(server, "add_msg_template")[-1]["chat_id_list"] == ["wrL1"]
    (lost,) = adapter.send([delivery("p2", **{**post, "group": "无名群/zhangsan/1", "flow": "无名群"})])
    assert lost.status == DEAD and "groups" in (lost.error or "")


# ---- moments -------------------------------------------------------------------------------------
def test_moments_tag_sync_comes_first(server: WeComServer, make: Callable[..., WeComAdapter],
                                      tmp_path: Path) -> None:  # fmt: skip
    (tmp_path / "a.jpg").write_bytes(b"\x89PNG-moment-image")
    adapter = make()
    rule = {"channel": "moment", "flow": "日常朋友圈", "step": "every tue at 12:00: post 买家秀", "content": "买家秀",
            "text": "来自老朋友们的真实反馈", "parts": {"images": ["a.jpg"]}}  # fmt: skip
    (first,) = adapter.send([delivery("m1", audience=("wmA", "wmB", "wmC"), **rule)])
    assert first.status == SENT and first.ref and first.ref.startswith("moment:job")
    endpoints = [c.endpoint.rsplit("/", 1)[-1] for c in server.calls if c.errcode == 0]
    assert endpoints.index("add_moment_task") > max(i for i, e in enumerate(endpoints) if e == "mark_tag")
    tag = server.tag_id(moment_tag_name("日常朋友圈", rule["step"], "买家秀"), "playbook")
    assert tag is not None and len(moment_tag_name("日常朋友圈", rule["step"], "买家秀")) <= 30
    job = server.moment_jobs[-1]
    assert job.audience == {"zhangsan": ["wmA", "wmB", "wmC"]} and job.tag_list == [tag]
    assert server.media(job.attachments[0]["image"]["media_id"])["attachment_type"] == 1
    server.clear_calls()
    adapter.send([delivery("m2", audience=("wmB", "wmC", "wmD"), **rule)])  # only the difference is marked
    marks = bodies(server, "mark_tag")
    assert marks == [{"userid": "zhangsan", "external_userid": "wmD", "add_tag": [tag]},
                     {"userid": "zhangsan", "external_userid": "wmA", "remove_tag": [tag]}]  # fmt: skip
    assert server.moment_jobs[-1].audience == {"zhangsan": ["wmB", "wmC", "wmD"]}


# ---- tasks ---------------------------------------------------------------------------------------
def test_tasks_are_app_messages_throttled_below_the_drop_limits(server: WeComServer, clock: Clock,
                                                                make: Callable[..., WeComAdapter]) -> None:  # fmt: skip
    adapter = make(app_messages_per_minute=3, app_messages_per_hour=5)
    task = {"channel": "task", "content": None}
    results = adapter.send([delivery(f"t{i}", text=f"任务{i}", **task) for i in range(4)])
    assert [r.status for r in results] == [SENT, SENT, SENT, LATER] and results[3].retry_after == 60
    body = bodies(server, "message/send")[0]
    assert body["touser"] == "zhangsan" and body["agentid"] == AGENT and body["text"] == {"content": "任务0"}
    clock.t += 60
    assert [r.status for r in adapter.send([delivery(f"u{i}", **task) for i in range(3)])] == [SENT, SENT, LATER]
    assert server.app_messages("zhangsan", delivered=False) == []  # none dropped by WeCom
    no_agent = make(agent_id=None, state_file=str(Path(adapter.state_path).with_name("other.json")))
    (dead,) = no_agent.send([delivery("t9", **task)])
    assert dead.status == DEAD and "agent_id" in (dead.error or "")


# ---- tags ----------------------------------------------------------------------------------------
def test_playbook_tags_map_to_corp_tags(clock: Clock, tmp_path: Path) -> None:
    with WeComServer(corp_id=CORP, secret=SECRET, clock=clock, strict=True) as server:
        server.add_customer("wmA", "zhangsan")
        adapter = WeComAdapter({"corp_id": CORP, "base_url": server.url, "state_file": str(tmp_path / "s.json")},
                               {"secret": SECRET}, clock=clock)  # fmt: skip
        tag = {"channel": "tag", "contact": "wmA", "text": "VIP"}
        assert adapter.send([delivery("t1", content="add", **tag)])[0].status == SENT
        vip = server.tag_id("VIP", "playbook")
        assert vip and server.tags_of("wmA", "zhangsan") == {vip}
        assert adapter.send([delivery("t2", content="add", **{**tag, "contact": "wmA"})])[0].status == SENT
        assert len(server.calls_to("add_corp_tag")) == 1  # the id is cached
        assert adapter.send([delivery("t3", content="remove", **tag)])[0].status == SENT
        assert server.tags_of("wmA") == set()
        before = len(server.calls_to("mark_tag"))
        assert adapter.send([delivery("t4", content="remove", **{**tag, "text": "不存在"})])[0].status == SENT
        assert len(server.calls_to("mark_tag")) == before and len(server.calls_to("add_corp_tag")) == 1
        (other,) = adapter.send([delivery("t5", content="add", **{**tag, "contact": "wmStranger"})])
        assert other.status == DEAD and "84061" in (other.error or "")
        adapter.close()


# ---- receipts, retries, reconcile ----------------------------------------------------------------
def test_receipts_one_call_per_task(server: WeComServer, clock: Clock, make: Callable[..., WeComAdapter]) -> None:
    adapter = make()
    sent = adapter.send([delivery(f"k{i}", contact=f"wm{i}") for i in range(3)])
    asked = [delivery(f"k{i}", contact=f"wm{i}", ref=sent[i].ref) for i in range(3)]
    assert adapter.receipts(asked) == []  # not confirmed yet
    assert adapter.receipts(asked) == []  # and not asked again at once
    assert len(server.calls_to("get_groupmsg_send_result")) == 1
    server.remove_friend("wm1")
    clock.t += 3600
    server.confirm(sent[0].ref or "", "zhangsan")
    got = {r.key: (r.status, r.at) for r in adapter.receipts(asked)}
    assert got == {"k0": ("confirmed", int(clock.t)), "k1": ("not_friend", None), "k2": ("confirmed", int(clock.t))}
    assert len(server.calls_to("get_groupmsg_send_result")) == 2


def test_a_retry_after_a_lost_answer_sends_nothing_twice(
    server: WeComServer, make: Callable[..., WeComAdapter]
) -> None:
    adapter = make(timeout=0.3)
    server.slow("add_msg_template", 1.0)  # the task is created, the answer comes too late
    batch = [delivery("a", contact="wmA"), delivery("b", contact="wmB")]
    assert [r.status for r in adapter.send(batch)] == [FAILED, FAILED]
    retried = adapter.send([delivery("a", contact="wmA", attempt=2), delivery("b", contact="wmB", attempt=2),
                            delivery("c", contact="wmC", attempt=2)])  # fmt: skip
    assert [r.status for r in retried] == [SENT] * 3
    (first, second) = server.tasks
    assert retried[0].ref == retried[1].ref == first.msgid and retried[2].ref == second.msgid
    assert second.staff["zhangsan"].targets == ["wmC"]  # only the one not sent before


def test_reconcile_finds_what_a_crash_left_sending(server: WeComServer, make: Callable[..., WeComAdapter]) -> None:
    adapter = make()
    sent = adapter.send([delivery("a", contact="wmA", text="活动通知")])
    restarted = make()  # a new process: the state file remembers the msgid as soon as WeCom gave it
    found = restarted.reconcile([delivery("a", contact="wmA", text="活动通知"), delivery("z", contact="wmZ", text="活动通知"),
                                 delivery("m", channel="moment", audience=("wmA",)),
                                 delivery("t", channel="tag", contact="wmA", content="add", text="VIP")])  # fmt: skip
    got = {r.key: (r.status, r.ref) for r in found}
    # z and the Moments post never reached WeCom (no call was recorded for them): sent again
    assert got == {"a": (SENT, sent[0].ref), "z": (FAILED, None), "m": (FAILED, None), "t": (FAILED, None)}
    assert not server.calls_to("get_groupmsg_list_v2")  # the record answered, no listing needed


def test_whole_call_failures_become_each_delivery_result(
    server: WeComServer, make: Callable[..., WeComAdapter]
) -> None:
    adapter = make()
    batch = [delivery("a", contact="wmA"), delivery("b", contact="wmB")]
    server.fail_next("add_msg_template", 45009)  # a minute block: put off a minute, no attempt used
    assert {(r.status, r.retry_after) for r in adapter.send(batch)} == {(LATER, 60.0)}
    adapter._blocks.clear()
    server.fail_next("add_msg_template", 60020)  # a configuration error: held, not dead
    results = adapter.send(batch)
    assert {r.status for r in results} == {LATER} and all("trusted IP" in (r.error or "") for r in results)
    adapter._holds.clear()
    server.fail_next("add_msg_template", 40058)  # a bad request stays permanent
    assert {r.status for r in adapter.send(batch)} == {DEAD}
    server.fail_http("mark_tag", 502)
    (tag,) = adapter.send([delivery("t", channel="tag", contact="wmA", content="add", text="VIP")])
    assert tag.status == FAILED and "502" in (tag.error or "")
    assert all(SECRET not in (r.error or "") for r in [*results, tag])


def test_a_crash_mid_call_is_reconciled_by_the_dispatcher(server: WeComServer, clock: Clock, tmp_path: Path,
                                                          make: Callable[..., WeComAdapter]) -> None:  # fmt: skip
    from playbook.runtime.dispatch import Dispatcher, delivery_of
    from playbook.runtime.rows import Journal, TouchRow
    from playbook.runtime.store import Store

    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    store.save_version({"version": "pb-1", "name": "crash"})
    rows = [TouchRow(key=f"pb-1/通知/{c}/s1/1", version="pb-1", flow="通知", step="dm", channel="dm", due=T0,
                     state="pending", account="zhangsan", contact=c, at=T0, content="通知", text="今晚活动",
                     outcome="ok", next_attempt_at=T0) for c in ("wmA", "wmB")]  # fmt: skip
    store.write(Journal(touches=rows))
    claimed = store.claim_due(T0, "first-process")
    make().send([delivery_of(claimed[0])])  # WeCom took the first one; the process died before settling
    dispatcher = Dispatcher(store, make(), owner="second-process", clock=clock)  # a restart
    report = dispatcher.reconcile()
    dispatcher.close()
    assert (report.sent, report.failed, report.unknown) == (1, 1, 0)  # wmB never reached WeCom: sent again
    states = {r.contact: (r.state, r.adapter_ref) for r in store.touches()}
    assert states == {"wmA": ("sent", server.tasks[0].msgid), "wmB": ("failed", None)}
    store.close()
