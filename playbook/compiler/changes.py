"""What changed between two compiled playbooks, as graph changes — steps, contents, timing,
limits, segments, journeys and the rest added, removed or changed — for `playbook diff`.

It compares the IR (the canonical plain-data form), not the text: reformatting, comments
or moving a declaration change nothing here. Flows and their steps are matched by name and
node id, as the daemon matches them when it moves contacts onto a new version (`run
--migrate`: the same step is the same node id). Old and new values are written in the
playbook's own words (`describe.py`, the step labels), so they read the same in every
language; only the words around them are translated when shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from playbook.compiler.describe import duration_text, entry_text, expr_text, schedule_text

Doc = dict[str, Any]

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
# Kinds of things that change, in the order they are listed.
KINDS = ("playbook", "limit", "segment", "content", "journey", "step", "group", "moments", "rotation", "sla")


@dataclass(frozen=True, slots=True)
class Change:
    kind: str  # one of KINDS
    op: str  # added | removed | changed
    name: str  # the thing: a journey's name, "journey · s2" for a step, a limit's channel/scope/period
    aspect: str = ""  # what about it changed (changed only): timing, text, count, entry, …
    old: str = ""  # in the playbook's words; "" when added
    new: str = ""  # "" when removed

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @property
    def tightened(self) -> bool:
        """A limit that now lets fewer touches through (a lower count, or skip for defer)."""
        if self.kind != "limit" or self.op != CHANGED:
            return False
        return self.aspect == "count" and _count(self.new) < _count(self.old)


def graph_changes(old: Doc, new: Doc) -> list[Change]:
    """Every difference in meaning between two compiled playbooks (canonical documents)."""
    out: list[Change] = []
    out += _settings(old, new)
    out += _limits(old.get("limits", []), new.get("limits", []))
    out += _named("segment", old.get("segments", {}), new.get("segments", {}), lambda s: expr_text(s["expr"]))
    out += _contents(old.get("contents", {}), new.get("contents", {}))
    out += _flows("journey", old.get("journeys", {}), new.get("journeys", {}), _journey_aspects)
    out += _flows("group", old.get("groups", {}), new.get("groups", {}), _group_aspects)
    out += _named("group", old.get("standing") or {}, new.get("standing") or {}, _standing_text)
    out += _named("moments", old.get("moments", {}), new.get("moments", {}),
                  lambda m: "; ".join(r["label"] for r in m["rules"]), detail=_moments_aspects)  # fmt: skip
    out += _named("rotation", old.get("rotations", {}), new.get("rotations", {}), _rotation_text)
    out += _named("sla", old.get("slas", {}), new.get("slas", {}), _sla_text)
    return out


# ---- settings, limits --------------------------------------------------------------------------------


def _settings(old: Doc, new: Doc) -> Iterator[Change]:
    name = new.get("title") or new.get("name") or ""
    for aspect, text in (("timezone", lambda d: d.get("timezone", "")),
                         ("quiet", lambda d: f"quiet {d['quiet']['start']}-{d['quiet']['end']}" if d.get("quiet") else ""),
                         ("title", lambda d: d.get("title") or "")):  # fmt: skip
        a, b = text(old), text(new)
        if a != b:
            yield Change("playbook", CHANGED, name, aspect, a, b)


def _limit_key(limit: Doc) -> tuple[str, str, str]:
    return limit["channel"], limit["scope"], limit["period"]


def _limit_text(limit: Doc) -> str:
    text = f"limit {limit['channel']} {limit['count']} per {limit['scope']} per {limit['period']}"
    return text + (" skip" if limit.get("action", "defer") == "skip" else "")


def _count(text: str) -> int:
    """The count in a limit's text ("limit dm 3 per contact per day" → 3)."""
    parts = text.split()
    return int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0


def _limits(old: list[Doc], new: list[Doc]) -> Iterator[Change]:
    before = {_limit_key(x): x for x in old}
    after = {_limit_key(x): x for x in new}
    for key in [*before, *(k for k in after if k not in before)]:
        name = f"{key[0]} per {key[1]} per {key[2]}"
        a, b = before.get(key), after.get(key)
        if a is None and b is not None:
            yield Change("limit", ADDED, name, new=_limit_text(b))
        elif b is None and a is not None:
            yield Change("limit", REMOVED, name, old=_limit_text(a))
        elif a is not None and b is not None and a != b:
            aspect = "count" if a["count"] != b["count"] else "action"
            yield Change("limit", CHANGED, name, aspect, _limit_text(a), _limit_text(b))


