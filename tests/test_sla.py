"""Service levels with reminders and escalation (engine/sla.py): the per-staff tally, what
`plan` shows of it (summary, table, JSON, shards), an escalation to a role nobody holds,
and the daemon refusing a playbook that escalates to an account it does not have. The
timeline itself is the hand-worked scenario tests/golden/plan/v_sla_reminders_escalation."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import GOLDEN
from rich.console import Console

from playbook.diagnostics import PlaybookError
from playbook.engine.sla import tally_by_account
from playbook.plan import jsonwriter, tables
from playbook.plan.run import PlanInput, run_plan
from tests.test_plan_shards import assert_same_in_shards

V = GOLDEN / "plan" / "v_sla_reminders_escalation"


def spec(**changes: Any) -> PlanInput:
    base = PlanInput(paths=[str(V / "playbook.pb")], contacts=str(V / "contacts.csv"), accounts=str(V / "accounts.csv"),
                     events=str(V / "events.jsonl"), start="2026-12-01 00:00", days=3)  # fmt: skip
    return dataclasses.replace(base, **changes)


def test_tally_counts_each_watch_once_as_what_it_became() -> None:
    events = [
        ("sla_started", "c1", "a1"), ("sla_met", "c1", "a1"),  # met
        ("sla_started", "c1", "a1"), ("sla_missed", "c1", "a1"), ("sla_late", "c1", "a1"),  # late, not also missed
        ("sla_started", "c2", "a1"), ("sla_missed", "c2", "a1"),  # missed
        ("sla_started", "c3", "a2"),  # still open: counts nowhere, but a2 is listed
        ("sla_started", "c4", None), ("sla_missed", "c4", None),  # no account: ""
    ]  # fmt: skip
    assert tally_by_account(events) == {
        "": {"met": 0, "late": 0, "missed": 1},
        "a1": {"met": 1, "late": 1, "missed": 1},
        "a2": {"met": 0, "late": 0, "missed": 0},
    }


def test_plan_summary_and_table_show_met_late_missed_per_staff() -> None:
    result = run_plan(spec())
    screen = Console(record=True, file=open(os.devnull, "w"), width=120)  # noqa: SIM115
    tables.render_tables(result, screen)
    text = screen.export_text()
    assert "service levels: 1 met · 3 late · 1 missed" in text
    rows = [line.replace("│", " ").split() for line in text.splitlines() if "及时回复" in line or "好友通过" in line]
    assert rows == [["a1", "小美", "及时回复", "1", "1", "0"], ["a2", "阿杰", "及时回复", "0", "1", "1"],
                    ["a2", "阿杰", "好友通过", "0", "1", "0"]]  # fmt: skip
    doc = json.loads(jsonwriter.to_json(result))
    assert doc["service_levels"]["好友通过"] == {"a2": {"met": 0, "late": 1, "missed": 0}}


def test_plan_with_workers_counts_alike() -> None:
    """Escalations tie the accounts together (a supervisor's tasks come from every account's
    contacts, a role's holders from every row): such a plan is made in one process, so
    `--workers` gives the same plan; without escalations the shards' counts add up."""
    assert_same_in_shards(spec(), workers=(2,))
    without = GOLDEN / "plan" / "l_sla_during"
    alone = assert_same_in_shards(spec(paths=[str(without / "playbook.pb")], contacts=str(without / "contacts.csv"),
                                       accounts=str(without / "accounts.csv"), events=str(without / "events.jsonl")),
                                  workers=(2,))  # fmt: skip
    assert '"service_levels": {"及时回复": {"a1": {"late": 1, "met": 1, "missed": 1}}' in alone["json"]


def test_an_escalation_to_a_role_nobody_holds_is_skipped_with_the_reason() -> None:
    """Without an accounts file nothing can be checked or resolved: the escalation to
    "店长" is recorded as skipped, saying why; the one to account a3 goes out."""
    doc = json.loads(jsonwriter.to_json(run_plan(spec(accounts=None))))
    escalations = [(t["account"], t["contact"], t["outcome"], t["reason"]) for t in doc["touches"]
                   if t["step"] == "escalation"]  # fmt: skip
    assert escalations == [("a3", "c2", "ok", ""), (None, "c9", "skipped", "no account has the role 店长"),
                           ("a3", "c3", "ok", "")]  # fmt: skip


def test_plan_refuses_an_unknown_escalation_account(tmp_path: Path) -> None:
    (tmp_path / "p.pb").write_text((V / "playbook.pb").read_text(encoding="utf-8").replace("to a3 ", "to a7 "),
                                   encoding="utf-8")  # fmt: skip
    with pytest.raises(PlaybookError) as caught:
        run_plan(spec(paths=[str(tmp_path / "p.pb")]))
    [problem] = caught.value.diagnostics
    assert (problem.code, problem.line, problem.hint) == ("unknown-account", 8, "did you mean 'a4'?")


def test_the_daemon_refuses_an_unknown_escalation_account(tmp_path: Path) -> None:
    from playbook.runtime.decide import Decider
    from playbook.runtime.importing import import_files
    from playbook.runtime.store import Store

    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    (tmp_path / "p.pb").write_text((V / "playbook.pb").read_text(encoding="utf-8").replace('"店长"', '"店主"'),
                                   encoding="utf-8")  # fmt: skip
    decider = Decider(store, [str(tmp_path / "p.pb")])
    assert decider.compile()  # no accounts stored yet: nothing to check against
    run = run_plan(spec())
    import_files(store, [str(V / "accounts.csv")], "accounts", run.clock)
    with pytest.raises(PlaybookError) as caught:
        decider.compile()
    [problem] = caught.value.diagnostics
    assert (problem.code, problem.hint) == ("unknown-role", "did you mean '店长'?")
    store.close()
