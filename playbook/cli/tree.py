"""The readable form of `playbook compile`: a rich Tree of the schedule graph."""

from __future__ import annotations

from rich.text import Text
from rich.tree import Tree

from playbook.compiler import ir
from playbook.compiler.describe import duration_text, entry_text, expr_text, schedule_text


def playbook_tree(pb: ir.Playbook) -> Tree:
    root = Tree(Text.assemble((pb.title or pb.name, "bold"), f"  {pb.version}  ", (pb.timezone, "dim")))
    settings = root.add("settings")
    settings.add(f"quiet {pb.quiet.start}-{pb.quiet.end}" if pb.quiet else Text("no quiet hours", style="yellow"))
    for lim in pb.limits:
        settings.add(f"{lim.label} else {lim.action}")
    if pb.segments:
        seg = root.add("segments")
        for s in pb.segments.values():
            seg.add(Text.assemble((s.name, "cyan"), " = ", expr_text(s.expr)))
    if pb.contents:
        con = root.add("contents")
        for c in pb.contents.values():
            parts = ", ".join(c.parts)
            holders = " ".join(
                "{" + p.path + ("|" + p.fallback if p.fallback is not None else "") + "}" for p in c.placeholders
            )
            con.add(Text.assemble((c.name, "cyan"), f"  [{parts}]  ", (holders, "dim")))
    for j in pb.journeys.values():
        node = root.add(Text.assemble(("journey ", "bold"), (j.name, "bold cyan"), f"  priority {j.priority:g}"))
        node.add(entry_text(j.entry))
        for x in j.exits:
            node.add(f"exit on {x.event}" if x.kind == "event" else f"exit when {expr_text(x.condition)}")
        if j.reenter_after_minutes:
            node.add(f"reenter after {duration_text(j.reenter_after_minutes)}")
        if j.goal:
            node.add(f"goal {j.goal.event} within {duration_text(j.goal.within_minutes)}")
        _steps(node.add("steps"), j.nodes, j.start, None, set())
    for g in pb.groups.values():
        node = root.add(Text.assemble(("group ", "bold"), (g.name, "bold cyan")))
        node.add(f"name {g.title}")
        node.add("members " + (expr_text(g.members) if g.members else "all contacts of the account"))
        node.add(f"opens {g.opens.at.replace('T', ' ')}" if g.opens.at else f"opens {schedule_text(g.opens.schedule)}")
        node.add(f"lasts {duration_text(g.lasts_minutes)}, size {g.size}, invite {g.invite}")
        _steps(node.add("steps"), g.nodes, g.start, None, set())
        closing = node.add("closing")
        for cid in g.closing:
            closing.add(g.nodes[cid].label)
    for m in pb.moments.values():
        node = root.add(Text.assemble(("moments ", "bold"), (m.name, "bold cyan")))
        for r in m.rules:
            node.add(r.label + (f" visible to {expr_text(r.visible)}" if r.visible else ""))
    for r in pb.rotations.values():
        days = ", ".join(("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d] for d in r.weekdays)
        root.add(Text.assemble(("rotate ", "bold"), (r.name, "bold cyan"),
                               f"  every {r.period_days}d by {r.order_by}{' desc' if r.descending else ''} at {r.time} on {days}: {r.task}"))  # fmt: skip
    for s in pb.slas.values():
        during = f" during {s.during[0]}-{s.during[1]}" if s.during else ""
        root.add(Text.assemble(("sla ", "bold"), (s.name, "bold cyan"),
                               f"  {s.trigger} answered by {s.answer} within {duration_text(s.within_minutes)}{during}"))  # fmt: skip
    return root


def _steps(parent: Tree, nodes: dict[str, ir.Node], start: str | None, stop: str | None, seen: set[str]) -> None:
    """Walk from `start` until `stop` (the join after a branch), nesting branches."""
    current = start
    while current is not None and current != stop and current not in seen:
        seen.add(current)
        node = nodes[current]
        branch = parent.add(Text(node.label, style="bold" if node.kind in ("if", "split", "wait") else ""))
        if node.kind == "if":
            join = _join(nodes, node)
            _steps(branch.add("then"), nodes, node.then, join, seen)
            _steps(branch.add("else"), nodes, node.otherwise, join, seen)
            current = join
        elif node.kind == "wait":
            join = _join(nodes, node)
            _steps(branch.add(f"{node.event} came"), nodes, node.then, join, seen)
            _steps(branch.add("timed out"), nodes, node.otherwise, join, seen)
            current = join
        elif node.kind == "split":
            join = _join(nodes, node)
            for arm in node.arms or []:
                _steps(branch.add(f"arm {arm.name} {arm.weight:g}%"), nodes, arm.next, join, seen)
            current = join
        else:
            current = node.next


def _join(nodes: dict[str, ir.Node], node: ir.Node) -> str | None:
    """Where the branches of `node` meet again: the first node reachable from every branch."""
    starts = [node.then, node.otherwise] if node.kind != "split" else [a.next for a in node.arms or []]

    def reach(start: str | None) -> list[str | None]:
        order: list[str | None] = []
        stack, seen = [start], set()
        while stack:
            n = stack.pop(0)
            if n in seen:
                continue
            seen.add(n)
            order.append(n)
            if n is None:
                continue
            x = nodes[n]
            for nxt in (x.next, x.then, x.otherwise, *[a.next for a in x.arms or []]):
                if nxt is not None or x.kind != "exit":
                    stack.append(nxt)
        return order

    paths = [reach(s) for s in starts]
    common = set(paths[0]).intersection(*map(set, paths[1:]))
    for n in paths[0]:
        if n in common:
            return n
    return None
