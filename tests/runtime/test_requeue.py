"""`playbook requeue`: unknown touches back to pending by hand — filtered by --key and
--before, recorded in the store, then sent once by the dispatcher."""

from __future__ import annotations

import json

from click.testing import CliRunner

from playbook.cli.main import cli
from playbook.runtime.dispatch import Dispatcher
from playbook.runtime.rows import Journal, TouchRow
from playbook.runtime.store import Store
from tests.runtime.test_dispatch import Recorder

T0 = 1796086800  # 2026-12-01 09:00 +08:00


def _row(key: str, at: int) -> TouchRow:
    return TouchRow(key=key, version="pb-1", flow="f", step="s", channel="dm", due=at, state="pending", account="a",
                    contact=key, at=at, content="c", text="hi", outcome="ok", next_attempt_at=at)  # fmt: skip


def _unknown(store: Store) -> None:
    """Three touches a crashed daemon left `sending`, reconciled by an adapter that cannot tell."""
    store.save_version({"version": "pb-1", "name": "t", "timezone": "Asia/Shanghai"})
    store.write(Journal(touches=[_row("k1", T0), _row("k2", T0 + 3600), _row("k3", T0 + 7200)]))
    assert len(store.claim_due(T0 + 7200, "crashed")) == 3
    d = Dispatcher(store, Recorder(), owner="new", clock=lambda: T0 + 7200)
    assert d.reconcile().unknown == 3
    d.close()


def _requeue(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--lang", "en", "requeue", "--db", url, *args, "--format", "json"])
    return result.exit_code, result.output


def test_requeue_by_key_and_before_then_sent_once(store: Store, store_url: str) -> None:
    _unknown(store)
    code, out = _requeue(store_url, "--state", "unknown", "--key", "k2")
    assert code == 0, out
    assert json.loads(out) == {"requeued": 1, "keys": ["k2"]}
    code, out = _requeue(store_url, "--state", "unknown", "--before", "2026-12-01T09:30:00+08:00")
    assert json.loads(out)["keys"] == ["k1"]  # k3 was meant for 11:00
    states = {r.key: (r.state, r.error, r.owner) for r in store.touches()}
    assert states["k1"] == ("pending", None, None) and states["k2"] == ("pending", None, None)
    assert states["k3"][0] == "unknown"
    actions = store.ledger_actions()
    assert [(a["action"], a["keys"]) for a in actions] == [("requeue", ["k2"]), ("requeue", ["k1"])]
    assert actions[0]["criteria"] == {"state": "unknown", "before": None, "keys": ["k2"]}
    assert actions[1]["criteria"]["before"] == T0 + 1800 and "pid" in actions[1]["actor"]
    adapter = Recorder()
    d = Dispatcher(store, adapter, owner="daemon")  # requeued ones are due now (the wall clock)
    d.run_once()
    d.run_once()
    d.close()
    assert sorted(k for call in adapter.calls for k in call) == ["k1", "k2"]  # each once, k3 not at all
    code, out = _requeue(store_url, "--state", "unknown", "--key", "k1")
    assert json.loads(out) == {"requeued": 0, "keys": []}  # already sent: nothing to put back


def test_requeue_refuses_a_bad_time(store: Store, store_url: str) -> None:
    _unknown(store)
    result = CliRunner().invoke(cli, ["--lang", "en", "requeue", "--db", store_url, "--state", "unknown",
                                      "--before", "yesterday-ish"])  # fmt: skip
    assert result.exit_code == 1
    assert "--before" in result.output and "Traceback" not in result.output
    assert {r.state for r in store.touches()} == {"unknown"}
