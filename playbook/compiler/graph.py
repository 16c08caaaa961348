"""The whole playbook as a picture source: Mermaid (for Markdown/Feishu docs) or Graphviz dot.

One cluster per journey, short-term group, standing group, Moments calendar, rotation and service level.
Every node is either a schedule entry (drawn rounded: what starts the flow — a journey's
entry, a group's opening and its closing, a Moments rule, a rotation, an SLA's trigger)
or reachable from one; `clusters` builds that model, `mermaid` and `dot` only draw it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from playbook.compiler.describe import WEEKDAY_NAMES, duration_text, entry_text, expr_text, schedule_text
from playbook.i18n import t

Doc = dict[str, Any]
BRANCHING = ("if", "split", "wait")
ENTRY, STEP, BRANCH, END = "entry", "step", "branch", "end"


def successors(node: Doc) -> Iterator[tuple[str | None, str]]:
    """(next node id or None for the end, edge label) of one node.

    Labels are words for people (translated); event names and arm names stay as written."""
    kind = node["kind"]
    if kind == "if":
        yield node.get("then"), t("yes")
        yield node.get("otherwise"), t("no")
    elif kind == "wait":
        yield node.get("then"), node["event"]
        yield node.get("otherwise"), t("timed out")
    elif kind == "split":
        for arm in node["arms"]:
            yield arm.get("next"), f"{arm['name']} {arm['weight']:g}%"
    elif kind != "exit":
        yield node.get("next"), ""


@dataclass
class Cluster:
    """One flow of the picture: nodes (local id, label, shape) and edges (from, to, label)."""

    title: str
    nodes: list[tuple[str, str, str]] = field(default_factory=list)
    edges: list[tuple[str, str, str]] = field(default_factory=list)

    def entries(self) -> set[str]:
        return {i for i, _, shape in self.nodes if shape == ENTRY}


def _steps(c: Cluster, nodes: dict[str, Doc], skip: frozenset[str] = frozenset()) -> None:
    for node in nodes.values():
        if node["id"] not in skip:
            c.nodes.append((node["id"], node["label"], BRANCH if node["kind"] in BRANCHING else STEP))
    for node in nodes.values():
        if node["id"] not in skip:
            for target, label in successors(node):
                c.edges.append((node["id"], target or "end", label))


def _opens(opens: Doc) -> str:
    return f"opens {opens['at'].replace('T', ' ')}" if "at" in opens else "opens " + schedule_text(opens["schedule"])


def clusters(pb: Doc) -> list[Cluster]:
    """The picture's model: every part of the playbook that runs on its own schedule."""
    out: list[Cluster] = []
    for j in pb.get("journeys", {}).values():
        c = Cluster(f"journey {j['name']}")
        c.nodes.append(("entry", entry_text(j["entry"]), ENTRY))
        _steps(c, j["nodes"])
        c.nodes.append(("end", t("end"), END))
        c.edges.insert(0, ("entry", j.get("start") or "end", ""))
        out.append(c)
    for g in pb.get("groups", {}).values():
        c = Cluster(f"group {g['name']}")
        closing = list(g.get("closing", []))
        c.nodes.append(("entry", _opens(g["opens"]), ENTRY))
        _steps(c, g["nodes"], skip=frozenset(closing))
        c.edges.insert(0, ("entry", g.get("start") or "end", ""))
        if closing:
            # the closing posts go out in order when the group's lifetime is over
            lasts = f" {duration_text(g['lasts_minutes'])} after opening" if "lasts_minutes" in g else ""
            c.nodes.append(("closing", f"closes{lasts}", ENTRY))
            c.nodes.extend((cid, g["nodes"][cid]["label"], STEP) for cid in closing)
            chain = ["closing", *closing, "end"]
            c.edges.extend((a, b, "") for a, b in zip(chain, chain[1:], strict=False))
        c.nodes.append(("end", t("end"), END))
        out.append(c)
    out.extend(_standing(g) for g in (pb.get("standing") or {}).values())
    for m in pb.get("moments", {}).values():
        c = Cluster(f"moments {m['name']}")
        for index, rule in enumerate(m["rules"]):
            visible = f" visible to {expr_text(rule['visible'])}" if "visible" in rule else ""
            c.nodes.append((f"r{index}", rule["label"] + visible, ENTRY))
        out.append(c)
    for r in pb.get("rotations", {}).values():
        days = ", ".join(WEEKDAY_NAMES[d] for d in r["weekdays"])
        order = f"{r['order_by']}{' desc' if r['descending'] else ''}"
        c = Cluster(f"rotate {r['name']}")
        c.nodes.append(("entry", f"every {r['period_days']}d by {order} at {r['time']} on {days}", ENTRY))
        c.nodes.append(("task", f'task "{r["task"]}"', STEP))
        c.edges.append(("entry", "task", ""))
        out.append(c)
    for s in pb.get("slas", {}).values():
        during = f" during {s['during'][0]}-{s['during'][1]}" if "during" in s else ""
        c = Cluster(f"sla {s['name']}")
        c.nodes.append(("entry", f"on {s['trigger']}{during}", ENTRY))
        previous = "entry"
        for i, label in enumerate(sla_reminder_labels(s)):
            c.nodes.append((f"remind{i}", f"task: {label}", STEP))
            c.edges.append((previous, f"remind{i}", ""))
            previous = f"remind{i}"
        c.nodes.append(("answer", f"answered by {s['answer']} within {duration_text(s['within_minutes'])}", STEP))
        c.edges.append((previous, "answer", ""))
        previous, label = "answer", "missed"
        for i, esc in enumerate(s.get("escalations") or ()):
            c.nodes.append((f"escalate{i}", f"task: {sla_escalation_label(esc)}", STEP))
            c.edges.append((previous, f"escalate{i}", label))
            previous, label = f"escalate{i}", "still unanswered"
        out.append(c)
    return out


