"""WeCom's mass-message quota as WeCom counts it: per customer group too (创建企业群发, 92135:
"每位客户/每个客户群" receive at most the rule's count), declared to the engine so the plan
defers a group post WeCom would refuse with status 3."""

from __future__ import annotations

from pathlib import Path

from playbook.adapters.capabilities import wecom_limits
from playbook.plan.run import PlanInput, run_plan

PLAYBOOK = """playbook "群发配额"
timezone "Asia/Shanghai"

segment 水果客 = tag "水果"

content 邀请 = "进群领券～"
content 早报 = "今天的水果到了"
content 晚报 = "今晚最后一批"

group 水果群 {
  members in 水果客
  opens 2026-12-10 09:00
  lasts 3d
  invite 邀请
  day 0 at 10:00: post 早报
  day 0 at 20:00: post 晚报
}
"""


def plan(tmp: Path, mode: str) -> list:
    (tmp / "p.pb").write_text(PLAYBOOK, encoding="utf-8")
    (tmp / "c.csv").write_text("id,name,account,tags\nwmA,李四,a1,水果\nwmB,王五,a1,水果\nwmC,赵六,a2,水果\n",
                               encoding="utf-8")  # fmt: skip
    result = run_plan(PlanInput(paths=[str(tmp / "p.pb")], contacts=str(tmp / "c.csv"), start="2026-12-10 00:00",
                                days=3, adapter_limits=wecom_limits(mode), can_dissolve_groups=False))  # fmt: skip
    assert not result.problems
    return [t for t in result.touches if t.channel == "group"]


def test_a_group_gets_at_most_one_post_a_day_under_the_daily_rule(tmp_path: Path) -> None:
    posts = plan(tmp_path, "day")
    evening = sorted((t for t in posts if t.content == "晚报"), key=lambda t: t.account or "")
    morning = [t for t in posts if t.content == "早报"]
    assert len(morning) == 2 and all(t.at == t.due for t in morning)  # one group instance per account
    assert len(evening) == 2 and all(t.at > t.due for t in evening)  # deferred to the next day, per instance
    assert {t.reason for t in evening} == {"wecom: 1 post per customer group per day"}


def test_the_monthly_rule_lets_both_posts_go(tmp_path: Path) -> None:
    posts = plan(tmp_path, "month")
    assert len(posts) == 4 and all(t.at == t.due for t in posts)
    assert {r.scope for r in wecom_limits("month") if r.channel == "group"} == {"group"}


# ---- a customer's quota spent by messages staff send themselves (个人发表) -----------------------------

from playbook.runtime.decide import Decider  # noqa: E402
from playbook.runtime.importing import import_synced, known_contacts  # noqa: E402
from playbook.runtime.store import Store  # noqa: E402
from playbook.testing.wecom_server import WeComServer  # noqa: E402
from tests.wecom import Clock  # noqa: E402
from tests.wecom.test_server import CORP as API_CORP  # noqa: E402
from tests.wecom.test_server import SECRET as API_SECRET  # noqa: E402
from tests.wecom.test_server import Api  # noqa: E402
from tests.wecom.test_sync import CORP, SECRET, adapter_for  # noqa: E402

NOON = 1_796_961_600  # 2026-12-11 12:00 China time (a Friday)

GREETING = """playbook "问候"
timezone "Asia/Shanghai"

segment 贵宾 = tag "SVIP"
content 问候 = "周末愉快"

journey 问候 {
  on enter 贵宾
  dm 问候
}
"""


def test_the_server_lists_staff_members_own_tasks_by_filter_type(tmp_path: Path) -> None:
    clock = Clock(NOON)
    with WeComServer(corp_id=API_CORP, secret=API_SECRET, clock=clock, strict=True, quota="day") as server:
        server.directory.customer("wmA", "李四", ["a1"])
        server.directory.customer("wmB", "王五", ["a2"])
        msgid = server.directory.staff_send("a1", ["wmA", "wmB"], "周末特价")
        api = Api(server)
        span = {"start_time": NOON - 3600, "end_time": NOON + 3600}
        mine = api.post("externalcontact/get_groupmsg_list_v2", {**span, "filter_type": 1})["group_msg_list"]
        assert [(t["msgid"], t["creator"], t["create_type"]) for t in mine] == [(msgid, "a1", 1)]
        assert api.post("externalcontact/get_groupmsg_list_v2", {**span, "filter_type": 0})["group_msg_list"] == []
        assert len(api.post("externalcontact/get_groupmsg_list_v2", span)["group_msg_list"]) == 1  # 2: all
        rows = api.post("externalcontact/get_groupmsg_send_result", {"msgid": msgid, "userid": "a1"})["send_list"]
        assert {(r["external_userid"], r["status"]) for r in rows} == {("wmA", 1), ("wmB", 2)}  # wmB: not a1's
        # it spent wmA's quota (1 a day): a company task confirmed today finds wmA over it
        task = api.post("externalcontact/add_msg_template", {"chat_type": "single", "external_userid": ["wmA"],
                                                            "sender": "a1", "text": {"content": "hi"}})  # fmt: skip
        server.confirm(task["msgid"])
        rows = api.post("externalcontact/get_groupmsg_send_result", {"msgid": task["msgid"], "userid": "a1"})
        assert [r["status"] for r in rows["send_list"]] == [3]


def test_staff_sends_count_toward_the_quota_so_the_daemon_holds_the_dm(tmp_path: Path) -> None:
    clock = Clock(NOON)
    with WeComServer(corp_id=CORP, secret=SECRET, clock=clock, strict=True) as server:
        server.directory.customer("wmA", "李四", ["a1"])
        server.directory.customer("wmB", "王五", ["a1"])
        with server._lock:
            tag = server._add_corp_tag({}, {"group_name": "等级", "tag": [{"name": "SVIP"}]}, NOON)
            for c in ("wmA", "wmB"):
                server._marks[("a1", c)].add(tag["tag_group"]["tag"][0]["id"])
        server.directory.staff_send("a1", ["wmA"], "周末特价", at=NOON - 600)
        adapter = adapter_for(server, tmp_path, sync="6h")
        first = adapter.sync({}, NOON, quota=True)
        assert first.spent == [("dm", "wmA", NOON - 600)]
        assert adapter.sync({}, NOON, full=True, quota=True).spent == []  # reported once
        (tmp_path / "p.pb").write_text(GREETING, encoding="utf-8")
        with Store(f"sqlite:///{tmp_path / 'store.db'}") as store:
            store.migrate()
            import_synced(store, first, "wecom", NOON)
            assert set(known_contacts(store)) == {"wmA", "wmB"}
            decider = Decider(store, [str(tmp_path / "p.pb")], shared_limits=adapter.capabilities.limits)
            decider.load(NOON)
            assert decider.count_spent(first.spent, NOON) == 2  # the daily and the monthly rule
            decider.step(NOON)
            rows = {r.contact: r for r in store.touches()}
            assert rows["wmB"].state == "pending" and rows["wmB"].at == NOON  # goes out now
            assert rows["wmA"].state == "held"  # its quota for today was spent by a1's own message
            decider.step(NOON + 12 * 3600 - 1)
            assert {r.contact: r.state for r in store.touches()}["wmA"] == "held"
            decider.step(NOON + 12 * 3600)  # midnight, China time: a new day's quota
            assert {r.contact: (r.state, r.at) for r in store.touches()}["wmA"] == ("pending", NOON + 12 * 3600)
        adapter.close()
