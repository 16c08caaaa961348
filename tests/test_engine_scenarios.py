"""Hand-computed engine scenarios (tests/golden/plan/<scenario>/).

Each scenario directory holds `playbook.pb`, `contacts.csv` and optionally `accounts.csv`
and `events.jsonl`, plus `expected.txt`: the timeline worked out on paper from
LANGUAGE.md and docs/semantics.md *before* the engine was run. These files are not
regenerated from the engine's output: when the engine disagrees, re-read the rules; if
the engine is wrong, the line stays as worked out and is marked disputed (`T!`/`E!`),
with an `@xfail` line saying what the engine does wrong.

expected.txt format (one record per line; `#` starts a comment line):

    @start 2026-12-01 00:00          plan start (local time, playbook timezone)
    @days 5                          horizon
    @events enter exit               state event types to compare (all of them, in full)
    @xfail what the engine does wrong     (one line per disputed point)
    @playbooks a.pb b.pb             several playbooks side by side (default: playbook.pb)
    @adapter wecom                   apply an adapter's platform limits (plan --adapter)

    T at | due | channel | account | target | flow | step | outcome | reason | text
    E at | type | contact | flow | key=value, key=value
    M flow | entered=N | goal=N
    S account | sla | met=N | late=N | missed=N      service levels per staff (all of them, when any)

- times are local `YYYY-MM-DD HH:MM±HH:MM` (the offset makes DST visible);
- target: the contact id; ` @GROUP-INSTANCE` for a group (an invitation has both);
  `[c1,c2]` for a Moments audience; `-` for none;
- T lines are in the contract's order (at, account, contact, flow, step);
- E lines are compared sorted by (time, type, contact, flow); the data keys shown per
  type are fixed (EVENT_KEYS);
- a field (or an event data value) written `*` means "any non-empty value": used only
  where neither the spec nor docs/semantics.md fixes the words (an SLA reminder's text,
  the reason a post nobody can see is skipped).
- `\\n` in a text stands for a line break.

Disputed lines (`T!`, `E!`) are what the rules say where the engine currently does
something else. `test_scenario` checks every other line strictly and lets a disputed
line stand in for the engine's line of the same identity (touch: channel, account, flow,
step; event: type, contact, flow); `test_scenario_disputed` (xfail, strict) checks the
disputed lines themselves, so it starts to pass — and must be un-marked — once the engine
is fixed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import GOLDEN

from playbook.plan.jsonwriter import to_json
from playbook.plan.run import PlanInput, PlanResult, run_plan

SCENARIOS = GOLDEN / "plan"
NAMES = sorted(p.name for p in SCENARIOS.iterdir() if (p / "expected.txt").exists())

# Data keys rendered for each state event type.
EVENT_KEYS: dict[str, tuple[str, ...]] = {
    "enter": ("n",),
    "exit": ("reason",),
    "tag_added": ("tag",),
    "tag_removed": ("tag",),
    "goal": ("event",),
    "split": ("arm",),
    "group_opened": ("group", "members"),
    "group_closed": ("group",),
    "sla_started": ("deadline", "account"),
    "sla_met": ("account",),
    "sla_late": ("account",),
    "sla_missed": ("account",),
    "group_joined": ("group", "members"),
    "group_left": ("group", "members"),
    "group_full": ("group", "members"),
    "group_lapsed": ("group",),
}
TIME_KEYS = {"deadline", "closes"}


@dataclass
class Expected:
    start: str = ""
    days: int = 0
    event_types: list[str] = field(default_factory=list)
    touches: list[tuple[str, bool]] = field(default_factory=list)  # (line, disputed)
    events: list[tuple[str, bool]] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    staff: list[str] = field(default_factory=list)  # S lines
    xfail: list[str] = field(default_factory=list)
    playbooks: list[str] = field(default_factory=lambda: ["playbook.pb"])
    adapter: str | None = None


def read_expected(path: Path) -> Expected:
    exp = Expected()
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@start "):
            exp.start = line.split(" ", 1)[1].strip()
        elif line.startswith("@days "):
            exp.days = int(line.split()[1])
        elif line.startswith("@events"):
            exp.event_types = line.split()[1:]
        elif line.startswith("@playbooks "):
            exp.playbooks = line.split()[1:]
        elif line.startswith("@adapter "):
            exp.adapter = line.split()[1]
        elif line.startswith("@xfail "):
            exp.xfail.append(line.split(" ", 1)[1].strip())
        elif line[:2] in ("T ", "E ", "M ", "S ", "T!", "E!"):
            body = " | ".join(f.strip() for f in line[2:].split("|"))
            if line[0] == "S":
                exp.staff.append(body)
            elif line[0] == "M":
                exp.metrics.append(body)
            else:
                (exp.touches if line[0] == "T" else exp.events).append((body, line[1] == "!"))
        else:
            raise ValueError(f"{path}: cannot read line {raw!r}")
    assert exp.start and exp.days, f"{path}: @start and @days are required"
    disputed = any(d for _, d in exp.touches + exp.events)
    assert disputed == bool(exp.xfail), f"{path}: disputed lines need an @xfail reason, and only they"
    return exp


def local(iso_text: str) -> str:
    """`2026-12-02T08:00:00+08:00` -> `2026-12-02 08:00+08:00`."""
    t = dt.datetime.fromisoformat(iso_text)
    assert t.second == 0 and t.utcoffset() is not None, iso_text
    return t.isoformat(timespec="minutes").replace("T", " ")


def target(j: dict) -> str:
    """Who a touch is for."""
    parts = []
    if j.get("contact") is not None:
        parts.append(j["contact"])
    if j.get("group") is not None:
        parts.append("@" + j["group"])
    if j.get("audience") is not None:
        parts.append("[" + ",".join(j["audience"]) + "]")
    return " ".join(parts) or "-"


def touch_line(j: dict) -> str:
    fields = [local(j["at"]), local(j["due"]), j["channel"], j["account"] or "-", target(j), j["flow"], j["step"],
              j["outcome"], j["reason"], j["text"].replace("\n", "\\n")]  # fmt: skip
    return " | ".join(f.strip() for f in fields)


def event_line(e: dict) -> str:
    data = []
    for key in EVENT_KEYS.get(e["type"], ()):
        value = e.get(key)
        if key in TIME_KEYS and isinstance(value, str):
            value = local(value)
        data.append(f"{key}={value}")
    return " | ".join([local(e["at"]), e["type"], e.get("contact") or "-", e.get("flow") or "-", ", ".join(data)])


def staff_lines(doc: dict) -> list[str]:
    """The plan JSON's service levels per staff account, as S lines (account, then SLA)."""
    rows = [(account, sla, c) for sla, accounts in doc["service_levels"].items() for account, c in accounts.items()]
    return [f"{a or '-'} | {sla} | met={c['met']} | late={c['late']} | missed={c['missed']}"
            for a, sla, c in sorted(rows, key=lambda r: (r[0], r[1]))]  # fmt: skip


