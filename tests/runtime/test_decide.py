"""The daemon's deciding half over a controlled clock: versions and reloads, `--migrate`,
catch-up after downtime, imports while running, events for unknown contacts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from playbook.runtime.decide import Decider
from playbook.runtime.store import Store
from playbook.vocab.model import Event

TZ = ZoneInfo("Asia/Shanghai")


def at(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp())


def arrive(store: Store, decider: Decider, event: Event) -> None:
    """An event comes in when it happens (the daemon polls the log every tick)."""
    run_until(decider, event.at)
    store.append_events([event], "cli")
    decider.step(event.at)


def run_until(decider: Decider, t: int) -> None:
    """What the daemon's wake-ups do: a step at every timeline item up to t, then at t."""
    while (due := decider.next_due()) is not None and due <= t:
        decider.step(due)
    decider.step(t)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    s.migrate()
    s.import_records("accounts", [{"id": "a1", "name": "小美"}])
    s.import_records("contacts", [{"id": f"c{i}", "name": f"客户{i}", "account": "a1"} for i in (1, 2, 3)])
    yield s
    s.close()


def sent(store: Store, flow: str | None = None) -> list[tuple[str, str | None, str, str]]:
    """(local time, contact, text, outcome) of every decided touch, in time order."""
    rows = [r for r in store.touches() if r.state != "held" and (flow is None or r.flow == flow)]
    rows.sort(key=lambda r: (r.at or 0, r.contact or "", r.key))
    return [(dt.datetime.fromtimestamp(r.at, TZ).strftime("%m-%d %H:%M"), r.contact, r.text, r.outcome) for r in rows]


# ---- versions ------------------------------------------------------------------------------------------
NURTURE = """\
playbook "版本测试"
timezone "Asia/Shanghai"
journey 培育 {{
  on friend_added
  dm 欢迎
  after 1d: dm 回访
}}
content 欢迎 = "欢迎"
content 回访 = "{follow_up}"
"""


def _c1_mid_journey(store: Store, tmp_path: Path) -> tuple[Path, Decider]:
    """Version 1 running; c1 greeted at 10:00 and waiting for its follow-up (due a day later)."""
    pb = tmp_path / "p.pb"
    pb.write_text(NURTURE.format(follow_up="回访一"), encoding="utf-8")
    decider = Decider(store, [str(pb)])
    decider.load(at("2026-12-01 09:00"))
    arrive(store, decider, Event("friend_added", "c1", at("2026-12-01 10:00"), {"account": "a1"}))
    run_until(decider, at("2026-12-01 11:00"))
    return pb, decider


def test_contacts_mid_journey_finish_their_version(store: Store, tmp_path: Path) -> None:
    pb, decider = _c1_mid_journey(store, tmp_path)
    pb.write_text(NURTURE.format(follow_up="回访二"), encoding="utf-8")
    report = decider.load(at("2026-12-01 11:00"))  # what SIGHUP or a file change does
    assert report.new and report.finishing  # the old version still has c1's step to run
    arrive(store, decider, Event("friend_added", "c2", at("2026-12-01 12:00"), {"account": "a1"}))
    run_until(decider, at("2026-12-03 00:00"))
    assert sent(store) == [
        ("12-01 10:00", "c1", "欢迎", "ok"),
        ("12-01 12:00", "c2", "欢迎", "ok"),  # a new entry takes the new version
        ("12-02 10:00", "c1", "回访一", "ok"),  # c1 finishes the version it entered
        ("12-02 12:00", "c2", "回访二", "ok"),
    ]
    assert len(store.versions(active=True)) == 1


def test_a_reload_does_not_greet_anyone_again(store: Store, tmp_path: Path) -> None:
    pb, decider = _c1_mid_journey(store, tmp_path)
    pb.write_text(NURTURE.format(follow_up="回访二"), encoding="utf-8")
    decider.load(at("2026-12-01 11:00"))
    # the same friend_added again (a duplicate delivery): c1 is mid-journey in v1, so v2 does not take it
    arrive(store, decider, Event("friend_added", "c1", at("2026-12-01 11:30"), {"account": "a1"}))
    run_until(decider, at("2026-12-03 00:00"))
    assert [x[2] for x in sent(store)] == ["欢迎", "回访一"]