# ---- named things: segments, contents, moments, rotations, SLAs ------------------------------------------


def _named(kind: str, old: Doc, new: Doc, text: Any, detail: Any = None) -> Iterator[Change]:
    for name in [*old, *(n for n in new if n not in old)]:
        a, b = old.get(name), new.get(name)
        if a is None:
            yield Change(kind, ADDED, name, new=text(b))
        elif b is None:
            yield Change(kind, REMOVED, name, old=text(a))
        elif a != b:
            if detail is not None:
                yield from detail(name, a, b)
            else:
                yield Change(kind, CHANGED, name, _first_difference(a, b), text(a), text(b))


# What a changed field of a segment, content, Moments rule, rotation or SLA is about.
_FIELD_ASPECTS = {
    "schedule": "timing", "at": "timing", "time": "timing", "weekdays": "timing", "period_days": "period",
    "order_by": "order", "descending": "order", "task": "text", "within_minutes": "within", "images": "image",
}  # fmt: skip


def _first_difference(a: Doc, b: Doc) -> str:
    """What differs between two versions of a thing, as aspect words ("timing, visible")."""
    fields = {k for k in {*a, *b} - {"name", "label", "uses", "placeholders"} if a.get(k) != b.get(k)}
    return ", ".join(sorted({_FIELD_ASPECTS.get(k, k) for k in fields})) or "label"


def _standing_text(g: Doc) -> str:
    """A standing group (docs/language.md §7.2) in one line."""
    admit = f"admit {expr_text(g['admit'])}, " if "admit" in g else ""
    owner = f'owner "{g["owner"]}", ' if "owner" in g else ""
    lapse = [f"when not admitted: {g['nodes'][i]['label']}" for i in g.get("lapse", [])]
    return "; ".join([f"{admit}{owner}size {g['size']}, invite {g['invite']}",
                      *(p["label"] for p in g.get("posts", [])), *lapse])  # fmt: skip


def _content_text(c: Doc) -> str:
    parts = [c["text"].replace("\n", "⏎")] if c.get("text") else []
    parts += [f"{k} {c[k]}" for k in ("link", "video", "file", "miniprogram", "page", "title", "desc") if c.get(k)]
    parts += [f"image {x}" for x in c.get("images", [])]
    return " · ".join(parts)


def _contents(old: Doc, new: Doc) -> Iterator[Change]:
    for name in [*old, *(n for n in new if n not in old)]:
        a, b = old.get(name), new.get(name)
        if a is None:
            yield Change("content", ADDED, name, new=_content_text(b))
        elif b is None:
            yield Change("content", REMOVED, name, old=_content_text(a))
        elif a != b:
            aspect = "text" if a.get("text") != b.get("text") else _first_difference(a, b)
            yield Change("content", CHANGED, name, aspect, _content_text(a), _content_text(b))


def _moments_aspects(name: str, a: Doc, b: Doc) -> Iterator[Change]:
    """A Moments calendar's rules, matched by the content they post (by their whole line when a
    content is posted by more than one rule), so a retimed post is a change, not a swap."""

    def keyed(rules: list[Doc]) -> dict[str, Doc]:
        posts = [r["content"] for r in rules]
        unique = len(set(posts)) == len(posts)
        return {(r["content"] if unique else r["label"]): r for r in rules}

    rules_a, rules_b = keyed(a["rules"]), keyed(b["rules"])
    for key in [*rules_a, *(x for x in rules_b if x not in rules_a)]:
        x, y = rules_a.get(key), rules_b.get(key)
        if y is None and x is not None:
            yield Change("moments", REMOVED, name, old=x["label"])
        elif x is None and y is not None:
            yield Change("moments", ADDED, name, new=y["label"])
        elif x is not None and y is not None and x != y:
            yield Change("moments", CHANGED, name, _first_difference(x, y), _rule_text(x), _rule_text(y))


def _rule_text(r: Doc) -> str:
    visible = f" visible to {expr_text(r['visible'])}" if r.get("visible") else ""
    return r["label"] + (visible if visible and "visible" not in r["label"] else "")


def _rotation_text(r: Doc) -> str:
    members = f" for {expr_text(r['members'])}" if r.get("members") else ""
    order = f"{r['order_by']}{' desc' if r.get('descending') else ''}"
    return f'every {r["period_days"]}d at {r["time"]} by {order}{members}: task "{r["task"]}"'


