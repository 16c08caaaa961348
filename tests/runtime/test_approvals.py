"""The launch gate (issue 12, item 4): a version that would send more than `[daemon]
approve = "above N"` touches in its first hour is loaded but sends nothing until `playbook
approve`; `playbook reject` skips its held touches with the reason; a second reload before
a decision replaces the pending version; decisions are kept in the store and survive
restarts. On SQLite and PostgreSQL, with the Decider the daemon runs and the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from playbook.cli.main import cli
from playbook.runtime.approvals import ApprovePolicy, parse_policy
from playbook.runtime.decide import Decider
from playbook.runtime.store import Store

PLAYBOOK = """\
playbook "首发"
timezone "Asia/Shanghai"

segment 全部 = orders >= 0

journey 问候 {
  on enter 全部
  dm 你好
}

content 你好 = "你好，{name|朋友}"
"""
T0 = 1_796_090_400  # 2026-12-01 10:00 Asia/Shanghai
ABOVE_3 = ApprovePolicy("above", 3)


def _setup(store: Store, tmp_path: Path, n: int = 5) -> Path:
    store.import_records("contacts", [{"id": f"c{i}", "name": f"客户{i}", "account": "a1", "orders": 1}
                                      for i in range(1, n + 1)])  # fmt: skip
    path = tmp_path / "首发.pb"
    path.write_text(PLAYBOOK, encoding="utf-8")
    return path


def _decider(store: Store, path: Path, now: int, policy: ApprovePolicy = ABOVE_3, yes: bool = False) -> Decider:
    decider = Decider(store, [str(path)], approve=policy, yes=yes)
    report = decider.load(now)
    decider.step(now)
    decider.report = report  # type: ignore[attr-defined]
    return decider


def _cli(store_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--db", store_url])
    return result.exit_code, result.output


def _states(store: Store) -> list[tuple[str, str, str]]:
    return sorted((r.contact or "", r.state, r.reason) for r in store.touches())


def test_a_version_above_the_threshold_sends_nothing_until_approved(store: Store, store_url: str,
                                                                    tmp_path: Path) -> None:  # fmt: skip
    path = _setup(store, tmp_path)
    decider = _decider(store, path, T0)
    (version,) = decider.report.versions  # type: ignore[attr-defined]
    assert decider.report.awaiting == {version: 5}  # type: ignore[attr-defined]
    wait = f"awaiting approval of {version}"
    assert _states(store) == [(f"c{i}", "held", wait) for i in range(1, 6)]
    (row,) = store.approvals()
    assert (row.state, row.touches, row.policy, row.summary) == (
        "pending", 5, "above 3", {"by_flow": {"问候": 5}, "by_channel": {"dm": 5}})  # fmt: skip
    # a restart: still waiting (and the log says so again), nothing new asked, nothing sent
    decider = _decider(store, path, T0 + 60)
    assert decider.report.awaiting == {version: 5}  # type: ignore[attr-defined]
    assert [r.state for r in store.approvals()] == ["pending"]
    assert {r.state for r in store.touches()} == {"held"}
    code, out = _cli(store_url, "status", "--format", "json")
    assert code == 0, out
    (shown,) = json.loads(out)["approvals"]
    assert (shown["version"], shown["state"], shown["first_hour"], shown["held"]) == (version, "pending", 5, 5)
    code, out = _cli(store_url, "status")
    assert code == 0 and f"playbook approve {version}" in out, out
    code, out = _cli(store_url, "approve", version, "--by", "王店长", "--note", "双12首发")
    assert code == 0, out
    assert decider.step(T0 + 120).decisions == {version: "approved"}
    rows = store.touches()
    assert {(r.state, r.outcome, r.at, r.reason) for r in rows} == {("pending", "deferred", T0 + 120, wait)}
    (row,) = store.approvals()
    assert (row.state, row.decided_by, row.note) == ("approved", "王店长", "双12首发")
    code, out = _cli(store_url, "approve", version)
    assert code == 1 and "approved" in out  # decided once
    code, out = _cli(store_url, "report", "--format", "json")
    assert code == 0, out
    (shown,) = json.loads(out)["approvals"]
    assert (shown["state"], shown["decided_by"], shown["note"], shown["held"]) == ("approved", "王店长", "双12首发", 0)
    # and after another restart it stays approved: a newcomer's touch goes out at once
    decider = _decider(store, path, T0 + 180)
    store.import_records("contacts", [{"id": "c9", "name": "新客", "account": "a1", "orders": 1}])
    decider.step(T0 + 240)
    assert [(r.state, r.outcome) for r in store.touches() if r.contact == "c9"] == [("pending", "ok")]


def test_reject_skips_the_held_touches_with_the_reason(store: Store, store_url: str, tmp_path: Path) -> None:
    path = _setup(store, tmp_path)
    decider = _decider(store, path, T0)
    (version,) = decider.report.versions  # type: ignore[attr-defined]
    code, out = _cli(store_url, "reject", version, "--by", "总部")
    assert code == 0, out
    decider.step(T0 + 60)
    assert _states(store) == [(f"c{i}", "skipped", f"{version} was rejected") for i in range(1, 6)]
    assert {r.at for r in store.touches()} == {T0 + 60}
    assert [(r.state, r.decided_by) for r in store.approvals()] == [("rejected", "总部")]
    code, out = _cli(store_url, "approve", "pb-nothing")
    assert code == 1 and "does not wait for approval" in out


def test_a_second_reload_before_approval_replaces_the_pending_version(store: Store, tmp_path: Path) -> None:
    path = _setup(store, tmp_path)
    first = _decider(store, path, T0).report.versions[0]  # type: ignore[attr-defined]
    path.write_text(PLAYBOOK.replace("你好，", "您好，"), encoding="utf-8")
    decider = _decider(store, path, T0 + 60)
    (second,) = decider.report.versions  # type: ignore[attr-defined]
    assert decider.report.replaced == [first]  # type: ignore[attr-defined]
    assert decider.report.awaiting == {second: 5}  # type: ignore[attr-defined]
    assert {r.version: r.state for r in store.approvals()} == {first: "replaced", second: "pending"}
    rows = store.touches()
    assert {(r.version, r.state, r.reason) for r in rows} == {
        (first, "skipped", f"{first} was replaced before approval"), (second, "held", f"awaiting approval of {second}")}  # fmt: skip
    store.decide_approval(second, "approved", "店长", None)
    decider.step(T0 + 120)
    sent = [r for r in store.touches() if r.state == "pending"]
    assert sorted((r.contact, r.text) for r in sent) == [(f"c{i}", f"您好，客户{i}") for i in range(1, 6)]


def test_below_the_threshold_and_never_need_no_approval(store: Store, tmp_path: Path) -> None:
    path = _setup(store, tmp_path, n=3)
    decider = _decider(store, path, T0)
    assert decider.report.awaiting == {} and store.approvals() == []  # type: ignore[attr-defined]
    assert {r.state for r in store.touches()} == {"pending"}


def test_run_yes_approves_at_the_start(store: Store, tmp_path: Path) -> None:
    path = _setup(store, tmp_path)
    _decider(store, path, T0, yes=True)
    assert [(r.state, r.decided_by) for r in store.approvals()] == [("approved", "run --yes")]
    assert {(r.state, r.outcome) for r in store.touches()} == {("pending", "ok")}


@pytest.mark.parametrize("text, policy", [("always", ApprovePolicy("always")), ("never", ApprovePolicy("never")),
                                          (" Above 50 ", ApprovePolicy("above", 50))])  # fmt: skip
def test_the_policy_is_read_from_the_configuration(text: str, policy: ApprovePolicy) -> None:
    assert parse_policy(text) == policy


def test_a_bad_policy_is_a_clear_error(tmp_path: Path) -> None:
    from playbook.diagnostics import PlaybookError
    from playbook.runtime.config import load_config

    config = tmp_path / "playbook.toml"
    config.write_text('[daemon]\napprove = "above fifty"\n', encoding="utf-8")
    with pytest.raises(PlaybookError) as info:
        load_config(config)
    assert "approve" in str(info.value.diagnostics[0].message)
    config.write_text("[daemon]\n", encoding="utf-8")
    assert load_config(config).daemon.approve == ApprovePolicy("above", 50)


def test_the_daemon_process_holds_until_approved_from_another_shell(tmp_path: Path, store_url: str) -> None:
    """The real daemon (jsonl adapter): the first start is above the threshold, nothing goes
    out; `playbook approve` in another process, and the daemon sends at its next step."""
    import os
    import signal
    import subprocess
    import sys

    from tests.runtime.processes import wait
    from tests.runtime.test_live_edit import _config, _outbox, _start

    config = _config(tmp_path, store_url)
    config.write_text(config.read_text(encoding="utf-8") + 'approve = "above 3"\n', encoding="utf-8")
    store = Store(store_url)
    store.migrate()
    _setup(store, tmp_path)
    (tmp_path / "首发.pb").rename(tmp_path / "p.pb")
    proc = _start(tmp_path, config)
    try:
        held = wait(lambda: [r for r in store.touches() if r.state == "held"], timeout=30)
        assert len(held) == 5 and not _outbox(tmp_path)  # type: ignore[arg-type]
        (version,) = {r.version for r in held}  # type: ignore[attr-defined]
        approve = subprocess.run([sys.executable, "-m", "playbook", "approve", version, "--by", "店长", "--db",
                                  store_url], capture_output=True, text=True, env=os.environ, timeout=60)  # fmt: skip
        assert approve.returncode == 0, approve.stderr
        wait(lambda: len(_outbox(tmp_path)) == 5, timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    log = err.decode()
    assert "waits for approval" in log and f"{version} was approved" in log
    assert sorted(d["contact"] for d in _outbox(tmp_path)) == [f"c{i}" for i in range(1, 6)]
    store.close()
