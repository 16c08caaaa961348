"""A running playbook edited (issue 12, item 1): what a limit, re-entry and the other
per-playbook state counted belongs to the playbook, not to one version of it — an edit
(a new version, reloaded by SIGHUP or a file change) never resets it.

The first tests drive the real daemon process (jsonl adapter) on SQLite and PostgreSQL;
the release "next day" is shown by a Decider over the same store with the clock moved on
(the real process reads the wall clock, which a test cannot move).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from playbook.adapters.jsonl import JsonlAdapter
from playbook.runtime.decide import Decider
from playbook.runtime.dispatch import Dispatcher
from playbook.runtime.store import Store
from playbook.vocab.localtime import LocalTime
from playbook.vocab.model import Event
from tests.runtime.processes import read_jsonl, start_run, wait, write_jsonl_config

PLAYBOOK = """\
playbook "限额测试"
timezone "Asia/Shanghai"
limit dm 1 per contact per day

journey 一 {
  on ping
  dm hi
}

journey 二 {
  on pong
  dm yo
}

content hi = "hi"
content yo = "yo"
"""
LIMIT = "limit dm 1 per contact per day"


def _config(tmp: Path, url: str) -> Path:
    return write_jsonl_config(tmp / "playbook.toml", url, tmp / "outbox.jsonl", tick=0.1)


def _start(tmp: Path, config: Path) -> subprocess.Popen:
    return start_run(tmp / "p.pb", config)


def _outbox(tmp: Path) -> list[dict]:
    return read_jsonl(tmp / "outbox.jsonl", skip_blank=True)


def _midnight_after(now: int) -> int:
    return LocalTime("Asia/Shanghai").next_period_start(now, "day")


@pytest.mark.parametrize("how", ["sighup", "file"])
def test_a_limit_survives_an_edit_of_the_running_playbook(tmp_path: Path, store_url: str, how: str) -> None:
    now = int(time.time())
    if _midnight_after(now) - now < 120:
        pytest.skip("too close to midnight in Asia/Shanghai: the day's limit would roll over mid-test")
    (tmp_path / "p.pb").write_text(PLAYBOOK, encoding="utf-8")
    config = _config(tmp_path, store_url)
    store = Store(store_url)
    store.migrate()
    store.append_events([Event("friend_added", "c1", now, {"account": "a1", "name": "客户"})], "cli")
    proc = _start(tmp_path, config)
    try:
        store.append_events([Event("ping", "c1", int(time.time()), {})], "cli")
        wait(lambda: len(_outbox(tmp_path)) == 1, timeout=30)
        (before,) = [v.version for v in store.versions(active=True)]
        path = tmp_path / "p.pb"
        stat = path.stat()
        path.write_text(PLAYBOOK.replace('"yo"', '"yo!"'), encoding="utf-8")
        if how == "sighup":
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # only the signal can tell
            proc.send_signal(signal.SIGHUP)
        else:
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
        wait(lambda: [v.version for v in store.versions(active=True)] not in ([before], []), timeout=30)
        (after,) = [v.version for v in store.versions(active=True)]
        store.append_events([Event("pong", "c1", int(time.time()), {})], "cli")
        held = wait(lambda: [r for r in store.touches() if r.flow == "二"], timeout=30)
        time.sleep(0.5)  # a dispatch round that would send it
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    assert [d["text"] for d in _outbox(tmp_path)] == ["hi"]  # no second dm the same day
    (row,) = held
    assert row.version == after and row.state == "held" and row.reason == LIMIT
    # the next day (the Decider the process runs, its clock moved on): it goes out
    tomorrow = _midnight_after(int(time.time()))
    decider = Decider(store, [str(tmp_path / "p.pb")])
    decider.load(tomorrow + 5)
    decider.step(tomorrow + 5)
    adapter = JsonlAdapter({"path": str(tmp_path / "outbox.jsonl")})
    adapter.open()
    dispatcher = Dispatcher(store, adapter, owner="test", clock=lambda: tomorrow + 5, workers=1)
    while dispatcher.run_once(tomorrow + 5).claimed:
        pass
    dispatcher.close()
    adapter.close()
    sent = _outbox(tmp_path)
    assert [d["text"] for d in sent] == ["hi", "yo!"]
    assert sent[1]["at"] == dt_iso(tomorrow)
    store.close()


def dt_iso(epoch: int) -> str:
    from playbook.adapters.jsonl import iso_utc

    return iso_utc(epoch)


# ---- the rest of a playbook's state across an edit (the Decider the daemon runs) -------------------------
FLOWS = """\
playbook "状态测试"
timezone "Asia/Shanghai"

