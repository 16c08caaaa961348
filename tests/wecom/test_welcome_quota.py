"""A greeting sent as WeCom's welcome message spends no mass-message quota (issue 13, item 1):
send_welcome_msg (92137/92599) is its own call, not a 群发 task, and WeCom counts only tasks
toward a customer's quota (创建企业群发, 92135). The WeCom dm limits say so
(`LimitRule.welcome_free`): a dm tried within the WelcomeCode's 20 s after the friend_added
that entered its journey does not count, so plan and daemon both let the day's other dm go.
The playbook's own `limit dm …` still counts it; the daemon counts it after all when the
adapter had to make it a task."""

from __future__ import annotations

from pathlib import Path

import pytest

from playbook.adapters.capabilities import wecom_limits
from playbook.adapters.wecom.adapter import CALLBACK_PATH
from playbook.plan.run import PlanInput, run_plan
from playbook.runtime.decide import Decider
from playbook.runtime.dispatch import Dispatcher
from playbook.runtime.store import Store
from tests.runtime.conftest import backend, pg_database, store_url  # noqa: F401 (fixtures: SQLite and PostgreSQL)
from tests.wecom.test_welcome import World, clock, server, world  # noqa: F401 (fixtures)

PLAYBOOK = """playbook "欢迎"
timezone "Asia/Shanghai"
{limit}
content 欢迎语 = "{{name|亲}}您好！"
content 福利 = "新人福利已到账"

journey 新客 {{
  on friend_added
  dm 欢迎语
  after 2h: dm 福利
}}
"""
# 2026-12-10 10:00 in Shanghai; the events file of the plan
ADDED = 1_796_868_000


def _plan(tmp: Path, limit: str = "", added_by: str = "zhangsan") -> list:
    (tmp / "p.pb").write_text(PLAYBOOK.format(limit=limit), encoding="utf-8")
    (tmp / "c.csv").write_text("id,name,account\nwmA,李四,zhangsan\n", encoding="utf-8")
    (tmp / "e.csv").write_text(f"contact,type,at,account\nwmA,friend_added,2026-12-10 10:00,{added_by}\n",
                               encoding="utf-8")  # fmt: skip
    result = run_plan(PlanInput(paths=[str(tmp / "p.pb")], contacts=str(tmp / "c.csv"), events=str(tmp / "e.csv"),
                                start="2026-12-10 00:00", days=2, adapter_limits=wecom_limits("month")))  # fmt: skip
    assert not result.problems
    return sorted((t for t in result.touches if t.channel == "dm"), key=lambda t: t.due)


def test_the_plan_lets_the_days_second_dm_go_after_a_welcome(tmp_path: Path) -> None:
    welcome, second = _plan(tmp_path)
    assert welcome.content == "欢迎语" and welcome.at == welcome.due == ADDED
    assert second.content == "福利" and second.at == second.due == ADDED + 7200  # not deferred to tomorrow


def test_the_playbooks_own_limit_still_counts_the_welcome(tmp_path: Path) -> None:
    welcome, second = _plan(tmp_path, "limit dm 1 per contact per day")
    assert welcome.at == welcome.due
    assert second.at > second.due and not second.reason.startswith("wecom")  # held by the playbook's own rule
    assert second.at >= ADDED + 14 * 3600  # the next day in Shanghai


def test_the_welcome_is_the_new_friends_account(tmp_path: Path) -> None:
    """The customer added lisi: friend_added's account becomes the contact's, so lisi greets with
    lisi's WelcomeCode (as the adapter would) and the day's second dm is not held."""
    first, second = _plan(tmp_path, added_by="lisi")
    assert first.account == second.account == "lisi"
    assert first.at == first.due and second.at == second.due


