"""The readable form of `playbook compile`: a rich Tree of the schedule graph."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from rich.tree import Tree

from playbook.compiler.describe import WEEKDAY_NAMES, duration_text, entry_text, expr_text, schedule_text
from playbook.compiler.graph import BRANCHING, sla_escalation_label, sla_reminder_labels, successors
from playbook.i18n import t

Doc = dict[str, Any]


def _head(kind: str, name: str, rest: str = "") -> Text:
    return Text.assemble((f"{kind} ", "bold"), (name, "bold cyan"), rest)


def playbook_tree(pb: Doc) -> Tree:
    root = Tree(Text.assemble((pb.get("title") or pb["name"], "bold"), f"  {pb['version']}  ", (pb["timezone"], "dim")))
    settings = root.add(t("settings"))
    quiet = pb.get("quiet")
    settings.add(f"quiet {quiet['start']}-{quiet['end']}" if quiet else Text(t("no quiet hours"), style="yellow"))
    for lim in pb["limits"]:
        settings.add(
            f"limit {lim['channel']} {lim['count']} per {lim['scope']} per {lim['period']} else {lim['action']}"
        )
    if pb["segments"]:
        branch = root.add(t("segments"))
        for s in pb["segments"].values():
            branch.add(Text.assemble((s["name"], "cyan"), " = ", expr_text(s["expr"])))
    if pb["contents"]:
        branch = root.add(t("contents"))
        for c in pb["contents"].values():
            parts = [k for k in ("text", "link", "miniprogram", "video", "file") if k in c] + (
                ["image"] if c["images"] else []
            )
            holders = " ".join(
                "{" + p["path"] + ("|" + p["fallback"] if "fallback" in p else "") + "}" for p in c["placeholders"]
            )
            branch.add(Text.assemble((c["name"], "cyan"), f"  [{', '.join(parts)}]  ", (holders, "dim")))
    for j in pb["journeys"].values():
        node = root.add(_head("journey", j["name"], f"  priority {j['priority']:g}"))
        node.add(entry_text(j["entry"]))
        for x in j["exits"]:
            node.add(f"exit on {x['event']}" if x["kind"] == "event" else f"exit when {expr_text(x['condition'])}")
        if "reenter_after_minutes" in j:
            node.add(f"reenter after {duration_text(j['reenter_after_minutes'])}")
        if "goal" in j:
            node.add(f"goal {j['goal']['event']} within {duration_text(j['goal']['within_minutes'])}")
        _steps(node.add(t("steps")), j["nodes"], j.get("start"), None)
    for g in pb["groups"].values():
        node = root.add(_head("group", g["name"]))
        node.add(f"name {g['title']}")
        node.add("members " + (expr_text(g["members"]) if "members" in g else t("all contacts of the account")))
        opens = g["opens"]
        node.add(
            f"opens {opens['at'].replace('T', ' ')}" if "at" in opens else f"opens {schedule_text(opens['schedule'])}"
        )
        node.add(f"lasts {duration_text(g['lasts_minutes'])}, size {g['size']}, invite {g['invite']}")
        _steps(node.add(t("steps")), g["nodes"], g.get("start"), None)
        closing = node.add("closing")
        for cid in g["closing"]:
            closing.add(g["nodes"][cid]["label"])
    for g in (pb.get("standing") or {}).values():
        _standing(root, g)
    for m in pb["moments"].values():
        node = root.add(_head("moments", m["name"]))
        for r in m["rules"]:
            node.add(r["label"] + (f" visible to {expr_text(r['visible'])}" if "visible" in r else ""))
    for r in pb["rotations"].values():
        days = ", ".join(WEEKDAY_NAMES[d] for d in r["weekdays"])
        order = f"{r['order_by']}{' desc' if r['descending'] else ''}"
        root.add(
            _head("rotate", r["name"], f"  every {r['period_days']}d by {order} at {r['time']} on {days}: {r['task']}")
        )
    for s in pb["slas"].values():
        during = f" during {s['during'][0]}-{s['during'][1]}" if "during" in s else ""
        within = duration_text(s["within_minutes"])
        node = root.add(_head("sla", s["name"], f"  {s['trigger']} answered by {s['answer']} within {within}{during}"))
        for label in [*sla_reminder_labels(s), *map(sla_escalation_label, s.get("escalations") or ())]:
            node.add(label)
    return root


def _steps(parent: Tree, nodes: dict[str, Doc], start: str | None, stop: str | None) -> None:
    """Walk from `start` until `stop` (where branches meet again), nesting the branches."""
    current = start
    while current is not None and current != stop:
        node = nodes[current]
        branch = parent.add(Text(node["label"], style="bold" if node["kind"] in BRANCHING else ""))
        if node["kind"] not in BRANCHING:
            current = node.get("next")
            continue
        join = _join(nodes, node)
        for target, label in successors(node):
            _steps(branch.add(label or "then"), nodes, target, join)
        current = join


def _join(nodes: dict[str, Doc], node: Doc) -> str | None:
    """Where the branches of `node` meet again: the first node every branch reaches."""

    def reachable(start: str | None) -> list[str | None]:
        order: list[str | None] = []
        queue = [start]
        while queue:
            n = queue.pop(0)
            if n in order:
                continue
            order.append(n)
            if n is not None:
                queue.extend(t for t, _ in successors(nodes[n]))
        return order

    paths = [reachable(target) for target, _ in successors(node)]
    common = set(paths[0]).intersection(*map(set, paths[1:]))
    return next((n for n in paths[0] if n in common), None)


def _standing(root: Tree, g: Doc) -> None:
    """A standing group (docs/language.md §7.2) in the tree."""
    node = root.add(_head("group", g["name"], f"  {t('standing')}"))
    node.add(f"name {g['title']}")
    node.add("admit " + (expr_text(g["admit"]) if "admit" in g else t("anyone invited")))
    if "owner" in g:
        node.add(f'owner "{g["owner"]}"')
    node.add(f"size {g['size']}, invite {g['invite']}")
    for post in g["posts"]:
        node.add(post["label"])
    for nid in g["lapse"]:
        node.add("when not admitted: " + g["nodes"][nid]["label"])
