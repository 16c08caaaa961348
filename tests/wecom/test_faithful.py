"""WeCom as it really behaves (issue 13): the test server where our first reading of the pages
was wrong, and the adapter against it — recovery that cannot duplicate a task, configuration
errors and 45009 blocks that hold touches instead of killing them. Each server test names the
page it follows (developer.work.weixin.qq.com/document/path/NNNNN)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from playbook.adapters.base import DEAD, FAILED, LATER, SENT, Delivery
from playbook.adapters.wecom.adapter import WeComAdapter
from playbook.testing.wecom_server import WeComServer
from tests.wecom import Clock

CORP, SECRET, AGENT = "wwfaithful01", "faithful-secret", 1000002
T0 = 1_796_000_000  # 2026-11-30 (a Monday), 08:53 China time


def delivery(key: str, channel: str = "dm", account: str | None = "zhangsan", contact: str | None = None, *,
             text: str = "今晚活动", group: str | None = None, at: int = T0, attempt: int = 1,
             flow: str = "活动通知", parts: dict[str, Any] | None = None, audience: tuple[str, ...] | None = None,
             content: str = "通知", ref: str | None = None) -> Delivery:  # fmt: skip
    return Delivery(key=key, version="pb-1", flow=flow, step="s1", channel=channel, account=account, contact=contact,
                    group=group, audience=audience, content=content, text=text, parts=parts, at=at, due=at,
                    attempt=attempt, ref=ref)  # fmt: skip


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def server(clock: Clock) -> Iterator[WeComServer]:
    with WeComServer(corp_id=CORP, secret=SECRET, agent_id=AGENT, clock=clock) as srv:  # strict by default
        for customer in ("wmA", "wmB", "wmC"):
            srv.add_customer(customer, "zhangsan")
        srv.add_chat("wrChat1", "zhangsan")
        srv.add_chat("wrChat2", "zhangsan")
        yield srv


@pytest.fixture
def make(server: WeComServer, clock: Clock, tmp_path: Path) -> Iterator[Callable[..., WeComAdapter]]:
    made: list[WeComAdapter] = []

    def build(state: str = "state.json", **options: Any) -> WeComAdapter:
        opts = {"corp_id": CORP, "agent_id": AGENT, "base_url": server.url, "state_file": str(tmp_path / state),
                "media_dir": str(tmp_path), **options}  # fmt: skip
        adapter = WeComAdapter(opts, {"secret": SECRET}, clock=clock)
        adapter.open()
        made.append(adapter)
        return adapter

    yield build
    for adapter in made:
        adapter.close()


class Api:
    """A bare caller: the token in the query, JSON bodies."""

    def __init__(self, server: WeComServer, secret: str = SECRET) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=5)
        self.token = self.http.get("/cgi-bin/gettoken", params={"corpid": CORP, "corpsecret": secret}).json().get(
            "access_token", "")

    def post(self, path: str, body: Any) -> dict[str, Any]:
        return self.http.post(f"/cgi-bin/{path}", params={"access_token": self.token}, json=body).json()

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self.http.get(f"/cgi-bin/{path}", params={"access_token": self.token, **params}).json()


def mass(api: Api, chat_type: str = "single", **body: Any) -> dict[str, Any]:
    base = {"chat_type": chat_type, "sender": "zhangsan", "text": {"content": "hi"}}
    if chat_type == "single":
        base["external_userid"] = ["wmA"]
    else:
        base["chat_id_list"] = ["wrChat1"]
    return api.post("externalcontact/add_msg_template", {**base, **body})


# ---- the server --------------------------------------------------------------------------------------
def test_api_tasks_have_no_creator_and_a_creator_filter_finds_none(server: WeComServer) -> None:
    """96355 获取群发记录列表: creator "API接口创建的群发消息不返回该字段"; filter_type 0 企业发表."""
    api = Api(server)
    msgid = mass(api)["msgid"]
    window = {"chat_type": "single", "start_time": T0 - 60, "end_time": T0 + 60}
    (row,) = api.post("externalcontact/get_groupmsg_list_v2", {**window, "filter_type": 0})["group_msg_list"]
    assert row["msgid"] == msgid and "creator" not in row and row["create_type"] == 0
    assert api.post("externalcontact/get_groupmsg_list_v2", {**window, "creator": "zhangsan"})["group_msg_list"] == []
    assert api.post("externalcontact/get_groupmsg_list_v2", {**window, "filter_type": 1})["group_msg_list"] == []


def test_group_results_leave_out_chats_not_sent_yet(server: WeComServer) -> None:
    """96355 获取企业群发成员执行结果: for a group task, 不返回未发送记录; the single task lists them (status 0)."""
    api = Api(server)
    group = mass(api, "group", chat_id_list=["wrChat1", "wrChat2"])["msgid"]
    single = mass(api)["msgid"]
    ask = {"userid": "zhangsan"}
    assert api.post("externalcontact/get_groupmsg_send_result", {"msgid": group, **ask})["send_list"] == []
    (row,) = api.post("externalcontact/get_groupmsg_send_result", {"msgid": single, **ask})["send_list"]
    assert (row["external_userid"], row["status"]) == ("wmA", 0)
    (task,) = api.post("externalcontact/get_groupmsg_task", {"msgid": group})["task_list"]
    assert (task["userid"], task["status"]) == ("zhangsan", 0)
    server.confirm(group)
    rows = api.post("externalcontact/get_groupmsg_send_result", {"msgid": group, **ask})["send_list"]
    assert {(r["chat_id"], r["status"]) for r in rows} == {("wrChat1", 1), ("wrChat2", 1)}


def test_trusted_ip_is_checked_on_data_calls_only(server: WeComServer) -> None:
    server.distrust_ip()
    api = Api(server)
    assert api.token  # gettoken still answers
    answer = mass(api)
    assert answer["errcode"] == 60020 and "from ip: 127.0.0.1" in answer["errmsg"]
    server.distrust_ip(True)
    assert mass(api)["errcode"] == 0


def test_api_forbidden_and_a_reset_secret(server: WeComServer) -> None:
    api = Api(server)
    server.forbid("externalcontact/add_msg_template")
    assert mass(api)["errcode"] == 48002 and "api forbidden" in mass(api)["errmsg"]
    assert api.post("externalcontact/get_corp_tag_list", {})["errcode"] == 0
    server.forbid()
    assert api.post("externalcontact/get_corp_tag_list", {})["errcode"] == 48002
    server.forbid(allowed=True)
    server.change_secret("new-secret")
    assert mass(api)["errcode"] == 0  # a token issued before stays valid until it expires
    assert Api(server).token == "" and Api(server, "new-secret").token


def test_45009_minute_and_hour_blocks(server: WeComServer, clock: Clock) -> None:
    """90454: 按分钟拦截则被屏蔽60秒，按小时拦截则被屏蔽60分钟."""
    server.rate_limits = {"externalcontact/get_corp_tag_list": (2, 3)}
    api = Api(server)
    tags = "externalcontact/get_corp_tag_list"
    assert [api.post(tags, {})["errcode"] for _ in range(3)] == [0, 0, 45009]
    clock.t += 59
    assert api.post(tags, {})["errcode"] == 45009  # still inside the minute block
    clock.t += 1
    assert api.post(tags, {})["errcode"] == 0  # the block is over: the 3rd call of the hour
    assert api.post(tags, {})["errcode"] == 45009  # the hour's limit: an hour block
    clock.t += 3599
    assert api.post(tags, {})["errcode"] == 45009
    clock.t += 1
    assert api.post(tags, {})["errcode"] == 0


def test_a_moments_link_needs_its_cover(server: WeComServer) -> None:
    """95094/96351: link.media_id (图片链接封面) is required."""
    api = Api(server)
    body = {"visible_range": {"sender_list": {"user_list": ["zhangsan"]}}, "text": {"content": "看看"}}
    bare = {"msgtype": "link", "link": {"title": "t", "url": "https://example.com"}}
    assert api.post("externalcontact/add_moment_task", {**body, "attachments": [bare]})["errcode"] == 40007
    files = {"media": ("c.png", b"\x89PNG" + b"0" * 64, "image/png")}
    up = api.http.post("/cgi-bin/media/upload_attachment", files=files, params={
        "access_token": api.token, "media_type": "image", "attachment_type": 1}).json()  # fmt: skip
    covered = {"msgtype": "link", "link": {**bare["link"], "media_id": up["media_id"]}}
    assert api.post("externalcontact/add_moment_task", {**body, "attachments": [covered]})["errcode"] == 0


def test_friendships_are_strict_by_default(server: WeComServer) -> None:
    api = Api(server)
    answer = mass(api, external_userid=["wmStranger"])
    assert answer["errcode"] == 41048 and answer["fail_list"] == ["wmStranger"]
    assert mass(api, sender="nobody")["errcode"] == 40003
    assert not server.is_friend("wmStranger", "zhangsan")


def test_welcome_codes_live_20_seconds_and_are_used_once(server: WeComServer, clock: Clock) -> None:
    """92137/92599 发送新客户欢迎语: within 20 s of the callback, once; then 41051."""
    api = Api(server)
    code = server.add_external_contact("wmNew", "zhangsan")
    assert code and server.is_friend("wmNew", "zhangsan")
    welcome = {"welcome_code": code, "text": {"content": "欢迎！"}}
    assert api.post("externalcontact/send_welcome_msg", welcome)["errcode"] == 0
    assert api.post("externalcontact/send_welcome_msg", welcome)["errcode"] == 41051
    (sent,) = server.welcomes("wmNew")
    assert sent.text == "欢迎！" and server.received("wmNew") == []  # no mass-message quota spent
    late = server.add_external_contact("wmLate", "zhangsan")
    clock.t += 20
    assert api.post("externalcontact/send_welcome_msg", {"welcome_code": late, "text": {"content": "x"}})[
        "errcode"] == 40058
    assert server.add_external_contact("wmAdmin", "zhangsan", welcome=False) is None  # the admin's welcome is set


# ---- recovery that cannot duplicate --------------------------------------------------------------------
def test_a_lost_answer_after_the_work_never_yields_a_second_task(
    server: WeComServer, make: Callable[..., WeComAdapter]
) -> None:
    adapter = make(timeout=0.3)
    server.slow("add_msg_template", 1.0)  # WeCom creates the task; its answer comes too late
    batch = [delivery("a", contact="wmA"), delivery("b", contact="wmB")]
    assert [r.status for r in adapter.send(batch)] == [FAILED, FAILED]
    # the same touches again, in a new process that lost the state file: WeCom is asked, without a creator
    fresh = make(state="other.json")
    again = fresh.send([delivery("a", contact="wmA", attempt=2), delivery("b", contact="wmB", attempt=2)])
    (task,) = server.tasks
    assert [(r.status, r.ref) for r in again] == [(SENT, task.msgid)] * 2
    listed = server.calls_to("get_groupmsg_list_v2")[-1].body
    assert "creator" not in listed and listed["filter_type"] == 0
    # the first process too, on its next try of the in-flight call (attempt not even counted up)
    retried = adapter.send([delivery("a", contact="wmA"), delivery("b", contact="wmB"), delivery("c", contact="wmC")])
    assert [r.status for r in retried] == [SENT] * 3 and retried[0].ref == task.msgid
    assert len(server.tasks) == 2 and server.tasks[1].staff["zhangsan"].targets == ["wmC"]


def test_an_unconfirmed_group_post_is_not_sent_again(server: WeComServer, make: Callable[..., WeComAdapter]) -> None:
    adapter = make(timeout=0.3, groups={"水果群": {"zhangsan": ["wrChat1"]}})
    post = {"channel": "group", "group": "水果群/zhangsan/1", "flow": "水果群", "text": "开团啦"}
    server.slow("add_msg_template", 1.0)
    assert adapter.send([delivery("g", **post)])[0].status == FAILED
    fresh = make(state="other.json", groups={"水果群": {"zhangsan": ["wrChat1"]}})
    (again,) = fresh.send([delivery("g", attempt=2, **post)])
    (task,) = server.tasks  # unsent: WeCom lists no chat for it, yet it exists and is not made twice
    assert (again.status, again.ref) == (SENT, task.msgid)
    assert task.staff["zhangsan"].status == 0


def test_another_members_task_with_the_same_text_is_not_taken_for_ours(
    server: WeComServer, make: Callable[..., WeComAdapter]
) -> None:
    server.add_customer("wmA", "lisi")
    Api(server).post("externalcontact/add_msg_template", {"chat_type": "single", "sender": "lisi",
                                                          "external_userid": ["wmA"], "text": {"content": "今晚活动"}})
    adapter = make()
    (result,) = adapter.send([delivery("a", contact="wmA", attempt=2)])
    assert result.status == SENT and len(server.tasks) == 2 and server.tasks[1].sender == "zhangsan"


# ---- holds ---------------------------------------------------------------------------------------------
def dispatch_until(store: Any, dispatcher: Any, clock: Clock, end: float, step: float = 60) -> None:
    while clock.t < end:
        while dispatcher.run_once(clock.t).claimed:
            pass
        clock.t += step


def ledger(tmp_path: Path, contacts: list[str]) -> Any:
    from playbook.runtime.rows import Journal, TouchRow
    from playbook.runtime.store import Store

    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    store.save_version({"version": "pb-1", "name": "holds"})
    rows = [TouchRow(key=f"pb-1/通知/{c}/s1/1", version="pb-1", flow="通知", step="dm", channel="dm", due=T0 + i,
                     state="pending", account="zhangsan", contact=c, at=T0 + i, content="通知", text=f"今晚活动 {c}",
                     outcome="ok", next_attempt_at=T0 + i) for i, c in enumerate(contacts)]  # fmt: skip
    store.write(Journal(touches=rows))
    return store


def test_an_hour_block_ends_with_every_touch_sent_once_none_dead(
    server: WeComServer, clock: Clock, tmp_path: Path, make: Callable[..., WeComAdapter]
) -> None:
    from playbook.runtime.dispatch import Dispatcher, RetryPolicy

    store = ledger(tmp_path, ["wmA", "wmB", "wmC"])
    server.block("add_msg_template", "hour")
    adapter = make()
    dispatcher = Dispatcher(store, adapter, owner="p", clock=clock, retry=RetryPolicy(max_attempts=3))
    dispatch_until(store, dispatcher, clock, T0 + 1800)
    assert {r.state for r in store.touches()} == {"pending"}
    assert all("an hour block" in (r.error or "") and r.attempts == 0 for r in store.touches())
    dispatch_until(store, dispatcher, clock, T0 + 2 * 3600)
    dispatcher.close()
    rows = store.touches()
    assert {r.state for r in rows} == {"sent"} and max(r.attempts for r in rows) == 1
    assert sorted(c for task in server.tasks for c in task.staff["zhangsan"].targets) == ["wmA", "wmB", "wmC"]
    refused = [c for c in server.calls_to("add_msg_template") if c.errcode == 45009]
    # the first round's concurrent batches each meet the block once, then one call finds the minute
    # block became an hour block: not a call a minute for an hour
    assert len(refused) <= 5
    store.close()


def test_a_trusted_ip_outage_holds_everything_then_resumes(
    server: WeComServer, clock: Clock, tmp_path: Path, make: Callable[..., WeComAdapter],
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    from playbook.runtime.dispatch import Dispatcher, RetryPolicy

    store = ledger(tmp_path, ["wmA", "wmB", "wmC"])
    adapter = make()  # the token was fetched fine
    server.distrust_ip()
    dispatcher = Dispatcher(store, adapter, owner="p", clock=clock, retry=RetryPolicy(max_attempts=2))
    dispatch_until(store, dispatcher, clock, T0 + 3 * 3600)  # three hours: far beyond the attempts
    rows = store.touches()
    assert {r.state for r in rows} == {"pending"} and {r.attempts for r in rows} == {0}
    assert all("add this server's IP 127.0.0.1" in (r.error or "") for r in rows)
    from playbook.runtime.report import status

    (held,) = status(store)["held"]  # what `playbook status` shows
    assert held["touches"] == 3 and held["reason"].startswith("WeCom blocked: trusted IP (60020)")
    alerts = [r for r in caplog.records if "trusted IP" in r.getMessage() and r.levelname == "ERROR"]
    assert len(alerts) == 1  # one alert, not one per touch
    creates = [c for c in server.calls_to("add_msg_template")]
    assert len(creates) == 1  # after the first refusal, only a probe a minute
    server.distrust_ip(True)
    dispatch_until(store, dispatcher, clock, clock.t + 180)
    dispatcher.close()
    assert {r.state for r in store.touches()} == {"sent"}
    assert sorted(c for task in server.tasks for c in task.staff["zhangsan"].targets) == ["wmA", "wmB", "wmC"]
    assert not adapter.holds()
    store.close()


def test_the_start_up_probe_reports_before_anything_is_due(
    server: WeComServer, make: Callable[..., WeComAdapter]
) -> None:
    adapter = make()
    assert adapter.probe(["zhangsan"]) == []
    problems = adapter.probe(["zhangsan", "ghost"])
    assert len(problems) == 1 and "ghost" in problems[0] and "40003" in problems[0]
    server.forbid()
    (problem,) = adapter.probe(["zhangsan"])
    assert "48002" in problem and "可调用接口的应用" in problem
    (held,) = adapter.send([delivery("a", contact="wmA")])
    assert held.status == LATER and not server.calls_to("add_msg_template")


def test_a_wrong_secret_holds_instead_of_killing(server: WeComServer, make: Callable[..., WeComAdapter]) -> None:
    adapter = make()
    server.change_secret("rotated")
    server.expire_tokens()
    results = adapter.send([delivery("a", contact="wmA"), delivery("b", contact="wmB")])
    assert {r.status for r in results} == {LATER} and "wrong secret" in (results[0].error or "")
    assert DEAD not in {r.status for r in results}


def test_check_probes_the_platform_with_the_configuration(server: WeComServer, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    config = tmp_path / "playbook.toml"
    config.write_text(f'[adapter]\nname = "wecom"\n[adapter.options]\ncorp_id = "{CORP}"\nbase_url = "{server.url}"\n'
                      f'state_file = "{tmp_path / "s.json"}"\n', encoding="utf-8")  # fmt: skip
    env = {**os.environ, "PLAYBOOK_WECOM_SECRET": SECRET, "PYTHONPATH": str(root)}

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "playbook", "check", str(root / "playbooks" / "new_customer.pb"),
                               "--adapter", "wecom", "--config", str(config)], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=60)  # fmt: skip

    ok = check()
    assert ok.returncode == 0 and "the platform answers" in ok.stdout + ok.stderr
    server.distrust_ip()
    blocked = check()
    assert blocked.returncode == 1
    assert "add this server's IP 127.0.0.1" in blocked.stdout + blocked.stderr


# ---- unconfirmed tasks: a reminder, then cancelled -------------------------------------------------------
def test_an_unconfirmed_task_is_reminded_then_cancelled_and_expires(
    server: WeComServer, clock: Clock, make: Callable[..., WeComAdapter]
) -> None:
    adapter = make(confirm_within=6 * 3600, remind_after=2 * 3600)
    sent = adapter.send([delivery("a", contact="wmA"), delivery("b", contact="wmB")])
    asked = [delivery(r.key, contact=c, ref=r.ref) for r, c in zip(sent, ("wmA", "wmB"), strict=True)]
    clock.t += 3600
    assert adapter.receipts(asked) == [] and not server.calls_to("remind_groupmsg_send")
    clock.t += 3600  # two hours: one reminder (97610)
    assert adapter.receipts(asked) == []
    clock.t += 600
    adapter.receipts(asked)
    (task,) = server.tasks
    assert len(server.calls_to("remind_groupmsg_send")) == 1 and len(task.reminders) == 1
    clock.t = T0 + 6 * 3600  # nobody confirmed within six hours: cancelled (97611), the touches expire
    got = {r.key: (r.status, r.at) for r in adapter.receipts(asked)}
    assert got == {"a": ("expired", int(clock.t)), "b": ("expired", int(clock.t))}
    assert task.cancelled and server.confirm(task.msgid) == {}  # it can no longer go out
    assert server.received("wmA") == []


def test_a_confirmation_before_the_deadline_stands(
    server: WeComServer, clock: Clock, make: Callable[..., WeComAdapter]
) -> None:
    adapter = make(confirm_within=3600, remind_after=0)
    (sent,) = adapter.send([delivery("a", contact="wmA")])
    clock.t += 1800
    server.confirm(sent.ref or "", "zhangsan")
    clock.t += 3600
    (receipt,) = adapter.receipts([delivery("a", contact="wmA", ref=sent.ref)])
    assert receipt.status == "confirmed" and not server.calls_to("cancel_groupmsg_send")


def test_an_unpublished_moments_task_is_cancelled_and_expires(
    server: WeComServer, clock: Clock, make: Callable[..., WeComAdapter]
) -> None:
    """停止发表企业朋友圈 (97612) stops a company Moments task not yet published: after
    `confirm_within` the adapter calls it and the touch ends `expired`, as a mass-message task does."""
    adapter = make(confirm_within=6 * 3600, remind_after=0)
    post = {"channel": "moment", "text": "入冬新品到店", "flow": "日常朋友圈", "content": "新品"}
    (sent,) = adapter.send([delivery("m", **post)])
    asked = [delivery("m", ref=sent.ref, **post)]
    clock.t += 3600
    assert adapter.receipts(asked) == [] and not server.calls_to("cancel_moment_task")
    clock.t = T0 + 6 * 3600
    (receipt,) = adapter.receipts(asked)
    (job,) = server.moment_jobs
    assert (receipt.status, receipt.at) == ("expired", int(clock.t))
    assert server.calls_to("cancel_moment_task")[-1].body == {"moment_id": job.moment_id}
    assert server.confirm_moment(job.moment_id) == {"zhangsan": 0}  # it can no longer be published


def test_a_moments_post_published_in_time_stands(
    server: WeComServer, clock: Clock, make: Callable[..., WeComAdapter]
) -> None:
    adapter = make(confirm_within=3600, remind_after=0)
    post = {"channel": "moment", "text": "入冬新品到店", "flow": "日常朋友圈", "content": "新品"}
    (sent,) = adapter.send([delivery("m", **post)])
    clock.t += 60
    assert adapter.receipts([delivery("m", ref=sent.ref, **post)]) == []  # the job's moment_id is kept
    (job,) = server.moment_jobs
    server.confirm_moment(job.moment_id)
    clock.t += 7200
    (receipt,) = adapter.receipts([delivery("m", ref=sent.ref, **post)])
    assert receipt.status == "confirmed" and not server.calls_to("cancel_moment_task")


def test_a_moments_task_whose_answer_was_lost_is_not_posted_twice(
    server: WeComServer, clock: Clock, make: Callable[..., WeComAdapter]
) -> None:
    adapter = make(timeout=0.3)
    post = {"channel": "moment", "text": "入冬新品到店", "flow": "日常朋友圈", "content": "新品"}
    server.slow("add_moment_task", 1.0)  # WeCom creates the job; the answer comes too late
    assert adapter.send([delivery("m", **post)])[0].status == FAILED
    clock.t += 60
    (again,) = make(state="other.json").send([delivery("m", attempt=2, **post)])
    (job,) = server.moment_jobs
    assert (again.status, again.ref) == (SENT, f"moment:id:{job.moment_id}")
    listed = server.calls_to("get_moment_list")[-1].body
    assert listed["filter_type"] == 0 and "creator" not in listed
    server.confirm_moment(job.moment_id)
    (receipt,) = make(state="other.json").receipts([delivery("m", ref=again.ref, **post)])
    assert receipt.status == "confirmed"


def test_the_state_file_forgets_old_keys_then_old_tasks(
    server: WeComServer, clock: Clock, make: Callable[..., WeComAdapter]
) -> None:
    import json

    (sent,) = make().send([delivery("a", contact="wmA")])
    state = make().state_path

    def tasks() -> dict[str, Any]:
        return json.loads(Path(state).read_text(encoding="utf-8"))["tasks"]

    assert tasks()[sent.ref or ""]["keys"] == ["a"]
    clock.t += 3 * 86400
    make().close()  # opening prunes: the keys are gone after two days, the task stays (reminders, cancelling)
    assert tasks()[sent.ref or ""]["keys"] == []
    clock.t += 6 * 86400
    make().close()
    assert tasks() == {}


def test_a_member_outside_the_visible_range_holds_that_account_only(
    server: WeComServer, clock: Clock, make: Callable[..., WeComAdapter]
) -> None:
    server.add_customer("wmL", "lisi")
    adapter = make()
    server.fail_next("add_msg_template", 60011)  # zhangsan is outside the app's visible range
    (held,) = adapter.send([delivery("a", contact="wmA")])
    assert held.status == LATER and "zhangsan" in (held.error or "")
    (other,) = adapter.send([delivery("l", account="lisi", contact="wmL")])
    assert other.status == SENT  # another account still sends
    (still,) = adapter.send([delivery("a", contact="wmA")])
    assert still.status == LATER and len(server.calls_to("add_msg_template")) == 2
    clock.t += 61  # the probe (externalcontact/list?userid=zhangsan) answers: sending resumes
    (sent,) = adapter.send([delivery("a", contact="wmA")])
    assert sent.status == SENT and server.calls_to("externalcontact/list")[-1].params["userid"] == "zhangsan"


def test_reconcile_finds_a_moments_post_left_in_flight(
    server: WeComServer, clock: Clock, make: Callable[..., WeComAdapter]
) -> None:
    adapter = make(timeout=0.3)
    post = {"channel": "moment", "text": "周末上新", "flow": "日常朋友圈", "content": "上新"}
    server.slow("add_moment_task", 1.0)
    assert adapter.send([delivery("m", **post)])[0].status == FAILED  # the daemon stops here: left `sending`
    clock.t += 30
    (found,) = make().reconcile([delivery("m", **post)])  # the state file says the call was in flight
    (job,) = server.moment_jobs
    assert (found.status, found.ref) == (SENT, f"moment:id:{job.moment_id}")


def test_one_alert_and_one_refused_call_for_a_whole_batch(
    server: WeComServer, make: Callable[..., WeComAdapter], caplog: pytest.LogCaptureFixture
) -> None:
    adapter = make()
    server.distrust_ip()
    batch = [delivery(c, contact=c, text=f"活动 {c}") for c in ("wmA", "wmB", "wmC")]  # three texts: three tasks
    assert {r.status for r in adapter.send(batch)} == {LATER}
    assert len(server.calls_to("add_msg_template")) == 1  # the rest of the batch is held without a call
    assert len([r for r in caplog.records if r.levelname == "ERROR" and "trusted IP" in r.getMessage()]) == 1
