"""`plan --by account-day`: dm/tasks per staff account and day, over-cap cells marked."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from click.testing import CliRunner
from conftest import ROOT

from playbook.cli.main import cli

DATA = [
    "--contacts", str(ROOT / "playbooks" / "contacts.csv"),
    "--accounts", str(ROOT / "playbooks" / "accounts.csv"),
    "--events", str(ROOT / "playbooks" / "events.jsonl"),
    "--start", "2026-12-01T00:00", "--days", "14",
]  # fmt: skip


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, ["--lang", "en", "plan", *args, *DATA], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_cells_are_the_plans_dm_and_tasks_and_over_cap_is_marked(tmp_path: Path) -> None:
    # new_customer's task cap made 1 a day: the three playbooks' tasks together pass it
    tight = tmp_path / "new_customer.pb"
    text = (ROOT / "playbooks" / "new_customer.pb").read_text(encoding="utf-8")
    tight.write_text(text.replace("limit task 60 per account per day", "limit task 1 per account per day"), "utf-8")
    pbs = [str(tight), str(ROOT / "playbooks" / "moments_and_service.pb"), str(ROOT / "playbooks" / "presale_group.pb")]
    out = tmp_path / "plan.json"
    run(*pbs, "--format", "json", "--out", str(out))
    sent: Counter[tuple[str, str, str]] = Counter()
    for touch in json.loads(out.read_text(encoding="utf-8"))["touches"]:
        if touch["outcome"] == "ok" and touch["channel"] in ("dm", "task"):
            sent[(touch["account"], touch["at"][5:10], touch["channel"])] += 1
    shown = run(*pbs, "--by", "account-day")
    assert "(caps: tasks 1)" in shown
    days = re.search(r"┃ account ┃(.*)┃", shown).group(1).split("┃")  # type: ignore[union-attr]
    days = [d.strip() for d in days]
    over = 0
    for account in ("a1", "a2", "a3"):
        row = re.search(rf"│ {account} \S+ │(.*)│", shown).group(1).split("│")  # type: ignore[union-attr]
        for day, cell in zip(days, (c.strip() for c in row), strict=True):
            dm, task = sent[(account, day, "dm")], sent[(account, day, "task")]
            expected = "" if dm + task == 0 else f"{dm}/{task}" + ("!" if task > 1 else "")
            assert cell == expected, (account, day)
            over += task > 1
    assert over > 0
    assert f"{over} account-days over a cap (marked !)" in shown
