"""The WeCom-compatible test server: documented requests, answers and error codes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from playbook.adapters.wecom import crypto
from playbook.adapters.wecom.callbacks import translate
from playbook.testing.wecom_server import CHINA, WeComServer, event_xml
from tests.wecom import Clock

CORP, SECRET, AGENT = "wwcorp0001", "app-secret", 1000002
FEB_1 = datetime(2026, 2, 1, 9, 0, tzinfo=CHINA).timestamp()  # a 28-day month


class Api:
    """A bare client, as an adapter would call: access_token in the query, JSON bodies."""

    def __init__(self, server: WeComServer, *, refresh: bool = True) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=5)
        self.refresh = refresh  # get a new token on 42001 (simulated days pass in these tests)
        self.token = self.get("gettoken", corpid=CORP, corpsecret=SECRET)["access_token"]

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        if path == "gettoken":
            return self.http.get(f"/cgi-bin/{path}", params=params).json()
        return self._retry(lambda token: self.http.get(f"/cgi-bin/{path}", params={"access_token": token, **params}))

    def post(self, path: str, body: Any = None, **params: Any) -> dict[str, Any]:
        json_body = body if body is not None else {}
        return self._retry(
            lambda token: self.http.post(f"/cgi-bin/{path}", params={"access_token": token, **params}, json=json_body)
        )

    def _retry(self, send: Any) -> dict[str, Any]:
        answer = send(self.token).json()
        if answer.get("errcode") == 42001 and self.refresh:
            self.token = self.get("gettoken", corpid=CORP, corpsecret=SECRET)["access_token"]
            answer = send(self.token).json()
        return answer

    def upload(self, path: str, data: bytes, name: str = "a.png", **params: Any) -> dict[str, Any]:
        files = {"media": (name, data, "application/octet-stream")}
        return self._retry(
            lambda token: self.http.post(f"/cgi-bin/{path}", params={"access_token": token, **params}, files=files)
        )

    def mass(self, customers: list[str], sender: str = "zhangsan", **extra: Any) -> dict[str, Any]:
        body = {"chat_type": "single", "external_userid": customers, "sender": sender, "text": {"content": "hi"}}
        return self.post("externalcontact/add_msg_template", {**body, **extra})


@pytest.fixture
def clock() -> Clock:
    return Clock(FEB_1)


@pytest.fixture
def server(clock: Clock) -> Iterator[WeComServer]:
    # friendships learnt from the calls: these tests are about other behaviours (strict: test_faithful.py)
    with WeComServer(corp_id=CORP, strict=False, secret=SECRET, agent_id=AGENT, clock=clock) as srv:
        yield srv


@pytest.fixture
def api(server: WeComServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.http.close()


# ---- tokens ---------------------------------------------------------------------------------
def test_gettoken_and_token_errors(server: WeComServer, api: Api, clock: Clock) -> None:
    api.refresh = False
    first = api.get("gettoken", corpid=CORP, corpsecret=SECRET)
    assert first["errcode"] == 0 and first["expires_in"] == 7200 and len(first["access_token"]) <= 512
    assert api.get("gettoken", corpid=CORP, corpsecret="wrong")["errcode"] == 40001
    assert api.get("gettoken", corpid="wwother", corpsecret=SECRET)["errcode"] == 40013
    assert api.get("gettoken", corpid=CORP)["errcode"] == 41004
    assert api.post("externalcontact/get_corp_tag_list", access_token="")["errcode"] == 41001
    assert api.post("externalcontact/get_corp_tag_list", access_token="made-up")["errcode"] == 40014
    assert api.post("externalcontact/get_corp_tag_list")["errcode"] == 0
    clock.t += 7200  # its lifetime is over
    assert api.post("externalcontact/get_corp_tag_list")["errcode"] == 42001
    api.token = api.get("gettoken", corpid=CORP, corpsecret=SECRET)["access_token"]
    assert api.post("externalcontact/get_corp_tag_list")["errcode"] == 0
    server.expire_tokens()  # expired early, as WeCom may
    assert api.post("externalcontact/get_corp_tag_list")["errcode"] == 42001
    api.token = api.get("gettoken", corpid=CORP, corpsecret=SECRET)["access_token"]
    server.invalidate_tokens()
    assert api.post("externalcontact/get_corp_tag_list")["errcode"] == 40014


# ---- faults and rate limits -----------------------------------------------------------------
def test_injected_45009_burst_then_ok(server: WeComServer, api: Api) -> None:
    server.fail_next("externalcontact/add_msg_template", 45009, n=3)
    answers = [api.mass(["wmA"])["errcode"] for _ in range(4)]
    assert answers == [45009, 45009, 45009, 0]
    assert len(server.tasks) == 1  # the refused calls did nothing
    assert [c.errcode for c in server.calls_to("add_msg_template")] == [45009, 45009, 45009, 0]


def test_rate_limit_per_endpoint(clock: Clock) -> None:
    limits = {"externalcontact/get_corp_tag_list": (3, 5)}
    with WeComServer(corp_id=CORP, strict=False, secret=SECRET, clock=clock, rate_limits=limits) as server:
        api = Api(server)
        assert [api.post("externalcontact/get_corp_tag_list")["errcode"] for _ in range(4)] == [0, 0, 0, 45009]
        assert api.post("externalcontact/mark_tag", {})["errcode"] != 45009  # another endpoint
        clock.t += 61  # the minute has passed
        assert [api.post("externalcontact/get_corp_tag_list")["errcode"] for _ in range(3)] == [0, 0, 45009]  # hour: 5
        clock.t += 3600
        assert api.post("externalcontact/get_corp_tag_list")["errcode"] == 0


def test_5xx_before_and_after_the_work(server: WeComServer, api: Api) -> None:
    server.fail_http("externalcontact/add_msg_template", 503)
    r = api.http.post("/cgi-bin/externalcontact/add_msg_template", params={"access_token": api.token},
                      json={"external_userid": ["wmA"], "sender": "zhangsan", "text": {"content": "x"}})  # fmt: skip
    assert r.status_code == 503 and server.tasks == []
    server.fail_http("externalcontact/add_msg_template", 502, after=True)
    r = api.http.post("/cgi-bin/externalcontact/add_msg_template", params={"access_token": api.token},
                      json={"external_userid": ["wmA"], "sender": "zhangsan", "text": {"content": "x"}})  # fmt: skip
    assert r.status_code == 502 and len(server.tasks) == 1  # done, though the caller cannot know
    assert [(c.http_status, c.errcode) for c in server.calls_to("add_msg_template")] == [(503, None), (502, 0)]


def test_a_slow_answer_times_out_after_the_work(server: WeComServer, api: Api) -> None:
    server.slow("externalcontact/add_msg_template", 0.6)
    with pytest.raises(httpx.TimeoutException):
        api.http.post("/cgi-bin/externalcontact/add_msg_template", params={"access_token": api.token},
                      json={"external_userid": ["wmA"], "sender": "zhangsan", "text": {"content": "x"}},
                      timeout=0.2)  # fmt: skip
    assert len(server.tasks) == 1
    assert api.mass(["wmB"])["errcode"] == 0  # the next call is served normally


# ---- mass messages --------------------------------------------------------------------------
def test_add_msg_template_documented_fields(server: WeComServer, api: Api) -> None:
    image = api.upload("media/upload", b"\x89PNG-image-bytes", type="image")["media_id"]
    video = api.upload("media/upload", b"video-bytes", name="v.mp4", type="video")["media_id"]
    body = {
        "chat_type": "single",
        "external_userid": ["wmA", "wmB"],
        "sender": "zhangsan",
        "text": {"content": "文本消息内容"},
        "attachments": [
            {"msgtype": "image", "image": {"media_id": image}},
            {"msgtype": "link", "link": {"title": "t", "picurl": "https://p", "desc": "d", "url": "https://u"}},
            {
                "msgtype": "miniprogram",
                "miniprogram": {"title": "t", "pic_media_id": image, "appid": "wx1", "page": "/p"},
            },
            {"msgtype": "video", "video": {"media_id": video}},
        ],
    }
    answer = api.post("externalcontact/add_msg_template", body)
    assert answer["errcode"] == 0 and answer["fail_list"] == [] and answer["msgid"].startswith("msg")
    call = server.calls_to("add_msg_template")[-1]
    assert call.body == body and call.params["access_token"] == api.token
    bad = {**body, "attachments": [{"msgtype": "image", "image": {"media_id": "nope"}}]}
    assert api.post("externalcontact/add_msg_template", bad)["errcode"] == 40007
    bad = {**body, "attachments": [{"msgtype": "voice", "voice": {}}]}
    assert api.post("externalcontact/add_msg_template", bad)["errcode"] == 41065
    assert api.post("externalcontact/add_msg_template", {**body, "chat_type": "x"})["errcode"] == 86214
    assert api.post("externalcontact/add_msg_template", {"sender": "zhangsan"})["errcode"] == 44004


def test_at_most_10000_recipients_per_call(server: WeComServer, api: Api) -> None:
    customers = [f"wm{i:05d}" for i in range(10_001)]
    refused = api.mass(customers)
    assert refused["errcode"] == 40058 and "10000" in refused["errmsg"]
    assert server.tasks == []
    accepted = api.mass(customers[:10_000])
    assert accepted["errcode"] == 0 and accepted["fail_list"] == []
    assert len(server.task(accepted["msgid"]).staff["zhangsan"].targets) == 10_000


def test_fail_list_and_no_customer(clock: Clock) -> None:
    with WeComServer(corp_id=CORP, secret=SECRET, clock=clock, strict=True) as server:
        server.add_customer("wmA", "zhangsan")
        server.add_customer("wmB", "lisi")
        api = Api(server)
        answer = api.mass(["wmA", "wmB", "wmGhost"])
        assert answer["errcode"] == 0 and answer["fail_list"] == ["wmB", "wmGhost"]
        nobody = api.mass(["wmB", "wmGhost"])
        assert nobody["errcode"] == 41048 and nobody["fail_list"] == ["wmB", "wmGhost"]
        assert api.mass(["wmA"], sender="wangwu")["errcode"] == 40003
        # without a sender each customer goes to the staff member who has them
        routed = api.post(
            "externalcontact/add_msg_template", {"external_userid": ["wmA", "wmB"], "text": {"content": "x"}}
        )
        assert set(server.task(routed["msgid"]).staff) == {"zhangsan", "lisi"}


def test_confirmation_arrives_later(server: WeComServer, api: Api, clock: Clock) -> None:
    msgid = api.mass(["wmA", "wmB"])["msgid"]
    server.remove_friend("wmB")  # the customer deletes the staff member before it is sent
    task = api.post("externalcontact/get_groupmsg_task", {"msgid": msgid})
    assert task == {"errcode": 0, "errmsg": "ok", "next_cursor": "", "task_list": [{"userid": "zhangsan", "status": 0}]}
    pending = api.post("externalcontact/get_groupmsg_send_result", {"msgid": msgid, "userid": "zhangsan"})
    assert [r["status"] for r in pending["send_list"]] == [0, 0] and "send_time" not in pending["send_list"][0]
    clock.t += 3 * 3600
    server.confirm(msgid, "zhangsan")
    task = api.post("externalcontact/get_groupmsg_task", {"msgid": msgid})
    assert task["task_list"] == [{"userid": "zhangsan", "status": 2, "send_time": int(clock.t)}]
    result = api.post("externalcontact/get_groupmsg_send_result", {"msgid": msgid, "userid": "zhangsan"})
    assert result["send_list"] == [
        {"external_userid": "wmA", "userid": "zhangsan", "status": 1, "send_time": int(clock.t)},
        {"external_userid": "wmB", "userid": "zhangsan", "status": 2},
    ]
    assert api.post("externalcontact/get_groupmsg_task", {"msgid": "msgnope"})["errcode"] == 41047
    assert api.post("externalcontact/get_groupmsg_task", {})["errcode"] == 41046
    listed = api.post("externalcontact/get_groupmsg_list_v2",
                      {"chat_type": "single", "start_time": int(FEB_1) - 60, "end_time": int(clock.t)})  # fmt: skip
    assert [m["msgid"] for m in listed["group_msg_list"]] == [msgid]
    assert listed["group_msg_list"][0]["text"] == {"content": "hi"}


def test_auto_confirmation_and_paging(clock: Clock) -> None:
    with WeComServer(corp_id=CORP, strict=False, secret=SECRET, clock=clock, auto_confirm=600) as server:
        api = Api(server)
        msgid = api.mass([f"wm{i}" for i in range(5)])["msgid"]
        assert server.task(msgid).staff["zhangsan"].status == 0
        clock.t += 601
        first = api.post("externalcontact/get_groupmsg_send_result", {"msgid": msgid, "userid": "zhangsan", "limit": 2})
        assert [r["external_userid"] for r in first["send_list"]] == ["wm0", "wm1"] and first["next_cursor"]
        assert first["send_list"][0]["send_time"] == int(FEB_1) + 600  # when the staff member confirmed
        rest = api.post("externalcontact/get_groupmsg_send_result",
                        {"msgid": msgid, "userid": "zhangsan", "cursor": first["next_cursor"], "limit": 10})  # fmt: skip
        assert [r["external_userid"] for r in rest["send_list"]] == ["wm2", "wm3", "wm4"] and rest["next_cursor"] == ""
        bad = api.post(
            "externalcontact/get_groupmsg_send_result", {"msgid": msgid, "userid": "zhangsan", "cursor": "x"}
        )
        assert bad["errcode"] == 50100


def test_monthly_quota_gives_status_3(server: WeComServer, api: Api, clock: Clock) -> None:
    # February 2026 has 28 days: the 29th mass message of the month, from any staff member, fails
    for day in range(28):
        sender = "zhangsan" if day % 2 else "lisi"
        msgid = api.mass(["wmA"], sender=sender)["msgid"]
        assert server.confirm(msgid, sender) == {"wmA": 1}
        clock.t += 3600
    msgid = api.mass(["wmA", "wmB"], sender="zhangsan")["msgid"]
    assert server.confirm(msgid) == {"wmA": 3, "wmB": 1}
    result = api.post("externalcontact/get_groupmsg_send_result", {"msgid": msgid, "userid": "zhangsan"})
    assert result["send_list"][0] == {"external_userid": "wmA", "userid": "zhangsan", "status": 3}
    clock.t = datetime(2026, 3, 1, 0, 0, tzinfo=CHINA).timestamp()  # a new month (China time)
    msgid = api.mass(["wmA"])["msgid"]
    assert server.confirm(msgid) == {"wmA": 1}
    assert len(server.received("wmA")) == 29


def test_weekly_and_daily_quota(clock: Clock) -> None:
    with WeComServer(corp_id=CORP, strict=False, secret=SECRET, clock=clock, quota="day") as server:
        api = Api(server)
        assert server.confirm(api.mass(["wmA"])["msgid"]) == {"wmA": 1}
        assert server.confirm(api.mass(["wmA"])["msgid"]) == {"wmA": 3}
        clock.t += 86400
        assert server.confirm(api.mass(["wmA"])["msgid"]) == {"wmA": 1}
    clock.t = datetime(2026, 2, 2, 9, 0, tzinfo=CHINA).timestamp()  # a Monday
    with WeComServer(corp_id=CORP, strict=False, secret=SECRET, clock=clock, quota="week") as server:
        api = Api(server)
        statuses = []
        for _ in range(8):
            statuses.append(server.confirm(api.mass(["wmA"])["msgid"])["wmA"])
            clock.t += 3600
        assert statuses == [1] * 7 + [3]


def test_group_mass_message(server: WeComServer, api: Api) -> None:
    server.add_chat("wrChat1", "zhangsan")
    server.add_chat("wrChat2", "lisi")
    body = {
        "chat_type": "group",
        "sender": "zhangsan",
        "chat_id_list": ["wrChat1", "wrChat2"],
        "text": {"content": "x"},
    }
    answer = api.post("externalcontact/add_msg_template", body)
    assert answer["fail_list"] == ["wrChat2"]
    server.confirm(answer["msgid"])
    result = api.post("externalcontact/get_groupmsg_send_result", {"msgid": answer["msgid"], "userid": "zhangsan"})
    assert result["send_list"][0]["chat_id"] == "wrChat1" and result["send_list"][0]["status"] == 1
    assert api.post("externalcontact/add_msg_template", {**body, "sender": ""})["errcode"] == 41009


# ---- tags and Moments -----------------------------------------------------------------------
def test_corp_tags_and_mark_tag(server: WeComServer, api: Api) -> None:
    assert api.post("externalcontact/get_corp_tag_list") == {"errcode": 0, "errmsg": "ok", "tag_group": []}
    made = api.post("externalcontact/add_corp_tag", {"group_name": "playbook", "tag": [{"name": "seg:VIP"}]})
    group = made["tag_group"]
    assert group["group_name"] == "playbook" and [t["name"] for t in group["tag"]] == ["seg:VIP"]
    vip = group["tag"][0]["id"]
    more = api.post("externalcontact/add_corp_tag",
                    {"group_name": "playbook", "tag": [{"name": "seg:VIP"}, {"name": "seg:new", "order": 2}]})  # fmt: skip
    assert more["tag_group"]["group_id"] == group["group_id"]
    assert [t["id"] for t in more["tag_group"]["tag"]][0] == vip  # same name: the same tag
    listed = api.post("externalcontact/get_corp_tag_list", {"tag_id": [vip]})["tag_group"]
    assert [[t["id"] for t in g["tag"]] for g in listed] == [[vip]]
    assert api.post("externalcontact/add_corp_tag", {"group_id": "etnope", "tag": [{"name": "x"}]})["errcode"] == 40068
    mark = {"userid": "zhangsan", "external_userid": "wmA", "add_tag": [vip]}
    assert api.post("externalcontact/mark_tag", mark)["errcode"] == 0
    assert server.tags_of("wmA") == {vip}
    assert api.post("externalcontact/mark_tag", {**mark, "add_tag": ["etnope"]})["errcode"] == 40068
    assert api.post("externalcontact/mark_tag", {**mark, "add_tag": []})["errcode"] == 40058
    server.add_customer("wmB", "lisi")
    server.remove_friend("wmB", "zhangsan")  # never friends, or no longer
    assert api.post("externalcontact/mark_tag", {**mark, "external_userid": "wmB"})["errcode"] == 84061
    assert api.post("externalcontact/mark_tag", {**mark, "add_tag": [], "remove_tag": [vip]})["errcode"] == 0
    assert server.tags_of("wmA") == set()
    assert api.post("externalcontact/del_corp_tag", {"group_id": [group["group_id"]]})["errcode"] == 0
    assert api.post("externalcontact/get_corp_tag_list")["tag_group"] == []


def test_moment_task_through_its_job(clock: Clock) -> None:
    with WeComServer(corp_id=CORP, strict=False, secret=SECRET, clock=clock, moment_job_delay=10) as server:
        api = Api(server)
        tag = api.post("externalcontact/add_corp_tag", {"group_name": "playbook", "tag": [{"name": "seg:VIP"}]})
        tag_id = tag["tag_group"]["tag"][0]["id"]
        for customer in ("wmA", "wmB"):
            server.add_customer(customer, "zhangsan")
        api.post("externalcontact/mark_tag", {"userid": "zhangsan", "external_userid": "wmA", "add_tag": [tag_id]})
        plain = api.upload("media/upload", b"\x89PNG-image-bytes", type="image")["media_id"]
        moment = api.upload("media/upload_attachment", b"\x89PNG-image-bytes", media_type="image", attachment_type=1)
        assert moment["errcode"] == 0 and moment["type"] == "image"
        body = {
            "text": {"content": "文本消息内容"},
            "attachments": [{"msgtype": "image", "image": {"media_id": moment["media_id"]}}],
            "visible_range": {"sender_list": {"user_list": ["zhangsan"]},
                              "external_contact_list": {"tag_list": [tag_id, "etgone"]}},
        }  # fmt: skip
        wrong_media = {**body, "attachments": [{"msgtype": "image", "image": {"media_id": plain}}]}
        assert api.post("externalcontact/add_moment_task", wrong_media)["errcode"] == 40007
        mixed = {**body, "attachments": [*body["attachments"], {"msgtype": "link", "link": {"url": "https://u"}}]}
        assert api.post("externalcontact/add_moment_task", mixed)["errmsg"] == "invalid attachments msgtype"
        jobid = api.post("externalcontact/add_moment_task", body)["jobid"]
        assert api.get("externalcontact/get_moment_task_result", jobid=jobid)["status"] == 1
        clock.t += 6
        assert api.get("externalcontact/get_moment_task_result", jobid=jobid)["status"] == 2
        clock.t += 5
        done = api.get("externalcontact/get_moment_task_result", jobid=jobid)
        assert done["status"] == 3 and done["type"] == "add_moment_task"
        assert done["result"]["moment_id"].startswith("mom")
        assert done["result"]["invalid_external_contact_list"] == {"tag_list": ["etgone"]}
        assert server.moment_job(jobid).audience == {"zhangsan": ["wmA"]}  # only the tagged customer
        assert api.get("externalcontact/get_moment_task_result", jobid="jobnope")["errcode"] == 40088
        post = server.calls_to("get_moment_task_result")[0]
        assert post.method == "GET" and post.params["jobid"] == jobid
        assert api.post("externalcontact/get_moment_task_result", {"jobid": jobid})["errcode"] == 40063  # GET only


def test_who_published_a_moment(clock: Clock) -> None:
    with WeComServer(corp_id=CORP, strict=False, secret=SECRET, clock=clock, moment_job_delay=10) as server:
        api = Api(server)
        body = {"text": {"content": "早安"}, "visible_range": {"sender_list": {"user_list": ["zhangsan", "lisi"]}}}
        jobid = api.post("externalcontact/add_moment_task", body)["jobid"]
        moment_id = server.moment_job(jobid).moment_id
        # not known before the job is done
        assert api.post("externalcontact/get_moment_task", {"moment_id": moment_id})["errcode"] == 40058
        clock.t += 10
        first = api.post("externalcontact/get_moment_task", {"moment_id": moment_id, "limit": 1})
        assert first["task_list"] == [{"userid": "zhangsan", "publish_status": 0}] and first["next_cursor"] == "1"
        assert server.confirm_moment(moment_id, "lisi") == {"zhangsan": 0, "lisi": 1}
        rest = api.post("externalcontact/get_moment_task", {"moment_id": moment_id, "cursor": first["next_cursor"]})
        assert rest["task_list"] == [{"userid": "lisi", "publish_status": 1}] and rest["next_cursor"] == ""
        assert server.moment_job(jobid).published == {"lisi": int(clock.t)}
        assert api.post("externalcontact/get_moment_task", {"moment_id": "momnope"})["errcode"] == 40058
        assert api.post("externalcontact/get_moment_task", {})["errcode"] == 40058


def test_moments_are_auto_confirmed_too(clock: Clock) -> None:
    with WeComServer(corp_id=CORP, strict=False, secret=SECRET, clock=clock, auto_confirm=600) as server:
        api = Api(server)
        body = {"text": {"content": "早安"}, "visible_range": {"sender_list": {"user_list": ["zhangsan"]}}}
        moment_id = server.moment_job(api.post("externalcontact/add_moment_task", body)["jobid"]).moment_id
        assert (
            api.post("externalcontact/get_moment_task", {"moment_id": moment_id})["task_list"][0]["publish_status"] == 0
        )
        clock.t += 600
        assert api.post("externalcontact/get_moment_task", {"moment_id": moment_id})["task_list"] == [
            {"userid": "zhangsan", "publish_status": 1}
        ]
        assert server.moment_jobs[0].published == {"zhangsan": int(clock.t)}


# ---- join ways, app messages, media ---------------------------------------------------------
def test_join_way(api: Api) -> None:
    body = {"scene": 2, "remark": "aa_remark", "auto_create_room": 1, "room_base_name": "销售客服群",
            "room_base_id": 10, "chat_id_list": ["wrOgQhDgAAH2Yy", "wrOgQhDgAALPUt"], "state": "klsdup3kj3s1"}  # fmt: skip
    config_id = api.post("externalcontact/groupchat/add_join_way", body)["config_id"]
    way = api.post("externalcontact/groupchat/get_join_way", {"config_id": config_id})["join_way"]
    assert way["config_id"] == config_id and way["chat_id_list"] == body["chat_id_list"]
    assert way["state"] == "klsdup3kj3s1" and way["qr_code"].startswith("https://")
    assert api.post("externalcontact/groupchat/del_join_way", {"config_id": config_id})["errcode"] == 0
    assert api.post("externalcontact/groupchat/get_join_way", {"config_id": config_id})["errcode"] == 41044
    assert api.post("externalcontact/groupchat/add_join_way", {**body, "scene": 3})["errcode"] == 41040
    six = {**body, "chat_id_list": [f"wr{i}" for i in range(6)]}
    assert api.post("externalcontact/groupchat/add_join_way", six)["errcode"] == 40058


def test_app_messages_beyond_30_a_minute_are_dropped_silently(server: WeComServer, api: Api, clock: Clock) -> None:
    def send(text: str) -> dict[str, Any]:
        body = {"touser": "zhangsan", "msgtype": "text", "agentid": AGENT, "text": {"content": text}}
        return api.post("message/send", body)

    answers = [send(f"task {i}") for i in range(35)]
    assert all(a["errcode"] == 0 and a["invaliduser"] == "" for a in answers)
    assert len(server.app_messages("zhangsan", delivered=True)) == 30
    assert [m.content for m in server.app_messages("zhangsan", delivered=False)] == [f"task {i}" for i in range(30, 35)]
    clock.t += 60
    assert send("later")["errcode"] == 0
    assert server.app_messages("zhangsan")[-1].delivered
    body = {"touser": "zhangsan", "msgtype": "text", "agentid": 1, "text": {"content": "x"}}
    assert api.post("message/send", body)["errcode"] == 40056
    assert api.post("message/send", {**body, "agentid": AGENT, "msgtype": "voice"})["errcode"] == 40008
    assert api.post("message/send", {**body, "agentid": AGENT, "touser": ""})["errcode"] == 82001


def test_app_messages_beyond_the_hourly_limit(clock: Clock) -> None:
    with WeComServer(corp_id=CORP, strict=False, secret=SECRET, agent_id=AGENT, clock=clock, app_message_limits=(30, 40)) as server:
        api = Api(server)
        for _minute in range(3):
            for _ in range(20):
                api.post(
                    "message/send", {"touser": "lisi", "msgtype": "text", "agentid": AGENT, "text": {"content": "x"}}
                )
            clock.t += 60
        assert len(server.app_messages("lisi", delivered=True)) == 40  # 20 + 20 + 0


def test_media_upload(server: WeComServer, api: Api, clock: Clock) -> None:
    answer = api.upload("media/upload", b"%PDF-1.4 some file", name="a.pdf", type="file")
    assert answer["errcode"] == 0 and answer["type"] == "file" and answer["created_at"] == str(int(clock.t))
    assert server.media(answer["media_id"])["filename"] == "a.pdf"
    call = server.calls_to("media/upload")[-1]
    assert call.body == {"filename": "a.pdf", "size": 18, "content_type": "application/octet-stream"}
    assert api.upload("media/upload", b"abc", type="image")["errcode"] == 40006  # more than 5 bytes, please
    assert api.upload("media/upload", b"abcdefgh", type="gif")["errcode"] == 40005
    assert api.upload("media/upload", b"x" * (10 * 1024 * 1024 + 1), type="image")["errcode"] == 40009
    missing = api.http.post("/cgi-bin/media/upload", params={"access_token": api.token, "type": "image"},
                            files={"other": ("a", b"abcdefgh")}).json()  # fmt: skip
    assert missing["errcode"] == 44001
    image = api.upload("media/upload", b"\x89PNG-image-bytes", type="image")["media_id"]
    attach = [{"msgtype": "image", "image": {"media_id": image}}]
    assert api.mass(["wmA"], attachments=attach)["errcode"] == 0
    clock.t += 3 * 86400  # media_id lives three days
    assert api.mass(["wmA"], attachments=attach)["errcode"] == 40007


def test_bad_requests(api: Api) -> None:
    r = api.http.post("/cgi-bin/externalcontact/add_msg_template", params={"access_token": api.token}, content=b"{nope")
    assert r.json()["errcode"] == 40058 and "wrong json format" in r.json()["errmsg"]
    r = api.http.post("/cgi-bin/externalcontact/unknown", params={"access_token": api.token}, json={})
    assert r.status_code == 404


# ---- callbacks out --------------------------------------------------------------------------
class _Receiver(ThreadingHTTPServer):
    """A minimal callback endpoint built from our crypto and callbacks modules."""

    token, key = "cbtoken", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"

    def __init__(self) -> None:
        self.events: list[Any] = []
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: _Receiver

    def _q(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def do_GET(self) -> None:  # noqa: N802
        q = self._q()
        plain = crypto.verify_url(self.server.token, self.server.key, CORP, q["msg_signature"], q["timestamp"],
                                  q["nonce"], q["echostr"])  # fmt: skip
        self._answer(plain.encode())

    def do_POST(self) -> None:  # noqa: N802
        q = self._q()
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            message = crypto.open_message(self.server.token, self.server.key, CORP, q["msg_signature"],
                                          q["timestamp"], q["nonce"], body)  # fmt: skip
        except crypto.CryptoError:
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.server.events.extend(translate(message).events)
        self._answer(b"")

    def _answer(self, payload: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


def test_send_callback_and_url_verification(server: WeComServer) -> None:
    receiver = _Receiver()
    thread = threading.Thread(target=receiver.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/wecom/callback"
        ok, response = server.verify_callback_url(url, receiver.token, receiver.key, CORP)
        assert ok and response.status_code == 200
        event = {"ToUserName": CORP, "FromUserName": "sys", "CreateTime": 1403610513, "MsgType": "event",
                 "Event": "change_external_contact", "ChangeType": "add_external_contact", "UserID": "zhangsan",
                 "ExternalUserID": "wmNew", "State": "门店二维码"}  # fmt: skip
        assert server.send_callback(url, receiver.token, receiver.key, CORP, event).status_code == 200
        assert [(e.type, e.contact, e.data["source"]) for e in receiver.events] == [
            ("friend_added", "wmNew", "门店二维码")
        ]
        wrong = server.send_callback(url, "another-token", receiver.key, CORP, event_xml(event))
        assert wrong.status_code == 403 and len(receiver.events) == 1
    finally:
        receiver.shutdown()
        receiver.server_close()
        thread.join()
