"""`plan --db` (runtime/forecast.py): planned forward from a daemon's store, right after a
restart, it equals what the daemon then decides and sends — the same touches, times,
outcomes, reasons and texts (issue 12, item 2)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from playbook.adapters.capabilities import wecom_limits
from playbook.adapters.jsonl import JsonlAdapter
from playbook.cli.main import cli
from playbook.data.files import read_events
from playbook.runtime.decide import Decider
from playbook.runtime.dispatch import Dispatcher
from playbook.runtime.forecast import forecast
from playbook.runtime.importing import import_files
from playbook.runtime.store import Store
from playbook.vocab.localtime import LocalTime
from playbook.vocab.model import Event
from tests.runtime.test_plan_equals_run import EXAMPLES

DATA = Path(__file__).resolve().parents[2] / "playbooks"
CLOCK = LocalTime("Asia/Shanghai")
START = CLOCK.midnight(CLOCK.date_of(1_796_054_400))  # 2026-12-01 00:00 +08:00
DAY = 86400


class Daemon:
    """The daemon's two halves on a fast-forward clock (as test_plan_equals_run drives them)."""

    def __init__(self, store: Store, paths: list[str], outbox: Path, now: int, limits: tuple = ()):
        self.store, self.paths, self.now, self.limits = store, paths, now, limits
        self.adapter = JsonlAdapter({"path": str(outbox)})
        self.adapter.open()
        self.dispatcher = Dispatcher(store, self.adapter, owner="test", clock=lambda: self.now, workers=1)
        self.restart(now)

    def restart(self, now: int) -> None:
        self.now = now
        self.decider = Decider(self.store, self.paths, shared_limits=self.limits)
        self.decider.load(now)
        self.decider.step(now)  # as the real loop's first turn: events logged meanwhile are taken in
        while self.dispatcher.run_once(now).claimed:
            pass

    def run_until(self, end: int, rng: random.Random | None = None) -> None:
        while (due := self.decider.next_due()) is not None and due < end:
            self.now = max(self.now, due)
            self.decider.step(self.now)
            while self.dispatcher.run_once(self.now).claimed:
                pass
            if rng is not None and rng.random() < 0.2:
                self.restart(self.now)

    def close(self) -> None:
        self.dispatcher.close()
        self.adapter.close()


def _load_data(url: str, folder: Path, clock: LocalTime) -> Store:
    """A migrated store with the folder's accounts.csv, contacts.csv and events.jsonl imported."""
    store = Store(url)
    store.migrate()
    import_files(store, [str(folder / "accounts.csv")], "accounts", clock)
    import_files(store, [str(folder / "contacts.csv")], "contacts", clock)
    events, problems = read_events(str(folder / "events.jsonl"), clock)
    assert not problems
    store.append_events(sorted(events, key=lambda e: (e.at, e.seq)), "file")
    return store


def _decided_since(store: Store, before: dict[str, str], end: int) -> list[tuple]:
    """Ledger rows decided after the snapshot `before` (key → state): new rows, and rows
    that were held then; each as (key, at, due, outcome, reason, text)."""
    rows = []
    for r in store.touches():
        if r.channel == "tag" or r.state == "held" or r.at is None or r.at >= end:
            continue
        if r.key not in before or before[r.key] == "held":
            rows.append((r.key, r.at, r.due, r.outcome, r.reason, r.text))
    return sorted(rows)


@pytest.mark.parametrize("split_day, restarts, quota", [(2, False, False), (5, True, False), (3, True, True)])
def test_plan_from_the_store_after_a_restart_equals_what_the_daemon_then_does(
    tmp_path: Path, store_url: str, split_day: int, restarts: bool, quota: bool
) -> None:
    paths = [str(p) for p in EXAMPLES]
    store = _load_data(store_url, DATA, CLOCK)
    limits = wecom_limits() if quota else ()  # WeCom's per-customer quota, shared by every playbook
    daemon = Daemon(store, paths, tmp_path / "outbox.jsonl", START, limits)
    split, end = START + split_day * DAY + 10 * 3600 + 7 * 60 + 17, START + 14 * DAY
    daemon.run_until(split, random.Random(split_day) if restarts else None)
    before = {r.key: r.state for r in store.touches()}
    # events logged while the daemon was down: both the plan and the restarted daemon take them in
    store.append_events([Event("friend_added", "c900", split - 600, {"account": "a1", "name": "新朋友"}),
                         Event("purchase", "c900", split + 3 * 3600, {"amount": 3200}),
                         Event("message", "c01", split + 600, {})], "cli")  # fmt: skip
    fc = forecast(store, paths, split, end, shared_limits=limits)  # `plan --db` right after the restart below
    assert store.touches() and {r.key: r.state for r in store.touches()} == before  # nothing written
    daemon.restart(split)
    daemon.run_until(end)
    daemon.close()
    planned = sorted((x.key, x.at, x.due, x.outcome, x.reason, x.text) for x in fc.touches if x.at < end)
    done = _decided_since(store, before, end)
    assert len(done) > 50  # the examples keep sending after the split: the comparison means something
    assert any("c900" in key for key, *_ in done)  # the new contact was greeted
    assert planned == done
    store.close()


def test_plan_db_prints_the_plan_json_contract(tmp_path: Path, store_url: str) -> None:
    paths = [str(p) for p in EXAMPLES]
    store = _load_data(store_url, DATA, CLOCK)
    daemon = Daemon(store, paths, tmp_path / "outbox.jsonl", START)
    daemon.run_until(START + 3 * DAY)
    daemon.close()
    fc = forecast(store, [], START + 3 * DAY, START + 5 * DAY)  # without paths: the versions the store runs
    store.close()
    result = CliRunner().invoke(cli, ["plan", "--db", store_url, "--start", "2026-12-04 00:00", "--days", "2",
                                      "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert set(doc) >= {"touches", "events", "metrics", "summary"} or set(doc) >= {"touches", "events", "metrics"}
    assert sorted((x["key"], x["outcome"], x["text"]) for x in doc["touches"]) == sorted(
        (x.key, x.outcome, x.text) for x in fc.touches
    )
    assert doc["touches"]
    table = CliRunner().invoke(cli, ["plan", "--db", store_url, "--start", "2026-12-04 00:00", "--days", "2"])
    assert table.exit_code == 0, table.output
    wrong = CliRunner().invoke(cli, ["plan", "--db", store_url, "--contacts", "x.csv"])
    assert wrong.exit_code == 2 and "--contacts" in wrong.output
