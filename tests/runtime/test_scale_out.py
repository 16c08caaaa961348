"""Scale-out with real processes (issue 18): three daemons on one PostgreSQL store share its
shards; the union of their outboxes equals the plan — every touch the plan lets go, with its
time, text and recipients, once, and nothing else.

The bundled examples run over a generated population (bench/population.py, its accounts
spread over a dozen staff accounts so the shards all have work), its events moved into the
window the test runs, and 40 of its contacts moved to another staff account meanwhile (most
to another shard's: handed over between processes). The daemons are real `playbook run` processes (tests/runtime/fastrun.py)
whose engine clock stands at the plan's start until they have shared the shards, then runs
12 times faster (leases keep the wall clock), and stops moving before they are stopped, so
what each decided and sent up to that instant is complete. The examples' timezone is set to
one where the window falls in the daytime, so quiet hours do not hold everything back.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from playbook.data.files import read_events
from playbook.plan.jsonwriter import to_json
from playbook.plan.run import PlanInput, run_plan
from playbook.runtime import schema
from playbook.runtime.importing import import_files
from playbook.runtime.store import Store
from playbook.vocab.localtime import LocalTime
from playbook.vocab.shards import ranges, shard_of
from tests.runtime.processes import read_jsonl, wait, write_jsonl_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT.parent / "shared" / "examples").glob("*.pb")) or sorted(
    (ROOT / "playbooks").glob(n) for n in ("new_customer.pb", "moments_and_service.pb", "presale_group.pb")
)
SHARDS = 8
PROCESSES = 3
ACCOUNTS = 12
SPEED = 12.0  # simulated seconds per wall-clock second once the shards are shared: a loop may lag 5 s before catch-up (late_after = 60 simulated s) would run items "now"
RUN = 50.0  # wall-clock seconds the clock runs: 10 simulated minutes
MOVES = 40  # contacts whose account changes during the run
SETTLE = 60.0  # wall-clock seconds the processes may take to start and share the shards (their clocks stand still)


@pytest.fixture(params=["postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def _zone_for_morning(t0: int) -> str:
    """An Etc/GMT zone where `t0` falls at 10 o'clock (daytime in every example's quiet hours)."""
    hour = dt.datetime.fromtimestamp(t0, dt.UTC).hour
    offset = (10 - hour + 12) % 24 - 12  # in -12 … 11
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def _account(cid: str) -> str:
    return f"s{zlib.crc32(cid.encode()) % ACCOUNTS:02d}"


def _population(tmp: Path, t0: int) -> tuple[Path, Path, Path]:
    """A generated population with its accounts spread over ACCOUNTS staff and three days of
    its events squeezed, in order, into the simulated window."""
    sys.path.insert(0, str(ROOT / "bench"))
    import population

    source = tmp / "population"
    population.generate(source, 6000)
    accounts = tmp / "accounts.csv"
    accounts.write_text("id,name\n" + "".join(f"s{i:02d},员工{i:02d}\n" for i in range(ACCOUNTS)), encoding="utf-8")
    contacts = tmp / "contacts.csv"
    with (
        (source / "contacts.csv").open(encoding="utf-8", newline="") as src,
        contacts.open("w", encoding="utf-8", newline="") as out,
    ):
        rows = list(csv.reader(src))
        column = rows[0].index("account")
        writer = csv.writer(out)
        writer.writerow(rows[0])
        for row in rows[1:]:
            row[column] = _account(row[0])
            writer.writerow(row)
    first = population.START_TS + 10 * 3600
    span = 3 * 86400
    window = int(RUN * SPEED) - 120  # the events end two simulated minutes before the clock stops
    events = tmp / "events.jsonl"
    lines = []
    for line in (source / "events.jsonl").read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        at = int(dt.datetime.fromisoformat(event["at"]).timestamp())
        if not first <= at < first + span:
            continue
        moved = t0 + 10 + (at - first) * window // span
        event["at"] = dt.datetime.fromtimestamp(moved, dt.UTC).isoformat()
        if "account" in event:
            event["account"] = _account(event["contact"])
        lines.append(json.dumps(event, ensure_ascii=False) + "\n")
    # contacts moving to another staff account (most to another shard's): handed over between shards
    rng = random.Random(18)
    known = sorted({json.loads(line)["contact"] for line in lines})
    for cid in rng.sample(known, MOVES):
        at = t0 + 10 + rng.randrange(window)
        moved = {"type": "contact_updated", "contact": cid, "at": dt.datetime.fromtimestamp(at, dt.UTC).isoformat(),
                 "account": f"s{(int(_account(cid)[1:]) + 1 + rng.randrange(ACCOUNTS - 1)) % ACCOUNTS:02d}"}  # fmt: skip
        lines.append(json.dumps(moved, ensure_ascii=False) + "\n")
    events.write_text("".join(lines), encoding="utf-8")
    return accounts, contacts, events


def _moved(events: Path) -> dict[str, str]:
    """The contacts the events move to another account: contact → the account it had."""
    moved = {}
    for line in events.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if event["type"] == "contact_updated" and "account" in event:
            moved[event["contact"]] = _account(event["contact"])
    return moved


def _start(tmp: Path, index: int, url: str, paths: list[str], env: dict[str, str]) -> subprocess.Popen:
    outbox = tmp / f"outbox{index}.jsonl"
    config = write_jsonl_config(tmp / f"p{index}.toml", url, outbox, shards=SHARDS, lease=2, tick=0.05,
                                approve="never")  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "tests.runtime.fastrun", str(config), *paths],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(tmp / f"p{index}.log").open("wb"),
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
    )


def _row(d: dict[str, Any]) -> tuple:
    def instant(text: str) -> int:
        return int(dt.datetime.fromisoformat(text).timestamp())

    audience = d.get("audience")
    return (instant(d["at"]), instant(d["due"]), d["channel"], d.get("account"), d.get("contact"), d.get("group"),
            d["flow"], d["step"], d["text"], sorted(audience) if audience is not None else None)  # fmt: skip


def test_three_processes_outboxes_equal_the_plan(tmp_path: Path, store_url: str) -> None:
    t0 = int(time.time()) + 60  # the plan's start; the engines stand there until the test says go
    zone = _zone_for_morning(t0)
    paths = []
    for example in EXAMPLES:
        text = example.read_text(encoding="utf-8")
        assert 'timezone "Asia/Shanghai"' in text
        copy = tmp_path / example.name
        copy.write_text(text.replace('timezone "Asia/Shanghai"', f'timezone "{zone}"'), encoding="utf-8")
        paths.append(str(copy))
    accounts, contacts, events = _population(tmp_path, t0)
    clock = LocalTime(zone)

    store = Store(store_url)
    store.migrate()
    import_files(store, [str(accounts)], "accounts", clock)
    import_files(store, [str(contacts)], "contacts", clock)
    logged, problems = read_events(events, clock)
    assert not problems and len(logged) > 300
    store.append_events(sorted(logged, key=lambda e: (e.at, e.seq)), "file")

    go, freeze = tmp_path / "go", tmp_path / "freeze"
    env = {"FAST_T0": str(t0), "FAST_GO": str(go), "FAST_SPEED": str(SPEED), "FAST_FREEZE": str(freeze)}
    procs = [_start(tmp_path, i, store_url, paths, env) for i in range(PROCESSES)]
    try:

        def shared() -> bool:
            """Every process holds its share (ceil(8 / 3): 3, 3, 2) and has restored those shards'
            engines (its log says so), and every shard's engine has started."""
            rows = store.lease_rows()
            held: dict[int, list[int]] = {}
            for r in rows:
                if r.owner is not None:
                    held.setdefault(r.pid, []).append(r.shard)
            if sorted(map(len, held.values())) != [2, 3, 3]:
                return False
            for i, proc in enumerate(procs):
                said = re.findall(r"holding shards (\S+) of", (tmp_path / f"p{i}.log").read_text(errors="replace"))
                if not said or said[-1] != ranges(held.get(proc.pid, [])):
                    return False
            with store.database.read() as conn:
                es = schema.engine_state
                return conn.execute(sa.select(sa.func.count()).where(es.c.name == "clock")).scalar_one() == SHARDS

        wait(shared, timeout=SETTLE)
        w0 = time.time()
        go.write_text(str(w0))  # the clocks start
        time.sleep(RUN)
        stop_at = time.time()
        freeze.write_text(str(stop_at))  # the clocks stop: what is due up to then is decided and sent
        frozen = t0 + (stop_at - w0) * SPEED

        def caught_up() -> bool:
            """Every shard decided what is due up to the frozen instant — its engine's clock in
            the store reached it, or nothing of it is due by then (no timeline item, event or
            forward waiting: an idle shard's skipped turns write nothing) — and sent it."""
            with store.database.read() as conn:
                es, ti, ev, fw = schema.engine_state, schema.timers, schema.events, schema.forwards
                clocks = dict(conn.execute(sa.select(es.c.shard, es.c.value).where(es.c.name == "clock")).all())
                waiting = {*conn.execute(sa.select(ti.c.shard).where(ti.c.due <= int(frozen))).scalars(),
                           *conn.execute(sa.select(ev.c.shard).where(ev.c.status == "new")).scalars(),
                           *conn.execute(sa.select(fw.c.shard)).scalars()}  # fmt: skip
                due = conn.execute(sa.select(sa.func.count()).select_from(schema.touches).where(
                    schema.touches.c.state.in_(("pending", "sending")), schema.touches.c.next_attempt_at <= frozen
                )).scalar_one()  # fmt: skip
            done = all(clock["now"] >= int(frozen) or shard not in waiting for shard, clock in clocks.items())
            return len(clocks) == SHARDS and done and due == 0

        wait(caught_up, timeout=60)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        codes = [proc.wait(timeout=60) for proc in procs]
    logs = [(tmp_path / f"p{i}.log").read_text(encoding="utf-8", errors="replace") for i in range(PROCESSES)]
    assert codes == [0] * PROCESSES, logs
    assert all("holding shards" in log for log in logs), logs
    assert "Traceback" not in "".join(logs), logs

    with store.database.read() as conn:
        es = schema.engine_state
        starts = {v["start"] for v in conn.execute(sa.select(es.c.value).where(es.c.name == "clock")).scalars()}
    assert starts == {t0}, "every shard's engine started at the plan's start"
    with store.database.read() as conn:
        co = schema.contacts
        placed = {
            cid: (account, shard) for cid, account, shard in conn.execute(sa.select(co.c.id, co.c.account, co.c.shard))
        }
    assert all(
        shard == shard_of(account, SHARDS) for account, shard in placed.values()
    )  # every contact in its account's shard
    handed = [cid for cid, old in _moved(events).items() if cid in placed and shard_of(old, SHARDS) != placed[cid][1]]
    assert len(handed) >= 10, "contacts were handed over between shards"
    sent = [d for i in range(PROCESSES) for d in read_jsonl(tmp_path / f"outbox{i}.jsonl")]
    keys = [d["key"] for d in sent]
    assert len(keys) == len(set(keys)), "a touch was sent twice"
    assert sum(1 for i in range(PROCESSES) if read_jsonl(tmp_path / f"outbox{i}.jsonl")) >= 2  # work was shared

    result = run_plan(PlanInput(paths=paths, contacts=str(contacts), accounts=str(accounts), events=str(events),
                                start=dt.datetime.fromtimestamp(t0, clock.tz).isoformat(), days=1))  # fmt: skip
    assert not result.problems, result.problems
    doc = json.loads(to_json(result))
    went = [t for t in doc["touches"] if t["outcome"] != "skipped" and _row(t)[0] <= frozen]
    assert len(went) > 50  # the comparison means something
    got, want = sorted(map(_row, sent), key=repr), sorted(map(_row, went), key=repr)
    assert got == want, ([r for r in got if r not in want], [r for r in want if r not in got])
    store.close()