def metric_line(flow: str, m: dict) -> str:
    return f"{flow} | entered={m['entered']} | goal={m['goal']}"


def field_matches(want: str, got: str) -> bool:
    if want == "*":
        return bool(got)
    if "=*" in want:
        w_items, g_items = want.split(", "), got.split(", ")
        if len(w_items) != len(g_items):
            return False
        for w, g in zip(w_items, g_items, strict=True):
            key = w.split("=", 1)[0]
            if w.endswith("=*") and w == key + "=*":
                if not (g.startswith(key + "=") and len(g) > len(key) + 1):
                    return False
            elif w != g:
                return False
        return True
    return want == got


def line_matches(want: str, got: str) -> bool:
    w, g = want.split(" | "), got.split(" | ")
    return len(w) == len(g) and all(field_matches(a, b) for a, b in zip(w, g, strict=True))


TOUCH_IDENTITY = (2, 3, 5, 6)  # channel, account, flow, step
EVENT_IDENTITY = (1, 2, 3)  # type, contact, flow


def identity(line: str, fields: tuple[int, ...]) -> tuple[str, ...]:
    parts = line.split(" | ")
    return tuple(parts[i] for i in fields)


def compare(expected: list[tuple[str, bool]], actual: list[str], fields: tuple[int, ...]) -> tuple[str, str]:
    """(want, got) texts over the agreed lines: every agreed expected line must match an
    actual line, in order; an actual line no agreed line matches must be stood in for by
    a disputed line of the same identity. Wildcards show as the actual value."""
    used: set[int] = set()
    want: list[str] = []
    for line, disputed in expected:
        if disputed:
            continue
        hit = next((i for i, got in enumerate(actual) if i not in used and line_matches(line, got)), None)
        if hit is None:
            want.append(line)
        else:
            used.add(hit)
            want.append(actual[hit])
    disputes = [identity(line, fields) for line, disputed in expected if disputed]
    got = []
    for i, line in enumerate(actual):
        mine = identity(line, fields)
        stand_in = next((d for d in disputes if all(map(field_matches, d, mine))), None) if i not in used else None
        if stand_in is not None:
            disputes.remove(stand_in)  # the engine's version of a disputed line
            continue
        got.append(line)
    return "\n".join(want) + "\n", "\n".join(got) + "\n"


