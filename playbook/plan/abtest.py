"""Whether an A/B split's arms get enough entrants to tell a difference.

The rule (docs/report.md, "A/B sample size"): to tell a conversion of p₁ from one of
p₂ = p₁ + 5 percentage points with 80 % power at α = 0.05 (two-sided), each arm needs

    n = (z₀.₉₇₅ + z₀.₈)² · (p₁(1 − p₁) + p₂(1 − p₂)) / (p₂ − p₁)²

entrants (the standard two-proportion sample size, without continuity correction), with
p₁ the journey's conversion in this plan — 10 % when the plan has none to go by (no
entrant reached the goal, or all did) — kept within 1 %–94 %. At p₁ = 10 % that is 683 an
arm. A split of a journey with a goal whose smallest arm has fewer entrants in the plan
gets a warning; a journey without a goal has nothing to compare and gets none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from playbook.vocab.model import flow_keys

if TYPE_CHECKING:
    from playbook.compiler import ir
    from playbook.plan.part import JourneyCounts

Z_ALPHA = 1.959964  # two-sided α = 0.05
Z_POWER = 0.841621  # power 80 %
DIFFERENCE = 0.05  # the difference in conversion to tell: 5 percentage points
BASELINE = 0.10  # p₁ when the plan has no conversion to go by
RULE = "two-proportion sample size: 80% power, alpha 0.05 two-sided, a 5-point difference in conversion"


def needed_per_arm(baseline: float, difference: float = DIFFERENCE) -> int:
    """Entrants each arm needs to tell `baseline` from `baseline + difference` (see the rule)."""
    p1 = min(max(baseline, 0.01), 0.94)
    p2 = p1 + difference
    return math.ceil((Z_ALPHA + Z_POWER) ** 2 * (p1 * (1 - p1) + p2 * (1 - p2)) / difference**2)


@dataclass(frozen=True)
class SampleWarning:
    journey: str  # the metrics key
    step: str  # the split's node id
    arms: dict[str, int]  # arm -> entrants in the plan, in the split's order
    baseline: float
    needed: int

    def json(self) -> dict[str, object]:
        return {"kind": "ab_sample_size", "journey": self.journey, "step": self.step, "arms": self.arms,
                "baseline": self.baseline, "needed_per_arm": self.needed, "rule": RULE}  # fmt: skip


def sample_warnings(playbooks: Sequence[ir.Playbook], counts: Mapping[str, JourneyCounts]) -> list[SampleWarning]:
    """The splits (of journeys with a goal) whose smallest arm has fewer entrants than the
    rule asks, in playbook, journey and step order."""
    pairs = [((pb.title or pb.name, name), pb, journey) for pb in playbooks for name, journey in pb.journeys.items()]
    keys = flow_keys(pair for pair, _, _ in pairs)
    out: list[SampleWarning] = []
    seen: set[tuple[str, str]] = set()
    for pair, _, journey in pairs:
        if journey.goal is None:
            continue
        key = keys[pair]
        c = counts.get(key)
        entered, goal = (c.entered, c.goal) if c is not None else (0, 0)
        baseline = goal / entered if entered and 0 < goal < entered else BASELINE
        needed = needed_per_arm(baseline)
        for node in journey.nodes.values():
            if node.kind != "split" or not node.arms or (key, node.id) in seen:
                continue
            seen.add((key, node.id))  # versions of one playbook side by side: one warning
            arms = {arm.name: 0 for arm in node.arms}
            if c is not None:
                for (node_id, arm_name, _), n in c.by_arm.items():
                    if node_id == node.id and arm_name in arms:
                        arms[arm_name] += n
            if min(arms.values()) < needed:
                out.append(SampleWarning(key, node.id, arms, round(baseline, 4), needed))
    return out
