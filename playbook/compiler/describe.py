"""IR pieces as short readable text, in the playbook's own words (for trees, graphs, explain)."""

from __future__ import annotations

from playbook.compiler import ir

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def duration_text(minutes: int) -> str:
    out = []
    for unit, size in (("d", 1440), ("h", 60), ("m", 1)):
        n, minutes = divmod(minutes, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out) or "0m"


def schedule_text(s: ir.Schedule | None) -> str:
    if s is None:
        return ""
    if isinstance(s, ir.CronSchedule):
        return f'cron "{s.expr}"'
    if isinstance(s, ir.Interval):
        return f"every {duration_text(s.minutes)}" + (f" between {s.between[0]}-{s.between[1]}" if s.between else "")
    times = ", ".join(s.times)
    if isinstance(s, ir.Monthly):
        return "every month on " + ", ".join(map(str, s.days)) + f" at {times}"
    if s.weekdays == list(range(7)):
        return f"every day at {times}"
    if s.weekdays == [0, 1, 2, 3, 4]:
        return f"every weekday at {times}"
    if s.weekdays == [5, 6]:
        return f"every weekend at {times}"
    return "every " + ", ".join(WEEKDAY_NAMES[d] for d in s.weekdays) + f" at {times}"


def entry_text(e: ir.Entry) -> str:
    if e.kind == "event":
        return f"on {e.event}" + (f" where {expr_text(e.where)}" if e.where else "")
    if e.kind == "segment":
        return f"on enter {e.segment}"
    if e.kind == "schedule":
        return f"{schedule_text(e.schedule)} for {e.segment}"
    return f"at {e.at.replace('T', ' ') if e.at else ''} for {e.segment}"


def _lit(v: ir.Lit | ir.FieldRef) -> str:
    if isinstance(v, ir.FieldRef):
        return v.field
    if v.kind == "text":
        return '"' + str(v.value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if v.kind == "bool":
        return "true" if v.value else "false"
    if v.kind == "datetime":
        return str(v.value).replace("T", " ")
    return str(v.value)


def expr_text(e: ir.Expr | None, parent: str = "") -> str:
    if e is None:
        return ""
    if isinstance(e, ir.And | ir.Or):
        text = f" {e.op} ".join(expr_text(a, e.op) for a in e.args)
        # `and` binds tighter than `or`; `not` tighter than both.
        needs = parent == "not" or (parent == "and" and e.op == "or")
        return f"({text})" if needs else text
    if isinstance(e, ir.Not):
        return "not " + expr_text(e.arg, "not")
    if isinstance(e, ir.Cmp):
        return f"{e.field} {e.cmp} {_lit(e.value)}"
    if isinstance(e, ir.InList):
        return f"{e.field} in [" + ", ".join(_lit(v) for v in e.values) + "]"
    if isinstance(e, ir.Within):
        return f"{e.field} within {duration_text(e.minutes)}"
    if isinstance(e, ir.IsSet):
        return f"{e.field} is set"
    if isinstance(e, ir.HasTag):
        return f'tag "{e.tag}"'
    return f"in {e.segment}"
