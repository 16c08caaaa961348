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