def test_a_dm_not_started_by_friend_added_counts(tmp_path: Path) -> None:
    """The same two dms in a journey entered on another event: the daily quota holds the second."""
    (tmp_path / "p.pb").write_text(PLAYBOOK.format(limit="").replace("on friend_added", "on tag_added"),
                                   encoding="utf-8")  # fmt: skip
    (tmp_path / "c.csv").write_text("id,name,account\nwmA,李四,zhangsan\n", encoding="utf-8")
    (tmp_path / "e.csv").write_text("contact,type,at,tag\nwmA,tag_added,2026-12-10 10:00,x\n", encoding="utf-8")
    result = run_plan(PlanInput(paths=[str(tmp_path / "p.pb")], contacts=str(tmp_path / "c.csv"),
                                events=str(tmp_path / "e.csv"), start="2026-12-10 00:00", days=2,
                                adapter_limits=wecom_limits("month")))  # fmt: skip
    first, second = sorted((t for t in result.touches if t.channel == "dm"), key=lambda t: t.due)
    assert first.at == first.due and second.at > second.due


def _daemon(w: World, tmp_path: Path, url: str, *, welcome: bool) -> list:
    """Callback → store → engine → dispatch through the adapter, then two hours on."""
    source = tmp_path / "welcome.pb"
    source.write_text(PLAYBOOK.format(limit=""), encoding="utf-8")
    store = Store(url)
    store.migrate()
    w.route = w.adapter.callbacks(lambda events: store.append_events(list(events), "adapter"))[CALLBACK_PATH]
    caps = w.adapter.capabilities
    decider = Decider(store, [str(source)], shared_limits=caps.limits, can_dissolve_groups=caps.dissolve_groups,
                      sync_tags=caps.tags)  # fmt: skip
    decider.load(int(w.clock.t))
    dispatcher = Dispatcher(store, w.adapter, owner="d", clock=w.clock)
    w.server.directory.customer("wmDaemon", "李四", ["zhangsan"])
    w.added("wmDaemon", welcome=welcome)
    w.clock.t += 2
    decider.step(int(w.clock.t))
    done = dispatcher.run_once(w.clock.t)
    assert done.sent == 1
    decider.count_welcomes(done.refs, int(w.clock.t))  # as Daemon._turn does
    w.clock.t += 7200
    decider.step(int(w.clock.t))
    rows = sorted((r for r in store.touches() if r.channel == "dm"), key=lambda r: r.due)
    dispatcher.close()
    store.close()
    return rows


def test_the_daemon_lets_the_days_second_dm_go_after_a_welcome(world: World, tmp_path: Path, store_url: str) -> None:  # noqa: F811
    greeting, second = _daemon(world, tmp_path, store_url, welcome=True)
    assert greeting.state == "sent" and (greeting.adapter_ref or "").startswith("welcome:")
    assert second.state == "pending" and second.at == second.due  # goes out at once, not tomorrow


def test_the_daemon_counts_a_greeting_that_went_as_a_task(world: World, tmp_path: Path, store_url: str) -> None:  # noqa: F811
    """No WelcomeCode (the admin configured a welcome for the member: 92599 "不会返回welcome_code"):
    the greeting went as a mass-message task, which spends the quota — the second dm waits."""
    greeting, second = _daemon(world, tmp_path, store_url, welcome=False)
    assert greeting.state == "sent" and not (greeting.adapter_ref or "").startswith("welcome:")
    assert second.state == "held"


@pytest.mark.parametrize("age", [0, 19, 20, 600])
def test_the_window_is_the_codes_life(age: int) -> None:
    from playbook.engine.policy import LimitCounter, Policies
    from playbook.vocab.localtime import LocalTime

    local = LocalTime("Asia/Shanghai")
    policies = Policies(local, None, [], [LimitCounter(r, local) for r in wecom_limits("day")])
    policies.record(ADDED, "dm", "zhangsan", "wmA")  # the day's quota is spent
    verdict = policies.judge(ADDED + 60, "dm", "zhangsan", "wmA", welcome_age=age)
    assert verdict.send is (age < 20)
