"""The test server's sync endpoints (playbook/testing/wecom_directory.py), against the pages
they follow: 92571 get_follow_user_list, 92994 batch/get_by_user, 92114 externalcontact/get."""

from __future__ import annotations

import pytest

from playbook.testing.wecom_directory import Relation
from playbook.testing.wecom_server import WeComServer
from tests.wecom import Clock
from tests.wecom.test_server import AGENT, CORP, SECRET, Api

T0 = 1_796_000_000


@pytest.fixture
def world():
    clock = Clock(T0)
    with WeComServer(corp_id=CORP, secret=SECRET, agent_id=AGENT, clock=clock, strict=True) as server:
        yield server, Api(server), clock


def test_follow_user_list_is_the_visible_staff(world):
    server, api, _ = world
    server.add_staff("zhangsan", "lisi", "wangwu")
    server.directory.hidden.add("wangwu")
    doc = api.get("externalcontact/get_follow_user_list")
    assert doc["errcode"] == 0 and doc["follow_user"] == ["lisi", "zhangsan"]


def test_batch_get_by_user_fields_and_corp_tags_only(world):
    server, api, _ = world
    server.directory.customer("wmA", "李四", {"zhangsan": Relation(remark="李部长", createtime=T0 - 86400,
                                                                   state="store-qr", add_way=1,
                                                                   personal_tags=["老客户"])})  # fmt: skip
    tag = api.post("externalcontact/add_corp_tag", {"group_name": "客户等级", "tag": [{"name": "SVIP"}]})
    tag_id = tag["tag_group"]["tag"][0]["id"]
    assert api.post("externalcontact/mark_tag", {"userid": "zhangsan", "external_userid": "wmA",
                                                 "add_tag": [tag_id]})["errcode"] == 0  # fmt: skip
    doc = api.post("externalcontact/batch/get_by_user", {"userid_list": ["zhangsan"]})
    assert doc["errcode"] == 0 and doc["next_cursor"] == ""
    [entry] = doc["external_contact_list"]
    assert entry["external_contact"]["external_userid"] == "wmA" and entry["external_contact"]["name"] == "李四"
    follow = entry["follow_info"]
    assert follow["userid"] == "zhangsan" and follow["remark"] == "李部长" and follow["createtime"] == T0 - 86400
    assert follow["state"] == "store-qr" and follow["add_way"] == 1
    assert follow["tag_id"] == [tag_id]  # 92994: personal (type 2) tags are not returned here
    assert "fail_info" not in doc


def test_batch_get_by_user_pages_with_a_cursor_and_takes_at_most_100_userids(world):
    server, api, _ = world
    for i in range(130):
        server.directory.customer(f"wm{i:03d}", f"客户{i}", ["a1"] if i % 2 else ["a2"])
    seen, cursor, calls = [], "", 0
    while True:
        doc = api.post("externalcontact/batch/get_by_user", {"userid_list": ["a1", "a2"], "cursor": cursor,
                                                             "limit": 1000})  # fmt: skip
        calls += 1
        assert doc["errcode"] == 0 and len(doc["external_contact_list"]) <= 100  # over the maximum: the maximum
        seen += [e["external_contact"]["external_userid"] for e in doc["external_contact_list"]]
        cursor = doc["next_cursor"]
        if not cursor:
            break
    assert calls == 2 and sorted(seen) == [f"wm{i:03d}" for i in range(130)]
    default = api.post("externalcontact/batch/get_by_user", {"userid_list": ["a1", "a2"]})
    assert len(default["external_contact_list"]) == 50  # the default limit
    too_many = api.post("externalcontact/batch/get_by_user", {"userid_list": [f"u{i}" for i in range(101)]})
    assert too_many["errcode"] == 40058
    assert api.post("externalcontact/batch/get_by_user", {"userid_list": ["a1"], "cursor": "zz"})["errcode"] == 50100


def test_one_relation_per_follower_and_unlicensed_members(world):
    server, api, _ = world
    server.directory.customer("wmA", "李四", ["a1", "a2"])
    server.directory.unlicensed.add("a2")
    doc = api.post("externalcontact/batch/get_by_user", {"userid_list": ["a1", "a2"]})
    assert [e["follow_info"]["userid"] for e in doc["external_contact_list"]] == ["a1"]
    assert doc["fail_info"] == {"unlicensed_userid_list": ["a2"]}
    assert api.post("externalcontact/batch/get_by_user", {"userid_list": ["a2"]})["errcode"] == 701008


def test_get_gives_every_follower_with_corp_and_personal_tags(world):
    server, api, _ = world
    server.directory.customer("wmA", "李四", {"a1": Relation(remark="老李", personal_tags=["爱砍价"]),
                                             "a2": Relation(state="live")})  # fmt: skip
    tag = api.post("externalcontact/add_corp_tag", {"group_name": "兴趣", "tag": [{"name": "水果"}]})
    tag_id = tag["tag_group"]["tag"][0]["id"]
    api.post("externalcontact/mark_tag", {"userid": "a2", "external_userid": "wmA", "add_tag": [tag_id]})
    doc = api.get("externalcontact/get", external_userid="wmA")
    assert doc["errcode"] == 0 and doc["external_contact"]["name"] == "李四" and "next_cursor" not in doc
    by_user = {f["userid"]: f for f in doc["follow_user"]}
    assert by_user["a1"]["tags"] == [{"group_name": "", "tag_name": "爱砍价", "type": 2}]
    assert by_user["a2"]["tags"] == [{"group_name": "兴趣", "tag_name": "水果", "type": 1, "tag_id": tag_id}]
    assert by_user["a2"]["state"] == "live" and "state" not in by_user["a1"]
    assert api.get("externalcontact/get")["errcode"] == 41035
    server.remove_friend("wmA")
    assert api.get("externalcontact/get", external_userid="wmA")["errcode"] == 84061
    assert api.get("externalcontact/get", external_userid="wmNobody")["errcode"] == 84061


def test_sync_endpoints_are_rate_limited_like_any_other(world):
    server, api, _ = world
    server.rate_limits["externalcontact/get"] = (2, 100)
    server.directory.customer("wmA", "李四", ["a1"])
    codes = [api.get("externalcontact/get", external_userid="wmA")["errcode"] for _ in range(3)]
    assert codes == [0, 0, 45009]
