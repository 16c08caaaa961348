"""`playbook diff OLD NEW --db URL`: the effect of a change against a daemon's store as it is
now (runtime/forecast.py, as `plan --db`): contacts mid-journey finish the version they
entered (and how many `run --migrate` would move), touches added/removed/changed from now on,
the first-hour burst of a journey that enters everyone already in a segment. SQLite and
PostgreSQL, the store filled by the daemon's own Decider."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from playbook.runtime.decide import Decider
from playbook.runtime.store import Store
from playbook.vocab.model import Event

ROOT = Path(__file__).resolve().parents[2]
OLD = ROOT / "playbooks" / "new_customer.pb"
DIFF = ROOT / "tests" / "golden" / "diff"
T0 = 1796086800  # 2026-12-01 09:00 +08:00


def _store(url: str) -> None:
    """Three new friends at 09:00 under new_customer.pb (its current version), decided up to
    09:10: the welcome dm is out, each is waiting for day 1's 品牌故事; 8 contacts bought before."""
    store = Store(url)
    try:
        store.migrate()
        store.import_records("accounts", [{"id": "a1", "name": "小美"}])
        store.import_records("contacts", [{"id": f"old{i}", "name": f"老客{i}", "account": "a1", "orders": 2}
                                          for i in range(8)])  # fmt: skip
        decider = Decider(store, [str(OLD)])
        decider.load(T0)
        store.append_events([Event("friend_added", f"n{i}", T0, {"account": "a1", "name": f"新客{i}",
                                                                 "source": "门店二维码"}) for i in range(3)], "cli")  # fmt: skip
        decider.step(T0 + 600)
    finally:
        store.close()


def _diff(new: Path, url: str, *extra: str) -> tuple[int, dict]:
    done = subprocess.run([sys.executable, "-m", "playbook", "diff", str(OLD), str(new), "--db", url, "--start",
                           "2026-12-01 09:10", "--days", "3", "--format", "json", *extra], capture_output=True,
                          text=True, cwd=ROOT, env=os.environ, timeout=120)  # fmt: skip
    assert done.returncode in (0, 2), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_a_retimed_step_leaves_contacts_mid_journey_on_their_version(store_url: str) -> None:
    _store(store_url)
    code, doc = _diff(DIFF / "retime_step" / "new_customer.pb", store_url)
    # They finish the version they entered: day 1 at 10:00 as before, nothing sent changes.
    assert doc["in_flight"] == {"mid_journey": 3, "by_journey": {"新客培育": 3}, "would_move": 3}
    assert doc["effect"]["counts"] == {"added": 0, "removed": 0, "changed": 0}
    assert doc["effect"]["sent"]["old"] == doc["effect"]["sent"]["new"] >= 3
    assert code == 0


def test_a_segment_journey_added_shows_its_first_hour_burst(store_url: str) -> None:
    _store(store_url)
    code, doc = _diff(DIFF / "add_segment_journey" / "new_customer.pb", store_url)
    assert code == 2
    assert doc["effect"]["first_hour"]["new"] == {"dm": 8} and doc["effect"]["first_hour"]["old"] == {}
    assert doc["effect"]["by_journey"] == [{"flow": "老客问候", "channel": "dm", "added": 8, "removed": 0,
                                            "changed": 0}]  # fmt: skip


def test_the_store_is_not_written(store_url: str) -> None:
    _store(store_url)
    store = Store(store_url)
    try:
        before = ([v.version for v in store.versions()], store.status().touches)
        _diff(DIFF / "add_segment_journey" / "new_customer.pb", store_url)
        assert ([v.version for v in store.versions()], store.status().touches) == before
    finally:
        store.close()
