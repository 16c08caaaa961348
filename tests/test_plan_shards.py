"""A plan made in shards (plan/shards.py) is the plan of one process, byte for byte: the
JSON, the tables, a contact's timeline, the row problems — on the examples, on generated
playbooks and data, and where the data ties shards together (then it is planned in one
process)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from playbook.diagnostics import PlaybookError
from playbook.plan import jsonwriter, merge, shards, tables
from playbook.plan.run import PlanInput, PlanResult, run_plan
from playbook.plan.shards import NotShardable, Shard
from playbook.vocab.shards import shard_of
from tests.test_engine_properties import Case, cases

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = [str(ROOT / "playbooks" / n) for n in ("new_customer.pb", "moments_and_service.pb", "presale_group.pb")]
DATA = {
    "contacts": str(ROOT / "playbooks" / "contacts.csv"),
    "accounts": str(ROOT / "playbooks" / "accounts.csv"),
    "events": str(ROOT / "playbooks" / "events.jsonl"),
}


def _null() -> Any:
    return open(os.devnull, "w")  # noqa: SIM115 (closed with the console's process)


def outputs(spec: PlanInput) -> dict[str, Any]:
    """Everything a plan shows: the JSON, the tables, and the contact's timeline if asked."""
    got: dict[str, Any] = {}
    json_result = run_plan(dataclasses.replace(spec, output="json", contact=None))
    got["json"] = jsonwriter.to_json(json_result)
    got["problems"] = [(p.file, p.row, p.reason) for p in json_result.problems]
    table_result = run_plan(dataclasses.replace(spec, output="table"))
    screen = Console(record=True, file=_null(), width=200)
    tables.render_tables(table_result, screen)
    got["tables"] = screen.export_text()
    if spec.contact is not None:
        screen = Console(record=True, file=_null(), width=200)
        got["found"] = tables.render_contact(table_result, spec.contact, screen)
        got["contact"] = screen.export_text()
    return got


def assert_same_in_shards(spec: PlanInput, workers: tuple[int, ...] = (2, 3)) -> dict[str, Any]:
    alone = outputs(dataclasses.replace(spec, workers=1))
    for n in workers:
        assert outputs(dataclasses.replace(spec, workers=n)) == alone, f"{n} workers"
    return alone


# ---- the examples ------------------------------------------------------------------------------


@pytest.mark.parametrize("contact", [None, "c43", "c01"])
def test_examples_in_shards(contact: str | None) -> None:
    spec = PlanInput(EXAMPLES, **DATA, start="2026-12-01 00:00", days=30, contact=contact, keep_inputs=True)
    got = assert_same_in_shards(spec, (2, 3, 5))
    assert json.loads(got["json"])["touches"]


def test_examples_simulated_in_shards() -> None:
    spec = PlanInput(EXAMPLES, **DATA, start="2026-12-01 00:00", days=21, seed=7,
                     simulate={"reply": 0.3, "purchase": 0.1, "interaction": 0.2, "delete": 0.02})  # fmt: skip
    assert_same_in_shards(spec)


def test_examples_with_adapter_limits_in_shards() -> None:
    from playbook.cli.plan import adapter_profile

    limits, can_dissolve = adapter_profile("wecom")
    spec = PlanInput(EXAMPLES, **DATA, start="2026-12-01 00:00", days=14, adapter_limits=limits,
                     can_dissolve_groups=can_dissolve)  # fmt: skip
    assert_same_in_shards(spec)


# ---- generated playbooks and data -----------------------------------------------------------------


def _write(tmp: Path, case: Case, events: str | None = None) -> PlanInput:
    for name, text in (("p.pb", case.source), ("contacts.csv", case.contacts), ("accounts.csv", case.accounts),
                       ("events.jsonl", case.events if events is None else events)):  # fmt: skip
        (tmp / name).write_text(text, encoding="utf-8")
    return PlanInput([str(tmp / "p.pb")], str(tmp / "contacts.csv"), str(tmp / "accounts.csv"),
                     str(tmp / "events.jsonl"), start=case.start, days=case.days)  # fmt: skip