journey 欢迎 {
  on ping
  goal purchase within 7d
  dm hi
}

rotate 回访 {
  each contact every 7d
  order by name
  at 10:00
  task "回访{name}"
}

sla 回复 { message answered by staff_message within 60m }

content hi = "hi"
"""
T0 = 1_796_090_400  # 2026-12-01 10:00 Asia/Shanghai, a Tuesday


def _load(store: Store, path: Path, text: str, now: int) -> Decider:
    path.write_text(text, encoding="utf-8")
    decider = Decider(store, [str(path)])
    decider.load(now)
    return decider


def _run_until(decider: Decider, end: int) -> None:
    """The daemon's loop on a fast-forward clock: each wake-up at the next timeline item."""
    while (due := decider.next_due()) is not None and due <= end:
        decider.step(due)
    decider.step(end)


def _event(store: Store, kind: str, cid: str, at: int) -> None:
    store.append_events([Event(kind, cid, at, {})], "cli")


def test_reentry_goals_rotations_and_watches_survive_an_edit(store: Store, tmp_path: Path) -> None:
    store.import_records("contacts", [{"id": f"c{i}", "name": f"客户{i}", "account": "a1"} for i in range(1, 5)])
    path = tmp_path / "状态.pb"
    decider = _load(store, path, FLOWS, T0 - 60)
    _event(store, "ping", "c1", T0)
    _event(store, "message", "c2", T0 + 60)
    decider.step(T0 + 120)
    tasks = [r for r in store.touches() if r.flow == "回访"]
    assert len(tasks) == 1  # one of four contacts each day over the 7-day cycle (ceil(4 / 7))
    # the edit: a new version (the dm's text), reloaded
    decider = _load(store, path, FLOWS.replace('"hi"', '"hello"'), T0 + 180)
    _event(store, "ping", "c1", T0 + 240)  # no re-entry: once ever, in any version
    _event(store, "message", "c2", T0 + 300)  # part of the watch that is open
    _event(store, "purchase", "c1", T0 + 3600)  # the goal of the enrolment made before the edit
    _event(store, "staff_message", "c2", T0 + 1800)
    _run_until(decider, T0 + 2 * 86400)
    assert [r.text for r in store.touches() if r.flow == "欢迎"] == ["hi"]
    goals = store.state_events(types=["goal"])
    assert [(e.contact, e.flow) for e in goals] == [("c1", "欢迎")]
    slas = store.state_events(types=["sla_started", "sla_met", "sla_late", "sla_missed"])
    assert [e.type for e in slas] == ["sla_started", "sla_met"]
    reminders = [r for r in store.touches() if r.flow == "回复"]
    assert reminders == []  # answered at 30 of 60 minutes, before the reminder at 48
    tasks = sorted(r.contact for r in store.touches() if r.flow == "回访")
    assert len(tasks) == 3 and len(set(tasks)) == 3  # the cycle goes on: nobody twice, one a day


JOURNEY = """\
playbook "再入测试"
timezone "Asia/Shanghai"

journey 欢迎 {
  on ping
  reenter after 3d
  goal purchase within 7d
  dm hi
}

content hi = "hi"
"""


def test_an_edit_after_the_journey_ended_keeps_reentry_and_the_goal_window(store: Store, tmp_path: Path) -> None:
    """The older version has nothing left to do (its only enrolment ended) when the edit
    comes: what it entered still counts."""
    store.import_records("contacts", [{"id": "c1", "name": "客户", "account": "a1"}])
    path = tmp_path / "再入.pb"
    decider = _load(store, path, JOURNEY, T0 - 60)
    _event(store, "ping", "c1", T0)
    _run_until(decider, T0 + 60)
    decider = _load(store, path, JOURNEY.replace('"hi"', '"hello"'), T0 + 120)
    decider = _load(store, path, JOURNEY.replace('"hi"', '"hello"'), T0 + 130)  # and a restart
    _event(store, "ping", "c1", T0 + 86400)  # too soon: reenter after 3d
    _event(store, "purchase", "c1", T0 + 2 * 86400)
    _event(store, "ping", "c1", T0 + 3 * 86400 + 60)  # now it may
    _run_until(decider, T0 + 4 * 86400)
    assert sorted((r.at, r.text) for r in store.touches()) == [(T0, "hi"), (T0 + 3 * 86400 + 60, "hello")]
    assert [(e.type, e.at) for e in store.state_events(types=["goal", "enter"])] == [
        ("enter", T0), ("goal", T0 + 2 * 86400), ("enter", T0 + 3 * 86400 + 60)]  # fmt: skip


