"""`plan --db` and `diff --db` on a store with shards (issue 18): each shard forecast from its
own view, as that shard's daemon engine is restored, and the shards put together. On real
PostgreSQL, a 4-shard store filled by real daemon steps (one Decider and Dispatcher per
shard): the forecast equals what the shards' daemons then decide; `plan --db` prints it;
`diff --db` gives what it gives on an equal one-shard store."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from playbook.cli.main import cli
from playbook.runtime import schema
from playbook.runtime.decide import Decider
from playbook.runtime.forecast import forecast
from playbook.runtime.store import Store
from playbook.vocab.model import Event
from playbook.vocab.shards import shard_of
from tests.runtime.test_forecast import CLOCK, DATA, DAY, START, Daemon, _decided_since, _load_data
from tests.runtime.test_plan_equals_run import EXAMPLES

N = 4
ROOT = Path(__file__).resolve().parents[2]
OLD = ROOT / "playbooks" / "new_customer.pb"
DIFF = ROOT / "tests" / "golden" / "diff"
T0 = 1796086800  # 2026-12-01 09:00 +08:00


@pytest.fixture(params=["postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


class Shards:
    """One daemon per shard, each on its shard's view, stepped in the order of their next
    items (as the shards' processes run side by side)."""

    def __init__(self, store: Store, paths: list[str], tmp: Path, now: int) -> None:
        self.daemons = [Daemon(store.view(shard), paths, tmp / f"outbox{shard}.jsonl", now) for shard in range(N)]

    def restart(self, now: int) -> None:
        for daemon in self.daemons:
            daemon.restart(now)

    def run_until(self, end: int, rng: random.Random | None = None) -> None:
        while True:
            due = [(d.decider.next_due(), i) for i, d in enumerate(self.daemons)]
            waiting = [(at, i) for at, i in due if at is not None and at < end]
            if not waiting:
                return
            at, i = min(waiting)
            daemon = self.daemons[i]
            daemon.run_until(min(end, at + 1))
            if rng is not None and rng.random() < 0.1:
                daemon.restart(daemon.now)

    def close(self) -> None:
        for daemon in self.daemons:
            daemon.close()


def _sharded(url: str) -> Store:
    store = _load_data(url, DATA, CLOCK)
    store.record_shards(N)  # the imported contacts and waiting events routed to their shards
    return store


@pytest.mark.parametrize("split_day, restarts", [(2, False), (4, True)])
def test_plan_from_a_sharded_store_equals_what_the_shards_daemons_then_do(
    tmp_path: Path, store_url: str, split_day: int, restarts: bool
) -> None:
    paths = [str(p) for p in EXAMPLES]
    store = _sharded(store_url)
    assert len({shard_of(a, N) for a in ("a1", "a2", "a3")} | {0}) >= 3  # the data spans several shards
    shards = Shards(store, paths, tmp_path, START)
    split, end = START + split_day * DAY + 10 * 3600 + 7 * 60 + 17, START + 14 * DAY
    shards.run_until(split, random.Random(split_day) if restarts else None)
    before = {r.key: r.state for r in store.touches()}
    store.append_events([Event("friend_added", "c900", split - 600, {"account": "a2", "name": "新朋友"}),
                         Event("purchase", "c900", split + 3 * 3600, {"amount": 3200}),
                         Event("message", "c01", split + 600, {})], "cli")  # fmt: skip
    fc = forecast(store, paths, split, end)  # `plan --db` right after the restart below
    assert {r.key: r.state for r in store.touches()} == before  # nothing written
    assert len(fc.engines) == N
    shards.restart(split)
    shards.run_until(end)
    shards.close()
    planned = sorted((x.key, x.at, x.due, x.outcome, x.reason, x.text) for x in fc.touches if x.at < end)
    done = _decided_since(store, before, end)
    assert len(done) > 50
    assert any("c900" in key for key, *_ in done)
    assert planned == done
    # the plan's order: by time, then account, then contact
    assert [(x.at, x.account or "", x.contact or "") for x in fc.touches] == sorted(
        (x.at, x.account or "", x.contact or "") for x in fc.touches
    )
    assert {e.contact for e in fc.inputs} >= {"c900", "c01"}
    # an account-wide post (Moments) is decided by its account's shard only, not by every shard
    with store.database.read() as conn:
        t = schema.touches
        posts = conn.execute(sa.select(t.c.account, t.c.shard).where(t.c.channel == "moment")).all()
    assert posts and all(shard == shard_of(account, N) for account, shard in posts)
    assert {x.account for x in fc.touches if x.channel == "moment"} == {"a1", "a2", "a3"}
    store.close()


def test_plan_db_on_a_sharded_store_prints_every_shard(tmp_path: Path, store_url: str) -> None:
    paths = [str(p) for p in EXAMPLES]
    store = _sharded(store_url)
    shards = Shards(store, paths, tmp_path, START)
    shards.run_until(START + 3 * DAY)
    shards.close()
    fc = forecast(store, [], START + 3 * DAY, START + 5 * DAY)
    store.close()
    accounts = {x.account for x in fc.touches}
    assert len({shard_of(a, N) for a in accounts if a}) >= 2  # touches of several shards' engines
    result = CliRunner().invoke(cli, ["plan", "--db", store_url, "--start", "2026-12-04 00:00", "--days", "2",
                                      "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert [(x["key"], x["outcome"], x["text"]) for x in doc["touches"]] == [
        (x.key, x.outcome, x.text) for x in fc.touches
    ]
    table = CliRunner().invoke(cli, ["plan", "--db", store_url, "--start", "2026-12-04 00:00", "--days", "2"])
    assert table.exit_code == 0, table.output


def _fill(url: str, shards: int) -> None:
    """new_customer.pb, three accounts (on different shards with 4), old customers of each,
    three new friends of each at 09:00, decided up to 09:10 by each shard's Decider."""
    store = Store(url)
    try:
        store.migrate()
        accounts = ["a1", "a2", "a4"]
        store.import_records("accounts", [{"id": a, "name": f"店{a}"} for a in accounts])
        store.import_records("contacts", [{"id": f"old{a}{i}", "name": f"老客{i}", "account": a, "orders": 2}
                                          for a in accounts for i in range(3)])  # fmt: skip
        store.record_shards(shards)
        views = [store] if shards == 1 else [store.view(shard) for shard in range(shards)]
        deciders = [Decider(view, [str(OLD)]) for view in views]
        for decider in deciders:
            decider.load(T0)
        store.append_events([Event("friend_added", f"n{a}{i}", T0, {"account": a, "name": f"新客{i}",
                                                                    "source": "门店二维码"})
                             for a in accounts for i in range(3)], "cli")  # fmt: skip
        for decider in deciders:
            decider.step(T0 + 600)
    finally:
        store.close()


def _diff(new: Path, url: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "playbook", "diff", str(OLD), str(new), "--db", url, "--start",
                           "2026-12-01 09:10", "--days", "3", "--format", "json"], capture_output=True, text=True,
                          cwd=ROOT, env=os.environ, timeout=120)  # fmt: skip
    assert done.returncode in (0, 2), done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("change", ["retime_step", "add_segment_journey"])
def test_diff_db_on_a_sharded_store_equals_one_shard(tmp_path: Path, store_url: str, change: str,
                                                     open_store: Callable[..., Store]) -> None:  # fmt: skip
    assert len({shard_of(a, N) for a in ("a1", "a2", "a4")}) == 3
    one = f"sqlite:///{tmp_path / 'one.db'}"
    _fill(store_url, N)
    _fill(one, 1)
    new = DIFF / change / "new_customer.pb"
    sharded, single = _diff(new, store_url), _diff(new, one)
    assert sharded == single
    assert sharded["in_flight"]["mid_journey"] == 9 if change == "retime_step" else True
    assert sharded["effect"]["counts"] != {"added": 0, "removed": 0, "changed": 0} or change == "retime_step"
