"""Plan equals run across edits at random instants (issue 12): a generated playbook, its
contacts and events (tests/test_engine_properties.py), the daemon run on a fast-forward
clock to a random instant — half the scenarios restarting it at random steps — then a
generated change of the playbook (a content's text, a step added, removed or retimed, a
limit tightened or loosened, a segment changed) saved and reloaded there.

- `plan --db` taken right after the edit (runtime/forecast.py) equals what the daemon
  then decides: the same touches, times, outcomes, reasons and texts;
- the limits hold over the whole run: before the edit each touch that went out was
  within the old limits, after it within the new ones, counting what went out earlier in
  the same period (an edit never resets a count).

`PLAYBOOK_LIVE_CASES` sets the default run's scenarios (CI: 200 — exactly half of them
restarting the daemon at random steps before the edit, half not: one test each); the `slow`
variant runs `PLAYBOOK_LIVE_SLOW_CASES` (1,000, half and half too). Each scenario's store
lives in memory-backed files (/dev/shm where there is one: no fsync per commit); what is
compared is unchanged.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import tempfile
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from playbook.compiler import compile_path
from playbook.runtime.forecast import forecast
from playbook.runtime.store import Store
from playbook.vocab.localtime import LocalTime
from tests.runtime.test_forecast import Daemon, _decided_since, _load_data
from tests.test_engine_properties import DURATIONS, Case, cases, period_of

CASES = int(os.environ.get("PLAYBOOK_LIVE_CASES", "200"))
SLOW_CASES = int(os.environ.get("PLAYBOOK_LIVE_SLOW_CASES", "1000"))
SHM = Path("/dev/shm")
CHANGES = ["content", "step_added", "step_removed", "retimed", "limit", "segment"]
STEP = re.compile(r"^  ((after \S+|at \d\d:\d\d|day \d at \d\d:\d\d): )?(dm|task|tag) ")
TIMING = re.compile(r"(?<=^  )(after \S+|at \d\d:\d\d|day \d at \d\d:\d\d)(?=: )")
LIMIT = re.compile(r"^limit (\S+) (\d+) per (\S+) per (\S+)")
SEGMENT_EDITS = [("spent >= 1000", "spent >= 300"), ("orders >= 1", "orders >= 2"), ('tag "VIP"', 'tag "活跃"'),
                 ("within 3d", "within 1d")]  # fmt: skip


def _journeys(lines: list[str]) -> list[tuple[int, int]]:
    """(first, closing) line numbers of each journey block."""
    out, first = [], None
    for i, line in enumerate(lines):
        if line.startswith("journey "):
            first = i
        elif line == "}" and first is not None:
            out.append((first, i))
            first = None
    return out


@st.composite
def changes(draw: st.DrawFn, source: str) -> tuple[str, str]:
    """A change of the playbook's text: (what kind, the new text)."""
    kind = draw(st.sampled_from(CHANGES))
    lines = source.rstrip("\n").split("\n")
    if kind == "content":
        found = [i for i, line in enumerate(lines) if line.startswith("content ")]
        if not found:
            kind = "step_added"
        else:
            i = draw(st.sampled_from(found))
            lines[i] = lines[i][:-1] + '（新）"'
    if kind == "step_added":
        first, closing = draw(st.sampled_from(_journeys(lines)))
        timing = draw(st.sampled_from(["", "after 1h: ", "at 09:15: ", f"after {draw(st.sampled_from(DURATIONS))}: "]))
        lines.insert(closing, f'  {timing}task "新增步骤:{{name|客户}}"')
    elif kind == "step_removed":
        removable = [i for first, closing in _journeys(lines) for i in range(first, closing) if STEP.match(lines[i])]
        assume(removable)
        del lines[draw(st.sampled_from(removable))]
    elif kind == "retimed":
        timed = [i for i, line in enumerate(lines) if TIMING.search(line)]
        assume(timed)
        i = draw(st.sampled_from(timed))
        new = draw(st.sampled_from([f"after {d}" for d in DURATIONS] + ["at 08:00", "at 20:00", "day 1 at 10:00"]))
        lines[i] = TIMING.sub(new, lines[i], count=1)
    elif kind == "limit":
        found = [i for i, line in enumerate(lines) if LIMIT.match(line)]
        if not found:
            lines.insert(2, "limit dm 1 per contact per day")
        else:
            i = draw(st.sampled_from(found))
            count = int(LIMIT.match(lines[i]).group(2))  # type: ignore[union-attr]
            new = max(1, count + draw(st.sampled_from([-2, -1, 1, 2])))
            lines[i] = LIMIT.sub(lambda m: f"limit {m.group(1)} {new} per {m.group(3)} per {m.group(4)}", lines[i])
    elif kind == "segment":
        old, new = draw(st.sampled_from(SEGMENT_EDITS))
        lines = [line.replace(old, new) if line.startswith("segment ") else line for line in lines]
    changed = "\n".join(lines) + "\n"
    assume(changed != source)
    return kind, changed


