"""Bugs found after the scenario suite was written, each with the test that would have caught it."""

from __future__ import annotations

from conftest import ROOT

from playbook.adapters.registry import capabilities_of
from playbook.plan.run import PlanInput, run_plan


def test_dissolve_task_made_while_resolving_goes_out_at_once() -> None:
    """A touch made while an instant's touches are resolved (a group's dissolve task, made when
    its closing post goes out) is resolved in that same instant — it used to wait for the next
    timeline item and come out 'deferred' with no reason."""
    wecom = capabilities_of("wecom")
    result = run_plan(
        PlanInput(
            [str(ROOT / "playbooks" / "presale_group.pb")],
            str(ROOT / "playbooks" / "contacts.csv"),
            str(ROOT / "playbooks" / "accounts.csv"),
            None,
            "2026-12-01 00:00",
            14,
            adapter_limits=wecom.limits,
            can_dissolve_groups=wecom.dissolve_groups,
        )
    )
    dissolve = [t for t in result.touches if t.step == "dissolve"]
    assert dissolve, "WeCom cannot dissolve groups: a staff task asks for it"
    for t in dissolve:
        assert t.outcome == "ok" and t.at == t.due, t
    for t in result.touches:
        assert t.outcome != "deferred" or t.reason, f"deferred without a reason: {t}"