def _standing(g: Doc) -> Cluster:
    """A standing group (docs/language.md §7.2): who may join (entered by `invite` from a
    journey), each scheduled post, and what happens when a member no longer qualifies."""
    c = Cluster(f"standing group {g['name']}")
    admit = f"admit {expr_text(g['admit'])}" if "admit" in g else "admit anyone invited"
    owner = f', owner "{g["owner"]}"' if "owner" in g else ""
    c.nodes.append(("entry", f"{admit}, size {g['size']}{owner}, invite {g['invite']}", ENTRY))
    for index, post in enumerate(g["posts"]):
        c.nodes.append((f"p{index}", post["label"], ENTRY))
    lapse = list(g["lapse"])
    if lapse:
        c.nodes.append(("lapse", "when not admitted", ENTRY))
        c.nodes.extend((nid, g["nodes"][nid]["label"], STEP) for nid in lapse)
        chain = ["lapse", *lapse, "end"]
        c.edges.extend((a, b, "") for a, b in zip(chain, chain[1:], strict=False))
        c.nodes.append(("end", t("end"), END))
    return c


def sla_reminder_labels(s: Doc) -> list[str]:
    """`remind at 4m`, …; `remind at 8m (80%)` for the reminder an SLA gets when it writes none."""
    if s.get("remind_minutes") is not None:
        return [f"remind at {duration_text(m)}" for m in s["remind_minutes"]]
    minutes = s["within_minutes"] * 0.8
    at = duration_text(int(minutes)) if minutes == int(minutes) else f"{minutes:g}m"
    return [f"remind at {at} (80%)"]


def sla_escalation_label(esc: Doc) -> str:
    """`escalate to a3 after 30m` / `escalate to "店长" after 1h`."""
    target = esc["account"] if "account" in esc else f'"{esc["role"]}"'
    return f"escalate to {target} after {duration_text(esc['after_minutes'])}"


def unreachable(c: Cluster) -> set[str]:
    """The nodes of `c` that no schedule entry leads to (none, in a well-built picture)."""
    seen, queue = set(), list(c.entries())
    while queue:
        n = queue.pop()
        if n not in seen:
            seen.add(n)
            queue.extend(b for a, b, _ in c.edges if a == n)
    return {i for i, _, _ in c.nodes} - seen


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


_MERMAID_SHAPES = {ENTRY: ('(["', '"])'), END: ('(["', '"])'), STEP: ('["', '"]'), BRANCH: ('{"', '"}')}


def mermaid(pb: Doc) -> str:
    lines = ["flowchart TD"]
    for index, c in enumerate(clusters(pb)):
        p = f"f{index}"
        lines.append(f'  subgraph {p}["{_mermaid_text(c.title)}"]')
        for node_id, label, shape in c.nodes:
            left, right = _MERMAID_SHAPES[shape]
            lines.append(f"    {p}_{node_id}{left}{_mermaid_text(label)}{right}")
        for a, b, label in c.edges:
            arrow = f" -->|{_mermaid_text(label)}| " if label else " --> "
            lines.append(f"    {p}_{a}{arrow}{p}_{b}")
        lines.append("  end")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_DOT_SHAPES = {ENTRY: ", shape=oval", END: ", shape=oval", STEP: "", BRANCH: ", shape=diamond"}


def dot(pb: Doc) -> str:
    lines = [f"digraph {_dot_text(pb['name'])} {{", "  rankdir=TB;", '  node [shape=box, fontname="sans-serif"];']
    for index, c in enumerate(clusters(pb)):
        p = f"f{index}"
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f"    label={_dot_text(c.title)};")
        for node_id, label, shape in c.nodes:
            lines.append(f"    {p}_{node_id} [label={_dot_text(label)}{_DOT_SHAPES[shape]}];")
        for a, b, label in c.edges:
            attrs = f" [label={_dot_text(label)}]" if label else ""
            lines.append(f"    {p}_{a} -> {p}_{b}{attrs};")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"