def _limits(path: Path) -> dict[tuple[str, str, str], int]:
    result = compile_path(str(path))
    assert result.playbook is not None, result.errors
    return {(x.channel, x.scope, x.period): int(x.count) for x in result.playbook.limits}


def check_limits(store: Store, old: dict, new: dict, split: int, end: int, tz: str) -> None:
    """Every touch that went out was within the limits in force when it did: the old ones
    before the edit, the new ones after, counting the whole period."""
    zone = ZoneInfo(tz)
    went = sorted((r.at, r.key, r.channel, r.account, r.contact) for r in store.touches()
                  if r.outcome in ("ok", "deferred") and r.channel != "tag" and r.at is not None and r.at < end)  # fmt: skip
    for key in {*old, *new}:
        channel, scope, period = key
        counts: Counter[tuple[str, dt.date]] = Counter()
        for at, touch, ch, account, contact in went:
            if channel not in ("any", ch):
                continue
            who = contact if scope == "contact" else account
            if who is None:
                continue
            slot = (who, period_of(dt.datetime.fromtimestamp(at, zone), period))
            counts[slot] += 1
            limit = (old if at < split else new).get(key)
            assert limit is None or counts[slot] <= limit, f"{touch}: {counts[slot]} > {limit} ({key})"


def run_scenario(tmp: Path, case: Case, change: tuple[str, str], where: float, restarts: random.Random | None) -> dict:
    for name, text in (("p.pb", case.source), ("contacts.csv", case.contacts), ("accounts.csv", case.accounts),
                       ("events.jsonl", case.events)):  # fmt: skip
        (tmp / name).write_text(text, encoding="utf-8")
    clock = LocalTime(case.timezone)
    start = clock.instant(dt.datetime.fromisoformat(case.start))
    end = start + case.days * 86400
    split = start + int(where * (end - start))
    store = _load_data(f"sqlite:///{tmp / 'store.db'}", tmp, clock)
    path = tmp / "p.pb"
    old = _limits(path)
    daemon = Daemon(store, [str(path)], tmp / "outbox.jsonl", start)
    daemon.run_until(split, restarts)
    before = {r.key: r.state for r in store.touches()}
    path.write_text(change[1], encoding="utf-8")  # the edit …
    new = _limits(path)
    fc = forecast(store, [str(path)], split, end)  # … `plan --db` right after it …
    daemon.restart(split)  # … and the reload
    daemon.run_until(end)
    daemon.close()
    planned = sorted((x.key, x.at, x.due, x.outcome, x.reason, x.text) for x in fc.touches if x.at < end)
    done = _decided_since(store, before, end)
    assert planned == done
    check_limits(store, old, new, split, end, case.timezone)
    found = {"touches": len(done), "held_at_edit": sum(1 for s in before.values() if s == "held"),
             "judged": sum(1 for row in done if row[3] != "ok")}  # fmt: skip
    store.close()
    return found


def _scenario(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, case: Case, restarting: bool) -> None:
    change = data.draw(changes(case.source), label="change")
    where = data.draw(st.floats(0.05, 0.95), label="edit at")
    seed = data.draw(st.integers(0, 2**15), label="seed") * 2 + restarting  # odd: restarts at random steps
    if SHM.is_dir() and os.access(SHM, os.W_OK):
        with tempfile.TemporaryDirectory(dir=SHM, prefix="playbook-live-") as tmp:
            found = run_scenario(Path(tmp), case, change, where, random.Random(seed) if seed % 2 else None)
    else:
        found = run_scenario(tmp_path_factory.mktemp("live"), case, change, where,
                             random.Random(seed) if seed % 2 else None)  # fmt: skip
    event(f"change: {change[0]}")  # --hypothesis-show-statistics: what the runs covered
    event("restarting at random steps" if seed % 2 else "no restart before the edit")
    event("touches after the edit: " + ("none" if not found["touches"] else "some"))
    event("a touch held at the edit" if found["held_at_edit"] else "nothing held at the edit")
    event("deferred or skipped after the edit" if found["judged"] else "all ok after the edit")


@pytest.mark.parametrize("restarting", [False, True], ids=["no-restart", "restarts"])
@given(cases(), st.data())
@settings(max_examples=CASES // 2, deadline=None, suppress_health_check=list(HealthCheck))
def test_edits_at_random_instants_plan_db_equals_run(tmp_path_factory: pytest.TempPathFactory, restarting: bool,
                                                       case: Case, data: st.DataObject) -> None:  # fmt: skip
    _scenario(tmp_path_factory, data, case, restarting)


@pytest.mark.slow
@pytest.mark.parametrize("restarting", [False, True], ids=["no-restart", "restarts"])
@given(cases(), st.data())
@settings(max_examples=SLOW_CASES // 2, deadline=None, suppress_health_check=list(HealthCheck))
def test_edits_at_random_instants_plan_db_equals_run_slow(tmp_path_factory: pytest.TempPathFactory,
                                                            restarting: bool, case: Case,
                                                            data: st.DataObject) -> None:  # fmt: skip
    _scenario(tmp_path_factory, data, case, restarting)
