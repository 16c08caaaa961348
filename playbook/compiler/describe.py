"""IR pieces (canonical plain-data form) as short readable text in the playbook's own
words — for step labels, the compile tree, graphs and `explain`."""

from __future__ import annotations

from typing import Any

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Doc = dict[str, Any]


def duration_text(minutes: int) -> str:
    out = []
    for unit, size in (("d", 1440), ("h", 60), ("m", 1)):
        n, minutes = divmod(minutes, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out) or "0m"


def schedule_text(s: Doc | None) -> str:
    if s is None:
        return ""
    kind = s["kind"]
    if kind == "cron":
        return f'cron "{s["expr"]}"'
    if kind == "interval":
        window = f" between {s['between'][0]}-{s['between'][1]}" if s.get("between") else ""
        return f"every {duration_text(s['minutes'])}{window}"
    times = ", ".join(s["times"])
    if kind == "monthly":
        return "every month on " + ", ".join(map(str, s["days"])) + f" at {times}"
    days = s["weekdays"]
    if days == list(range(7)):
        return f"every day at {times}"
    if days == [0, 1, 2, 3, 4]:
        return f"every weekday at {times}"
    if days == [5, 6]:
        return f"every weekend at {times}"
    return "every " + ", ".join(WEEKDAY_NAMES[d] for d in days) + f" at {times}"


def entry_text(e: Doc) -> str:
    kind = e["kind"]
    if kind == "event":
        return f"on {e['event']}" + (f" where {expr_text(e['where'])}" if e.get("where") else "")
    if kind == "segment":
        return f"on enter {e['segment']}"
    if kind == "schedule":
        return f"{schedule_text(e['schedule'])} for {e['segment']}"
    return f"at {e['at'].replace('T', ' ')} for {e['segment']}"


def _value(v: Doc) -> str:
    if "field" in v:
        return v["field"]
    kind, value = v["kind"], v["value"]
    if kind == "text":
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if kind == "bool":
        return "true" if value else "false"
    if kind == "datetime":
        return str(value).replace("T", " ")
    return str(value)


def expr_text(e: Doc | None, parent: str = "") -> str:
    if e is None:
        return ""
    op = e["op"]
    if op in ("and", "or"):
        text = f" {op} ".join(expr_text(a, op) for a in e["args"])
        # `and` binds tighter than `or`; `not` tighter than both.
        needs = parent == "not" or (parent == "and" and op == "or")
        return f"({text})" if needs else text
    if op == "not":
        return "not " + expr_text(e["arg"], "not")
    if op == "cmp":
        return f"{e['field']} {e['cmp']} {_value(e['value'])}"
    if op == "in":
        return f"{e['field']} in [" + ", ".join(_value(v) for v in e["values"]) + "]"
    if op == "within":
        return f"{e['field']} within {duration_text(e['minutes'])}"
    if op == "is_set":
        return f"{e['field']} is set"
    if op == "tag":
        return f'tag "{e["tag"]}"'
    if op == "group":
        return f"in group {e['group']}"
    return f"in {e['segment']}"
