"""The schedule graph as picture source: Mermaid (for Markdown/Feishu docs) or Graphviz dot."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from playbook.compiler.describe import entry_text, schedule_text
from playbook.i18n import t

Doc = dict[str, Any]
BRANCHING = ("if", "split", "wait")


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


def flows(pb: Doc) -> Iterator[tuple[str, str, str, dict[str, Doc], str | None]]:
    """(kind, name, entry text, nodes, first node) for journeys and groups."""
    for j in pb.get("journeys", {}).values():
        yield "journey", j["name"], entry_text(j["entry"]), j["nodes"], j.get("start")
    for g in pb.get("groups", {}).values():
        opens = g["opens"]
        when = (
            f"opens {opens['at'].replace('T', ' ')}" if "at" in opens else "opens " + schedule_text(opens["schedule"])
        )
        yield "group", g["name"], when, g["nodes"], g.get("start")


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def mermaid(pb: Doc) -> str:
    lines = ["flowchart TD"]
    for index, (kind, name, entry, nodes, start) in enumerate(flows(pb)):
        p = f"f{index}"
        lines.append(f'  subgraph {p}["{kind} {_mermaid_text(name)}"]')
        lines.append(f'    {p}_entry(["{_mermaid_text(entry)}"])')
        for node in nodes.values():
            left, right = ('{"', '"}') if node["kind"] in BRANCHING else ('["', '"]')
            lines.append(f"    {p}_{node['id']}{left}{_mermaid_text(node['label'])}{right}")
        lines.append(f'    {p}_end(["{_mermaid_text(t("end"))}"])')
        lines.append(f"    {p}_entry --> {p}_{start or 'end'}")
        for node in nodes.values():
            for target, label in successors(node):
                arrow = f" -->|{_mermaid_text(label)}| " if label else " --> "
                lines.append(f"    {p}_{node['id']}{arrow}{p}_{target or 'end'}")
        lines.append("  end")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(pb: Doc) -> str:
    lines = [f"digraph {_dot_text(pb['name'])} {{", "  rankdir=TB;", '  node [shape=box, fontname="sans-serif"];']
    for index, (kind, name, entry, nodes, start) in enumerate(flows(pb)):
        p = f"f{index}"
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f"    label={_dot_text(f'{kind} {name}')};")
        lines.append(f"    {p}_entry [label={_dot_text(entry)}, shape=oval];")
        for node in nodes.values():
            shape = ", shape=diamond" if node["kind"] in BRANCHING else ""
            lines.append(f"    {p}_{node['id']} [label={_dot_text(node['label'])}{shape}];")
        lines.append(f"    {p}_end [label={_dot_text(t('end'))}, shape=oval];")
        lines.append(f"    {p}_entry -> {p}_{start or 'end'};")
        for node in nodes.values():
            for target, label in successors(node):
                attrs = f" [label={_dot_text(label)}]" if label else ""
                lines.append(f"    {p}_{node['id']} -> {p}_{target or 'end'}{attrs};")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"