def test_migrate_moves_contacts_mid_journey_to_the_new_version(store: Store, tmp_path: Path) -> None:
    pb, decider = _c1_mid_journey(store, tmp_path)
    pb.write_text(NURTURE.format(follow_up="回访二"), encoding="utf-8")
    report = Decider(store, [str(pb)]).load(at("2026-12-01 11:00"), migrate=True)  # `playbook run --migrate`
    assert report.migrated == 1
    decider = Decider(store, [str(pb)])
    assert decider.load(at("2026-12-01 11:00")).finishing == []  # nothing left in the old version
    run_until(decider, at("2026-12-03 00:00"))
    assert sent(store) == [("12-01 10:00", "c1", "欢迎", "ok"), ("12-02 10:00", "c1", "回访二", "ok")]
    exits = [e.data["reason"] for e in store.state_events(types=["exit"], contact="c1")]
    assert exits[0].startswith("migrated to pb-")


def test_a_broken_edit_is_refused_and_the_running_version_carries_on(store: Store, tmp_path: Path) -> None:
    from playbook.diagnostics import PlaybookError

    pb = tmp_path / "p.pb"
    pb.write_text(NURTURE.format(follow_up="回访一"), encoding="utf-8")
    decider = Decider(store, [str(pb)])
    decider.load(at("2026-12-01 09:00"))
    pb.write_text("journey 坏 {", encoding="utf-8")
    with pytest.raises(PlaybookError):
        decider.load(at("2026-12-01 09:30"))
    arrive(store, decider, Event("friend_added", "c1", at("2026-12-01 10:00"), {"account": "a1"}))
    run_until(decider, at("2026-12-01 11:00"))
    assert [x[2] for x in sent(store)] == ["欢迎"]


# ---- downtime ----------------------------------------------------------------------------------------------
CALENDAR = """\
playbook "补跑"
timezone "Asia/Shanghai"
quiet 22:00-08:00
moments 朋友圈 { every day at 09:00: post 早安 }
journey 跟进 {
  on friend_added
  after 2h: dm 跟进
}
content 早安 = "早安"
content 跟进 = "跟进"
"""


def _calendar(store: Store, tmp_path: Path) -> Decider:
    pb = tmp_path / "c.pb"
    pb.write_text(CALENDAR, encoding="utf-8")
    decider = Decider(store, [str(pb)], grace=3600)
    decider.load(at("2026-12-01 00:00"))
    run_until(decider, at("2026-12-01 10:00"))
    return decider


def test_downtime_within_grace_fires_once_older_firings_are_missed(store: Store, tmp_path: Path) -> None:
    _calendar(store, tmp_path)
    # down from 12-01 10:00 to 12-04 09:30: 12-02 and 12-03 are older than the grace period
    decider = Decider(store, [str(tmp_path / "c.pb")], grace=3600)
    report = decider.load(at("2026-12-04 09:30"))
    assert report.missed == 2
    run_until(decider, at("2026-12-05 10:00"))
    assert [x[0] for x in sent(store, "朋友圈")] == ["12-01 09:00", "12-04 09:30", "12-05 09:00"]
    missed = store.state_events(types=["schedule_missed"])
    assert [(e.flow, e.data["count"]) for e in missed] == [("朋友圈", 2)]
    assert missed[0].data["first"] == at("2026-12-02 09:00") and missed[0].data["last"] == at("2026-12-03 09:00")


def test_downtime_beyond_grace_never_bursts(store: Store, tmp_path: Path) -> None:
    _calendar(store, tmp_path)
    decider = Decider(store, [str(tmp_path / "c.pb")], grace=3600)
    assert decider.load(at("2026-12-04 11:00")).missed == 3
    run_until(decider, at("2026-12-05 10:00"))
    assert [x[0] for x in sent(store, "朋友圈")] == ["12-01 09:00", "12-05 09:00"]


def test_a_step_overdue_after_downtime_respects_quiet_hours(store: Store, tmp_path: Path) -> None:
    _calendar(store, tmp_path)
    store.append_events([Event("friend_added", "c1", at("2026-12-01 10:00"), {"account": "a1"})], "cli")
    decider = Decider(store, [str(tmp_path / "c.pb")], grace=3600)
    decider.load(at("2026-12-01 10:00"))
    decider.step(at("2026-12-01 10:00"))
    # down from 10:00 until 23:00: the 12:00 step runs at 23:00, which is quiet: held until 08:00
    decider = Decider(store, [str(tmp_path / "c.pb")], grace=3600)
    assert decider.load(at("2026-12-01 23:00")).caught_up >= 1
    run_until(decider, at("2026-12-02 09:00"))
    assert sent(store, "跟进") == [("12-02 08:00", "c1", "跟进", "deferred")]
    row = store.touches(states=("pending",))
    assert [r.reason for r in row if r.flow == "跟进"] == ["quiet hours 22:00-08:00"]


