"""The shared examples plan cleanly over 30 days on the sample data, and `--format json`
keeps the contract of PRODUCT.md: its keys, touches sorted by (at, account, contact, flow,
step), ISO 8601 times with the playbook's offset, one outcome per touch, and the same
bytes on every run — through `run_plan` and through the real `playbook plan` command."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import ROOT, SHARED_EXAMPLES
from test_engine_properties import Case, Limit, check_deleted, check_limits, check_outcomes, check_quiet

from playbook.compiler import compile_path
from playbook.plan.jsonwriter import to_json
from playbook.plan.run import PlanInput, run_plan

DATA = ROOT / "playbooks"
START, DAYS = "2026-12-01 00:00", 30
NAMES = ["moments_and_service", "new_customer", "presale_group"]

TOUCH_KEYS = {"at", "due", "channel", "account", "flow", "step", "content", "text", "outcome", "reason"}
TOP_KEYS = {"version", "playbook", "start", "end", "summary", "touches", "events", "metrics"}


def example(name: str) -> Path:
    shared = SHARED_EXAMPLES / f"{name}.pb"
    return shared if shared.exists() else DATA / f"{name}.pb"


def plan_input(path: Path) -> PlanInput:
    return PlanInput(paths=[str(path)], contacts=str(DATA / "contacts.csv"), accounts=str(DATA / "accounts.csv"),
                     events=str(DATA / "events.jsonl"), start=START, days=DAYS)  # fmt: skip


def iso(text: str) -> dt.datetime:
    """An ISO 8601 time to the second, with the playbook's offset (Asia/Shanghai: +08:00)."""
    assert len(text) == 25 and text[10] == "T" and text.endswith("+08:00"), text
    return dt.datetime.fromisoformat(text)


def test_shared_examples_are_the_copies_in_playbooks() -> None:
    if not SHARED_EXAMPLES.exists():
        pytest.skip("../shared/examples is not beside this checkout")
    assert sorted(p.stem for p in SHARED_EXAMPLES.glob("*.pb")) == NAMES
    for name in NAMES:
        shared = (SHARED_EXAMPLES / f"{name}.pb").read_text(encoding="utf-8")
        assert shared == (DATA / f"{name}.pb").read_text(encoding="utf-8"), name


@pytest.fixture(scope="module", params=NAMES)
def planned(request: pytest.FixtureRequest) -> tuple[str, object, dict, str]:
    path = example(request.param)
    result = run_plan(plan_input(path))
    text = to_json(result)
    return request.param, result, json.loads(text), text


def test_plans_without_problems(planned: tuple) -> None:
    name, result, doc, _ = planned
    assert result.problems == [] and doc["problems"] == [], doc["problems"]
    assert result.unknown_contacts == []
    assert doc["touches"], f"{name}: a 30-day plan on the sample data sends nothing"
    compiled = compile_path(example(name))
    assert compiled.ok and not compiled.warnings
    assert doc["playbook"] == compiled.playbook.version


