"""`playbook graph`: the whole playbook — journeys, short-term groups with their opening and
closing, Moments calendars, rotations, service levels — with every node a schedule entry
or reachable from one. Goldens for the bundled examples in both formats."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GOLDEN, ROOT, SHARED_EXAMPLES, check_golden

from playbook.compiler import compile_path
from playbook.compiler.graph import ENTRY, clusters, dot, mermaid, unreachable

EXAMPLES = sorted((ROOT / "playbooks").glob("*.pb"))
ALL = EXAMPLES + sorted(SHARED_EXAMPLES.glob("*.pb"))


def _doc(path: Path) -> dict:
    result = compile_path(str(path))
    assert result.ok, result.errors
    return result.doc


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_graph_goldens(path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "playbook", "graph", "--format", "mermaid", str(path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    check_golden(GOLDEN / "graph" / f"{path.stem}.mmd", out.stdout)
    check_golden(GOLDEN / "graph" / f"{path.stem}.dot", dot(_doc(path)))


def _mermaid_reachability(text: str) -> tuple[set[str], set[str], dict[str, set[str]]]:
    """(all node ids, entry ids, edges) read back from the Mermaid text."""
    nodes, entries, edges = set(), set(), {}
    for line in text.splitlines():
        if m := re.fullmatch(r"\s+(\w+) -->(?:\|[^|]*\|)? (\w+)", line):
            edges.setdefault(m[1], set()).add(m[2])
        elif m := re.fullmatch(r"\s+(\w+)(\(\[|\[|\{)\".*", line):
            nodes.add(m[1])
            if m[2] == "([" and not m[1].endswith("_end"):
                entries.add(m[1])
    return nodes, entries, edges


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_every_node_is_an_entry_or_reachable(path: Path) -> None:
    doc = _doc(path)
    for c in clusters(doc):
        assert unreachable(c) == set(), (c.title, unreachable(c))
    # and the same read back from the drawn text, not from the model
    nodes, entries, edges = _mermaid_reachability(mermaid(doc))
    seen, queue = set(), list(entries)
    while queue:
        n = queue.pop()
        if n not in seen:
            seen.add(n)
            queue.extend(edges.get(n, ()))
    assert nodes - seen == set()


def test_every_part_of_the_playbook_is_drawn() -> None:
    doc = _doc(ROOT / "playbooks" / "moments_and_service.pb")
    titles = [c.title for c in clusters(doc)]
    for name in doc["moments"]:
        assert f"moments {name}" in titles
    for name in doc["rotations"]:
        assert f"rotate {name}" in titles
    for name in doc["slas"]:
        assert f"sla {name}" in titles
    moments = next(c for c in clusters(doc) if c.title.startswith("moments"))
    assert len(moments.entries()) == sum(len(m["rules"]) for m in doc["moments"].values())


def test_group_closing_posts_have_what_leads_into_them() -> None:
    doc = _doc(ROOT / "playbooks" / "live_flash_group.pb")
    group = next(iter(doc["groups"].values()))
    c = next(c for c in clusters(doc) if c.title == f"group {group['name']}")
    assert ("closing", "closes 3d after opening", ENTRY) in c.nodes
    first, second = group["closing"]
    assert ("closing", first, "") in c.edges and (first, second, "") in c.edges and (second, "end", "") in c.edges
    text = mermaid(doc)
    assert f"f0_closing --> f0_{first}" in text