# ---- data coming in ------------------------------------------------------------------------------------------
SEGMENT_ENTRY = """\
playbook "导入"
timezone "Asia/Shanghai"
segment 会员 = tag "VIP"
journey 会员欢迎 {
  on enter 会员
  dm 会员礼
}
content 会员礼 = "会员礼"
"""


def test_an_import_while_running_is_taken_in(store: Store, tmp_path: Path) -> None:
    pb = tmp_path / "s.pb"
    pb.write_text(SEGMENT_ENTRY, encoding="utf-8")
    decider = Decider(store, [str(pb)])
    decider.load(at("2026-12-01 09:00"))
    run_until(decider, at("2026-12-01 10:00"))
    assert sent(store) == []
    store.import_records("contacts", [{"id": "c2", "tags": frozenset({"VIP"})}, {"id": "c9", "account": "a1",
                                                                                "tags": frozenset({"VIP"})}])  # fmt: skip
    report = decider.step(at("2026-12-01 10:05"))
    assert report.imported == 2
    assert sent(store) == [("12-01 10:05", "c2", "会员礼", "ok"), ("12-01 10:05", "c9", "会员礼", "ok")]
    assert decider.step(at("2026-12-01 10:06")).imported == 0  # taken in once


def test_events_for_unknown_contacts_are_rejected_with_the_reason(store: Store, tmp_path: Path) -> None:
    pb = tmp_path / "s.pb"
    pb.write_text(SEGMENT_ENTRY, encoding="utf-8")
    decider = Decider(store, [str(pb)])
    decider.load(at("2026-12-01 09:00"))
    store.append_events([Event("purchase", "nobody", at("2026-12-01 09:10"), {"amount": 5})], "cli")
    report = decider.step(at("2026-12-01 09:20"))
    assert (report.events, report.rejected) == (1, 1)
    assert store.event_counts() == {"rejected": 1}


def test_an_uncommitted_step_is_decided_again_the_same_way(store: Store, tmp_path: Path) -> None:
    pb = tmp_path / "p.pb"
    pb.write_text(NURTURE.format(follow_up="回访一"), encoding="utf-8")
    decider = Decider(store, [str(pb)])
    decider.load(at("2026-12-01 09:00"))
    store.append_events([Event("friend_added", "c1", at("2026-12-01 10:00"), {"account": "a1"})], "cli")
    decider.engine.feed(store.next_events()[0])
    decider.engine.advance(at("2026-12-01 10:00"))  # decided in memory, then the process dies: no commit
    assert store.touches() == [] and store.event_counts() == {"new": 1}
    again = Decider(store, [str(pb)])
    again.load(at("2026-12-01 10:00") + 30)  # restarted within the minute: decided as it would have been
    run_until(again, at("2026-12-01 11:00"))
    assert sent(store) == [("12-01 10:00", "c1", "欢迎", "ok")]
    assert store.event_counts() == {"processed": 1}


TAGGING = """\
playbook "打标签"
timezone "Asia/Shanghai"
journey 标记 {
  on friend_added
  tag add "新朋友"
  after 1h: tag remove "新朋友"
}
"""


@pytest.mark.parametrize("sync", [False, True])
def test_tag_actions_reach_the_ledger_only_for_an_adapter_that_syncs_tags(store: Store, tmp_path: Path,
                                                                           sync: bool) -> None:  # fmt: skip
    pb = tmp_path / "t.pb"
    pb.write_text(TAGGING, encoding="utf-8")
    decider = Decider(store, [str(pb)], sync_tags=sync)
    decider.load(at("2026-12-01 09:00"))
    arrive(store, decider, Event("friend_added", "c1", at("2026-12-01 10:00"), {"account": "a1"}))
    run_until(decider, at("2026-12-01 12:00"))
    rows = [(r.channel, r.content, r.text, r.account, r.contact, r.state) for r in store.touches()]
    if not sync:
        assert rows == []
    else:
        assert sorted(rows) == [("tag", "add", "新朋友", "a1", "c1", "pending"),
                                ("tag", "remove", "新朋友", "a1", "c1", "pending")]  # fmt: skip