def test_top_level(planned: tuple) -> None:
    _, _, doc, text = planned
    assert TOP_KEYS <= set(doc), TOP_KEYS - set(doc)
    assert doc["version"] == 1
    assert iso(doc["start"]) == dt.datetime(2026, 12, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert iso(doc["end"]) - iso(doc["start"]) == dt.timedelta(days=DAYS)
    assert set(doc["summary"]) == {"by_channel", "by_outcome"}
    touches = doc["touches"]
    assert doc["summary"]["by_channel"] == dict(Counter(t["channel"] for t in touches))
    assert doc["summary"]["by_outcome"] == dict(Counter(t["outcome"] for t in touches))
    assert text.endswith("\n") and json.loads(text) == doc


def test_touches(planned: tuple) -> None:
    name, _, doc, _ = planned
    for t in doc["touches"]:
        assert TOUCH_KEYS <= set(t), (TOUCH_KEYS - set(t), t)
        assert t["channel"] in ("dm", "group", "moment", "task"), t
        assert t["outcome"] in ("ok", "deferred", "skipped"), t
        at, due = iso(t["at"]), iso(t["due"])
        assert at >= due, t
        assert isinstance(t["step"], str) and t["step"] and isinstance(t["flow"], str) and t["flow"], t
        assert isinstance(t["text"], str) and isinstance(t["reason"], str), t
        if t["channel"] == "dm":
            assert t.get("contact") and t["account"], f"a dm names its contact and account: {t}"
        elif t["channel"] == "group":
            assert t.get("group") and "contact" not in t, f"a group post names its group instance: {t}"
        elif t["channel"] == "moment":
            assert "contact" not in t and "group" not in t, t
            if t["outcome"] != "skipped":
                assert isinstance(t.get("audience"), list) and t["audience"], f"a Moments post names its audience: {t}"
                assert t["audience"] == sorted(set(t["audience"])), t
        if t["outcome"] != "skipped":
            assert t["text"] or t.get("parts"), f"{name}: sent with nothing in it: {t}"


def test_touch_order(planned: tuple) -> None:
    _, _, doc, _ = planned

    def key(t: dict) -> tuple:
        return (iso(t["at"]), t["account"] or "", t.get("contact") or "", t["flow"], t["step"])

    keys = [key(t) for t in doc["touches"]]
    assert keys == sorted(keys), "touches are not sorted by (at, account, contact, flow, step)"


def test_events(planned: tuple) -> None:
    _, _, doc, _ = planned
    end = iso(doc["end"])
    for e in doc["events"]:
        assert isinstance(e["type"], str) and e["type"], e
        assert iso(e["at"]) < end, e
    kinds = {e["type"] for e in doc["events"]}
    assert kinds & {"enter", "group_opened", "sla_started"}, kinds


def test_metrics(planned: tuple) -> None:
    name, result, doc, _ = planned
    journeys = {j for pb in result.playbooks for j in pb.journeys}
    assert set(doc["metrics"]) == journeys
    enters = Counter(e["flow"] for e in doc["events"] if e["type"] == "enter")
    for journey, m in doc["metrics"].items():
        assert {"entered", "goal", "by_arm"} <= set(m), m
        assert m["entered"] == enters[journey], (name, journey)
        assert 0 <= m["goal"] <= m["entered"]


def test_policies_hold(planned: tuple) -> None:
    """Quiet hours and limits as the playbook declares them (read from its compiled form)."""
    _, result, doc, _ = planned
    pb = result.playbooks[0]
    quiet = None
    if pb.quiet is not None:
        a, b = (int(x[:2]) * 60 + int(x[3:]) for x in (pb.quiet.start, pb.quiet.end))
        quiet = (a, b)
    limits = [Limit(x.channel, x.count, x.scope, x.period, x.action) for x in pb.limits]
    assert all(lim.period in ("day", "week") for lim in limits), "extend check_limits for months"
    case = Case(pb.timezone, START, DAYS, quiet, limits, [], "", "", "", "")
    check_outcomes(doc)
    check_quiet(doc, case)
    check_limits(doc, case)
    events = (ROOT / "playbooks" / "events.jsonl").read_text("utf-8")
    inputs = [json.loads(line) for line in events.splitlines() if line.strip()]
    check_deleted(doc, [e for e in inputs if e["at"] < doc["end"]])


def test_same_bytes_every_time(planned: tuple) -> None:
    name, _, _, text = planned
    assert to_json(run_plan(plan_input(example(name)))) == text


@pytest.mark.parametrize("name", NAMES)
def test_command_line_json_is_the_contract(name: str, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    cmd = [sys.executable, "-m", "playbook", "plan", str(example(name)), "--contacts", str(DATA / "contacts.csv"),
           "--accounts", str(DATA / "accounts.csv"), "--events", str(DATA / "events.jsonl"), "--start", START,
           "--days", str(DAYS), "--format", "json", "--out", str(out)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert out.read_text(encoding="utf-8") == to_json(run_plan(plan_input(example(name))))