def event_sort_key(line: str) -> tuple:
    at, kind, contact, flow, *_ = line.split(" | ")
    return (dt.datetime.fromisoformat(at).timestamp(), kind, contact, flow, line)


def plan(name: str, exp: Expected) -> PlanResult:
    d = SCENARIOS / name
    optional = {k: str(d / f) if (d / f).exists() else None
                for k, f in (("accounts", "accounts.csv"), ("events", "events.jsonl"))}  # fmt: skip
    if exp.adapter:
        from playbook.adapters.registry import capabilities_of

        caps = capabilities_of(exp.adapter)
        optional |= {"adapter_limits": caps.limits, "can_dissolve_groups": caps.dissolve_groups}
    return run_plan(PlanInput(paths=[str(d / p) for p in exp.playbooks], contacts=str(d / "contacts.csv"),
                              start=exp.start, days=exp.days, **optional))  # fmt: skip


def actual_lines(result: PlanResult, exp: Expected) -> tuple[list[str], list[str], list[str]]:
    doc = json.loads(to_json(result))  # the stable contract, not the engine's internals
    touches = [touch_line(j) for j in doc["touches"]]
    events = sorted((event_line(e) for e in doc["events"] if e["type"] in exp.event_types), key=event_sort_key)
    flows = [m.split(" | ")[0] for m in exp.metrics]
    metrics = [metric_line(f, result.metrics[f]) if f in result.metrics else f"{f} | (no metrics)" for f in flows]
    return touches, events, metrics


def test_there_are_enough_scenarios() -> None:
    assert len(NAMES) >= 20


def load(name: str) -> tuple[Expected, PlanResult, list[str], list[str], list[str]]:
    exp = read_expected(SCENARIOS / name / "expected.txt")
    result = plan(name, exp)
    assert not result.problems and not result.unknown_contacts, (result.problems, result.unknown_contacts)
    touches, events, metrics = actual_lines(result, exp)
    return exp, result, touches, events, metrics


@pytest.mark.parametrize("name", NAMES)
def test_scenario(name: str) -> None:
    exp, result, touches, events, metrics = load(name)
    want, got = compare(exp.touches, touches, TOUCH_IDENTITY)
    assert got == want, "touches differ"
    if exp.event_types:
        want, got = compare(sorted(exp.events, key=lambda x: event_sort_key(x[0])), events, EVENT_IDENTITY)
        assert got == want, "state events differ"
    assert metrics == exp.metrics, "metrics differ"
    if exp.staff:
        assert staff_lines(json.loads(to_json(result))) == exp.staff, "service levels per staff differ"


def disputed_params() -> list:
    out = []
    for name in NAMES:
        exp = read_expected(SCENARIOS / name / "expected.txt")
        if exp.xfail:
            reason = "engine: " + "; ".join(exp.xfail)
            out.append(pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=reason), id=name))
    return out


@pytest.mark.parametrize("name", disputed_params())
def test_scenario_disputed(name: str) -> None:
    """The lines the engine gets wrong today, as the rules have them."""
    exp, _, touches, events, _ = load(name)
    for line, disputed in exp.touches:
        if disputed:
            assert any(line_matches(line, got) for got in touches), f"no touch like: {line}"
    for line, disputed in exp.events:
        if disputed:
            assert any(line_matches(line, got) for got in events), f"no event like: {line}"
