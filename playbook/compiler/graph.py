"""The schedule graph as picture source: Mermaid (for Markdown/Feishu docs) or Graphviz dot."""

from __future__ import annotations

from collections.abc import Iterator

from playbook.compiler import ir
from playbook.compiler.describe import entry_text, schedule_text


def _edges(nodes: dict[str, ir.Node]) -> Iterator[tuple[str, str | None, str]]:
    """(from, to, label) for every edge; `to` None means the flow ends."""
    for node in nodes.values():
        if node.kind == "if":
            yield node.id, node.then, "yes"
            yield node.id, node.otherwise, "no"
        elif node.kind == "wait":
            yield node.id, node.then, node.event or "event"
            yield node.id, node.otherwise, "timed out"
        elif node.kind == "split":
            for arm in node.arms or []:
                yield node.id, arm.next, f"{arm.name} {arm.weight:g}%"
        elif node.kind != "exit":
            yield node.id, node.next, ""


def _flows(pb: ir.Playbook) -> Iterator[tuple[str, str, str, dict[str, ir.Node], str | None]]:
    """(kind, name, entry label, nodes, start) for journeys and groups."""
    for j in pb.journeys.values():
        yield "journey", j.name, entry_text(j.entry), j.nodes, j.start
    for g in pb.groups.values():
        opens = f"opens {g.opens.at}" if g.opens.at else "opens " + schedule_text(g.opens.schedule)
        yield "group", g.name, opens, g.nodes, g.start


def _quote(text: str) -> str:
    return text.replace('"', "#quot;")


def mermaid(pb: ir.Playbook) -> str:
    lines = ["flowchart TD"]
    for index, (kind, name, entry, nodes, start) in enumerate(_flows(pb)):
        prefix = f"f{index}"
        lines.append(f'  subgraph {prefix}["{kind} {_quote(name)}"]')
        lines.append(f'    {prefix}_entry(["{_quote(entry)}"])')
        for node in nodes.values():
            shape = ('{"', '"}') if node.kind in ("if", "split", "wait") else ('["', '"]')
            lines.append(f"    {prefix}_{node.id}{shape[0]}{_quote(node.label)}{shape[1]}")
        lines.append(f'    {prefix}_end(["end"])')
        lines.append(f"    {prefix}_entry --> {prefix}_{start}" if start else f"    {prefix}_entry --> {prefix}_end")
        for src, dst, label in _edges(nodes):
            target = f"{prefix}_{dst}" if dst else f"{prefix}_end"
            arrow = f" -->|{_quote(label)}| " if label else " --> "
            lines.append(f"    {prefix}_{src}{arrow}{target}")
        lines.append("  end")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(pb: ir.Playbook) -> str:
    lines = [f"digraph {_dot_quote(pb.name)} {{", "  rankdir=TB;", '  node [shape=box, fontname="sans-serif"];']
    for index, (kind, name, entry, nodes, start) in enumerate(_flows(pb)):
        prefix = f"f{index}"
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f"    label={_dot_quote(f'{kind} {name}')};")
        lines.append(f"    {prefix}_entry [label={_dot_quote(entry)}, shape=oval];")
        for node in nodes.values():
            shape = ", shape=diamond" if node.kind in ("if", "split", "wait") else ""
            lines.append(f"    {prefix}_{node.id} [label={_dot_quote(node.label)}{shape}];")
        lines.append(f'    {prefix}_end [label="end", shape=oval];')
        lines.append(f"    {prefix}_entry -> {prefix}_{start or 'end'};")
        for src, dst, label in _edges(nodes):
            attrs = f" [label={_dot_quote(label)}]" if label else ""
            lines.append(f"    {prefix}_{src} -> {prefix}_{dst or 'end'}{attrs};")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"