def _sla_text(s: Doc) -> str:
    during = f" during {s['during'][0]}-{s['during'][1]}" if s.get("during") else ""
    return f"{s['answer']} within {duration_text(s['within_minutes'])} of {s['trigger']}{during}"


# ---- journeys and groups, step by step ---------------------------------------------------------------------


def _flows(kind: str, old: Doc, new: Doc, aspects: Any) -> Iterator[Change]:
    for name in [*old, *(n for n in new if n not in old)]:
        a, b = old.get(name), new.get(name)
        if a is None:
            yield Change(kind, ADDED, name, new=_flow_text(kind, b))
        elif b is None:
            yield Change(kind, REMOVED, name, old=_flow_text(kind, a))
        elif a != b:
            for aspect, x, y in aspects(a, b):
                yield Change(kind, CHANGED, name, aspect, x, y)
            yield from _steps(name, a, b)


def _flow_text(kind: str, flow: Doc) -> str:
    steps = len(flow.get("nodes", {}))
    head = entry_text(flow["entry"]) if kind == "journey" else _opens_text(flow["opens"])
    return f"{head} · {steps} step{'s' if steps != 1 else ''}"


def _opens_text(opens: Doc) -> str:
    return (
        f"opens {opens['at'].replace('T', ' ')}" if opens.get("at") else "opens " + schedule_text(opens.get("schedule"))
    )


def _goal_text(goal: Doc | None) -> str:
    if not goal:
        return ""
    where = f" where {expr_text(goal['where'])}" if goal.get("where") else ""
    return f"goal {goal['event']}{where} within {duration_text(goal['within_minutes'])}"


def _exit_text(e: Doc) -> str:
    if e["kind"] == "event":
        return f"exit on {e['event']}" + (f" where {expr_text(e['where'])}" if e.get("where") else "")
    return f"exit when {expr_text(e['condition'])}"


def _journey_aspects(a: Doc, b: Doc) -> Iterator[tuple[str, str, str]]:
    texts = {
        "entry": lambda j: entry_text(j["entry"]),
        "exits": lambda j: "; ".join(_exit_text(e) for e in j.get("exits", [])),
        "reenter": lambda j: f"reenter after {duration_text(j['reenter_after_minutes'])}"
        if j.get("reenter_after_minutes") is not None else "",
        "goal": lambda j: _goal_text(j.get("goal")),
        "priority": lambda j: f"priority {j.get('priority', 0)}" if j.get("priority") else "",
    }  # fmt: skip
    for aspect, text in texts.items():
        x, y = text(a), text(b)
        if x != y:
            yield aspect, x, y


def _group_aspects(a: Doc, b: Doc) -> Iterator[tuple[str, str, str]]:
    texts = {
        "opens": lambda g: _opens_text(g["opens"]),
        "members": lambda g: expr_text(g.get("members")),
        "title": lambda g: g["title"],
        "size": lambda g: str(g["size"]),
        "lasts": lambda g: duration_text(g["lasts_minutes"]),
        "invite": lambda g: g["invite"],
    }
    for aspect, text in texts.items():
        x, y = text(a), text(b)
        if x != y:
            yield aspect, x, y


# What a step's field is about, when it changes (the rest of a node is its place in the graph).
_NODE_ASPECTS = {
    "timing": "timing", "content": "content", "text": "text", "group": "group", "condition": "condition",
    "event": "condition", "where": "condition", "up_to_minutes": "timing", "arms": "split", "kind": "kind",
}  # fmt: skip


def _steps(flow: str, a: Doc, b: Doc) -> Iterator[Change]:
    old, new = a.get("nodes", {}), b.get("nodes", {})
    for node_id in sorted({*old, *new}, key=_node_order):
        x, y = old.get(node_id), new.get(node_id)
        name = f"{flow} · {node_id}"
        if x is None:
            yield Change("step", ADDED, name, new=y["label"])
        elif y is None:
            yield Change("step", REMOVED, name, old=x["label"])
        elif x != y:
            fields = sorted(k for k in {*x, *y} if x.get(k) != y.get(k) and k != "label")
            aspects = sorted({_NODE_ASPECTS.get(k, "order") for k in fields}) or ["label"]
            yield Change("step", CHANGED, name, ", ".join(aspects), x["label"], y["label"])


def _node_order(node_id: str) -> tuple[int, str]:
    digits = node_id.lstrip("abcdefghijklmnopqrstuvwxyz")
    return (int(digits) if digits.isdigit() else 0, node_id)