@given(cases(), st.integers(0, 3))
@settings(max_examples=int(os.environ.get("PLAYBOOK_SHARD_CASES", "40")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # fmt: skip
def test_generated_plans_in_shards(tmp_path_factory: Any, case: Case, seed: int) -> None:
    spec = _write(tmp_path_factory.mktemp("shards"), case)
    spec = dataclasses.replace(spec, contact="c1", simulate={"reply": 0.5, "purchase": 0.2} if seed else {}, seed=seed)
    assert_same_in_shards(spec, (2, 3))


# ---- data that ties shards together, and bad rows ---------------------------------------------------

FLOWS = """timezone "Asia/Shanghai"
quiet 22:00-08:00
limit dm 1 per contact per day
content 欢迎 = "{name|亲}，欢迎！"
content 早安 = "早安"
journey 新客 { on friend_added  after 5m: dm 欢迎  after 1d: task "回访{name|}" }
moments 日常 { every day at 08:30: post 早安 }
sla 回复 { message answered by staff_message within 10m during 09:00-21:00 }
"""


def _accounts_in_two_shards() -> tuple[str, str]:
    """Two account ids that two workers plan in different shards."""
    ids = [f"a{i}" for i in range(1, 50)]
    first = ids[0]
    return first, next(a for a in ids if shard_of(a, 2) != shard_of(first, 2))


def _spec(tmp: Path, contacts: str, events: list[dict[str, Any] | str]) -> PlanInput:
    (tmp / "p.pb").write_text(FLOWS, encoding="utf-8")
    (tmp / "contacts.csv").write_text(contacts, encoding="utf-8")
    lines = [e if isinstance(e, str) else json.dumps(e, ensure_ascii=False) for e in events]
    (tmp / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return PlanInput([str(tmp / "p.pb")], str(tmp / "contacts.csv"), None, str(tmp / "events.jsonl"),
                     start="2026-12-01 00:00", days=3)  # fmt: skip


def test_a_contact_moving_between_shards_is_planned_in_one_process(tmp_path: Path, monkeypatch: Any) -> None:
    a, b = _accounts_in_two_shards()
    contacts = f"id,name,account\nc1,小王,{a}\nc2,小李,{b}\n"
    events = [
        {"type": "message", "contact": "c1", "at": "2026-12-01T10:00:00+08:00"},
        {"type": "contact_updated", "contact": "c1", "at": "2026-12-01T11:00:00+08:00", "account": b},
        {"type": "message", "contact": "c1", "at": "2026-12-01T12:00:00+08:00"},
    ]
    spec = _spec(tmp_path, contacts, events)
    fell_back = []
    real = shards.run_in_shards

    def watched(*args: Any) -> PlanResult | None:
        result = real(*args)
        fell_back.append(result is None)
        return result

    monkeypatch.setattr(shards, "run_in_shards", watched)
    assert_same_in_shards(spec, (2,))
    assert fell_back == [True, True]  # the JSON and the table plan


def test_a_new_contact_added_twice_to_accounts_of_two_shards(tmp_path: Path) -> None:
    a, b = _accounts_in_two_shards()
    events = [
        {"type": "friend_added", "contact": "n1", "at": "2026-12-01T10:00:00+08:00", "account": a, "name": "甲"},
        {"type": "friend_added", "contact": "n1", "at": "2026-12-01T12:00:00+08:00", "account": b},
    ]
    assert_same_in_shards(_spec(tmp_path, f"id,name,account\nc1,小王,{a}\n", events), (2,))


def test_one_id_on_rows_of_two_shards(tmp_path: Path) -> None:
    a, b = _accounts_in_two_shards()
    contacts = f"id,name,account\nc1,小王,{a}\nc2,小李,{b}\nc1,又一个,{b}\n"
    got = assert_same_in_shards(_spec(tmp_path, contacts, []), (2,))
    assert [row for _, row, _ in got["problems"]] == [4]


def test_bad_rows_and_unknown_contacts_are_reported_once(tmp_path: Path) -> None:
    a, b = _accounts_in_two_shards()
    contacts = (
        f"id,name,account,spent\nc1,小王,{a},100\nc2,小李,{b},300\nc3,x,{b},1,extra\n,无名,{a},5\n"
        f"c4,小张,{b},20\nc4,重复,{b},30\nc5,无号,,7\n"
    )
    events = [
        {"type": "message", "contact": "c1", "at": "2026-12-01T10:00:00+08:00"},
        "{not json",
        {"type": "message", "at": "2026-12-01T10:00:00+08:00"},
        {"type": "message", "contact": "ghost", "at": "2026-12-01T10:05:00+08:00"},
        {"type": "message", "contact": "n9", "at": "2026-12-01T10:06:00+08:00"},  # before n9 is added
        {"type": "purchase", "contact": "c4", "at": "2026-12-01T10:07:00+08:00", "amount": "many"},
        {"type": "friend_added", "contact": "n9", "at": "2026-12-01T11:00:00+08:00", "account": b},
        {"type": "message", "contact": "n9", "at": "2026-12-01T11:30:00+08:00"},
        {"type": "message", "contact": "c5", "at": "2026-12-01T12:00:00+08:00"},
        '{"type": "message", "contact": "c2", "at": "2026-12-01T12:00:00+08:00"',  # cut short: c2's shard says so
        '{"type": "message", "x": {"contact": "c2"}, "contact": "c1", "at": "2026-12-01T12:00:00+08:00"}',
    ]
    spec = _spec(tmp_path, contacts, events)
    got = assert_same_in_shards(spec, (2, 3))
    doc = json.loads(got["json"])
    assert [p.get("row") for p in doc["problems"] if "row" in p] == [4, 5, 7, 2, 3, 6, 10, 11]  # contacts, then events
    assert [p["contact"] for p in doc["problems"] if "contact" in p] == ["ghost", "n9"]


def test_a_worker_error_is_raised_in_the_parent(monkeypatch: Any) -> None:
    def broken(*args: Any, **kwargs: Any) -> PlanResult:
        raise ValueError("broken on purpose")

    monkeypatch.setattr(shards, "plan_part", broken)
    with pytest.raises(ValueError, match="broken on purpose"):
        run_plan(PlanInput(EXAMPLES, **DATA, start="2026-12-01 00:00", days=2, workers=2))


def test_a_worker_that_dies_is_a_clear_error(monkeypatch: Any) -> None:
    def dies(*args: Any, **kwargs: Any) -> PlanResult:
        os._exit(9)

    monkeypatch.setattr(shards, "plan_part", dies)
    with pytest.raises(PlaybookError, match="exit code 9"):
        run_plan(PlanInput(EXAMPLES, **DATA, start="2026-12-01 00:00", days=2, workers=2))


def test_no_files_are_left_behind(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    result = run_plan(PlanInput(EXAMPLES, **DATA, start="2026-12-01 00:00", days=3, workers=2))
    assert list(tmp_path.iterdir())
    with open(tmp_path / "plan.json", "w", encoding="utf-8") as fh:
        jsonwriter.write_json(result, fh)
    result.sections.close()
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]
    json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))


# ---- the shard of a row -----------------------------------------------------------------------------


def test_rows_are_routed_to_one_shard() -> None:
    a, b = _accounts_in_two_shards()
    first, second = Shard(shard_of(a, 2), 2), Shard(shard_of(b, 2), 2)
    for shard in (first, second):
        shard.other_row("c2" if shard is first else "c1", b if shard is first else a)
        shard.own = {"c1": {}} if shard is first else {"c2": {}}
    row = {"type": "message"}
    assert [s.route("c1", row) for s in (first, second)] == [True, False]
    assert [s.route("c2", row) for s in (first, second)] == [False, True]
    assert [s.route(None, row) for s in (first, second)] == [shard_of(None, 2) == s.index for s in (first, second)]
    # a contact only events add: decided by the account it is added with, also for earlier rows
    assert [s.route("n1", row) for s in (first, second)] == [None, None]
    added = {"type": "friend_added", "account": b}
    assert [s.route("n1", added) for s in (first, second)] == [False, True]
    assert [s.settle("n1") for s in (first, second)] == [False, True]
    assert [s.settle("never") for s in (first, second)] == [s.index == 0 for s in (first, second)]
    with pytest.raises(NotShardable):
        first.route("c1", {"type": "contact_updated", "account": b})
    first.route("c1", {"type": "contact_updated", "account": a})  # the same shard: fine
    with pytest.raises(NotShardable):
        second.check_own("c1")


def test_the_json_of_a_sharded_plan_goes_to_a_pipe_and_a_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    args = [sys.executable, "-m", "playbook", "plan", *EXAMPLES, "--contacts", DATA["contacts"], "--accounts",
            DATA["accounts"], "--events", DATA["events"], "--start", "2026-12-01 00:00", "--days", "5",
            "--format", "json"]  # fmt: skip
    piped = [subprocess.run([*args, "--workers", str(n)], capture_output=True, check=True).stdout for n in (1, 2)]
    assert piped[0] == piped[1]
    with_contact = subprocess.run([*args, "--workers", "2", "--contact", "c43"], capture_output=True, check=True)
    assert with_contact.stdout == piped[0]  # --format json is the whole plan, --contact or not
    subprocess.run([*args, "--workers", "2", "--out", str(tmp_path / "p.json")], check=True)
    assert (tmp_path / "p.json").read_bytes() == piped[0]


@pytest.mark.parametrize("kernel", [True, False])
def test_lines_copied_side_by_side_or_gathered(tmp_path: Path, monkeypatch: Any, kernel: bool) -> None:
    """Every section copied by the kernel side by side (and, where the kernel cannot copy,
    by reading and writing), or every section gathered in order: the same bytes."""
    import errno

    def refuses(*args: Any) -> int:
        raise OSError(errno.EXDEV, "cross-device")

    if not kernel:
        monkeypatch.setattr(os, "copy_file_range", refuses)
    spec = PlanInput(EXAMPLES, **DATA, start="2026-12-01 00:00", days=5)
    for n, name, long_runs in ((1, "one.json", 4096), (2, "copied.json", 0), (2, "gathered.json", 10**9)):
        monkeypatch.setattr(merge, "_LONG_RUNS", long_runs)
        result = run_plan(dataclasses.replace(spec, workers=n))
        with open(tmp_path / name, "w", encoding="utf-8") as fh:
            jsonwriter.write_json(result, fh)
    one = (tmp_path / "one.json").read_bytes()
    assert (tmp_path / "copied.json").read_bytes() == one
    assert (tmp_path / "gathered.json").read_bytes() == one


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 2)), max_size=40), st.booleans())
def test_the_merge_order_is_time_account_contact_then_as_given(keys: list[tuple[int, int, int]], wide: bool) -> None:
    import numpy as np

    from playbook.plan.merge import _in_order

    base = 1_795_000_000 if not wide else -(2**61)  # wide: no one-integer key fits (the three-key sort)
    at = np.array([base + a * 10**17 * wide + a for a, _, _ in keys], dtype=np.int64)
    account = np.array([b for _, b, _ in keys], dtype=np.int64)
    contact = np.array([c for _, _, c in keys], dtype=np.int64)
    if not keys:
        return
    got = _in_order(at, account, contact).tolist()
    assert got == sorted(range(len(keys)), key=lambda i: (int(at[i]), keys[i][1], keys[i][2], i))


def test_repeated_event_ids_are_found_whatever_the_number_of_processes(tmp_path: Path) -> None:
    a, b = _accounts_in_two_shards()
    order = {"type": "purchase", "at": "2026-12-01T10:00:00+08:00", "amount": 999, "id": "o-1"}
    events = [
        {**order, "contact": "c1"},
        {**order, "contact": "c2"},  # the same id on a contact of the other shard: another event (per contact)
        {**order, "contact": "c1"},  # a repeat of row 1
        {**order, "contact": "c2", "amount": 5},  # row 2's id for a different event
    ]
    got = assert_same_in_shards(_spec(tmp_path, f"id,name,account\nc1,小王,{a}\nc2,小李,{b}\n", events), (2,))
    assert [(row, reason.split(":")[0]) for _, row, reason in got["problems"]] == [
        (3, "event id 'o-1' repeats row 1"),
        (4, "event id 'o-1' was given to a different event at row 2"),
    ]