def test_migration_0006_moves_counts_from_versions_to_their_playbook(open_store: Callable[..., Store]) -> None:
    import sqlalchemy as sa

    store = open_store()
    store.migrate("0003")
    limits = [
        {"channel": "dm", "count": 1, "scope": "contact", "period": "day", "action": "defer", "label": "x"},
        {"channel": "task", "count": 5, "scope": "account", "period": "week", "action": "skip", "label": "y"},
    ]
    for version in ("pb-1", "pb-2"):  # two versions of one playbook, both counted today
        store.save_version({"version": version, "name": "限额", "limits": limits})
    day, week, month = (T0 - 36000, T0 + 50400), (T0 - 122400, T0 + 482400), (T0 - 36000, T0 + 30 * 86400)
    rows = [
        ("pb-1", 0, "c1", *day, 1),
        ("pb-2", 0, "c1", *day, 1),
        ("pb-2", 1, "a1", *week, 3),
        ("platform", 0, "c1", *day, 1),
        ("platform", 1, "c1", *month, 4),
        ("pb-gone", 0, "c1", *day, 9),
    ]
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO limit_counters VALUES (:a, :b, :c, :d, :e, :f)"),
                     [dict(zip("abcdef", row, strict=True)) for row in rows])  # fmt: skip
    store.migrate()
    got = sorted((c.scope, c.rule, c.scope_id, c.count) for c in store.load_state().counters)
    assert got == [("platform", "dm per contact per day", "c1", 1), ("platform", "dm per contact per month", "c1", 4),
                   ("限额", "dm per contact per day", "c1", 2), ("限额", "task per account per week", "a1", 3)]  # fmt: skip


def test_an_edit_that_removes_a_journeys_only_step_reloads(store: Store, tmp_path: Path) -> None:
    """Found by the edits-at-random-instants property run: a journey without steps is a
    warning for `check`, and its IR (no `start`) must load — it used to be a traceback."""
    store.import_records("contacts", [{"id": "c1", "name": "客户", "account": "a1"}])
    path = tmp_path / "再入.pb"
    _load(store, path, JOURNEY, T0 - 60)
    decider = _load(store, path, JOURNEY.replace("  dm hi\n", ""), T0)
    _event(store, "ping", "c1", T0 + 60)
    _run_until(decider, T0 + 120)
    assert store.touches() == []
    assert [e.type for e in store.state_events(types=["enter", "exit"])] == ["enter", "exit"]


def test_two_running_playbooks_with_one_name_are_refused(store: Store, tmp_path: Path) -> None:
    """A playbook's limits and state are filed under its name (its file's): two files named
    alike in different folders would share them, so the daemon refuses to run both."""
    from playbook.diagnostics import PlaybookError

    for folder in ("甲", "乙"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "活动.pb").write_text(JOURNEY, encoding="utf-8")
    decider = Decider(store, [str(tmp_path / "甲" / "活动.pb"), str(tmp_path / "乙" / "活动.pb")])
    with pytest.raises(PlaybookError) as info:
        decider.load(T0)
    assert "活动" in info.value.diagnostics[0].message and store.versions() == []


TWO_STEPS = """\
playbook "两步"
timezone "Asia/Shanghai"
limit dm 2 per contact per day

journey 一 {
  on ping
  dm hi
  after 2h: dm again
}

journey 二 {
  on pong
  dm yo
}

content hi = "hi"
content again = "again"
content yo = "yo"
"""


def test_an_older_version_finishing_counts_against_the_same_limit(store: Store, tmp_path: Path) -> None:
    """c1 is mid-journey in the old version when the edit comes; the new version sends it a
    dm; the old version's second dm then finds the day's limit full (one count for both)."""
    store.import_records("contacts", [{"id": "c1", "name": "客户", "account": "a1"}])
    path = tmp_path / "两步.pb"
    decider = _load(store, path, TWO_STEPS, T0 - 60)
    _event(store, "ping", "c1", T0)
    _run_until(decider, T0 + 60)
    decider = _load(store, path, TWO_STEPS.replace('"yo"', '"yo!"'), T0 + 120)
    _event(store, "pong", "c1", T0 + 180)
    decider.step(T0 + 180)  # the daemon's tick takes the event in
    _run_until(decider, T0 + 3 * 3600)
    rows = {r.content: r for r in store.touches()}
    assert [(rows[x].outcome, rows[x].text) for x in ("hi", "yo")] == [("ok", "hi"), ("ok", "yo!")]
    assert (rows["again"].state, rows["again"].reason) == ("held", "limit dm 2 per contact per day")
    _run_until(decider, T0 + 86400)
    assert store.touches(keys=[rows["again"].key])[0].at == 1_796_140_800  # the next day, 00:00
