"""The launch gate with shards (issue 18): the first shard engine to load a new version
forecasts the first hour of every shard, so the threshold is judged on the deployment's
touches, not one shard's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from playbook.runtime.approvals import PENDING, parse_policy
from playbook.runtime.decide import Decider
from playbook.runtime.store import Store
from playbook.vocab.shards import shard_of

N = 4
T0 = 1796090400  # 2026-12-01 10:00 +08:00
PLAYBOOK = """playbook "闸门"
timezone "Asia/Shanghai"

segment 意向 = tag "问过价格"
content 跟进 = "{name|亲}，上次问的款到了"

journey 跟进 {
  on enter 意向
  dm 跟进
}
"""


@pytest.fixture(params=["postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def test_the_gate_counts_every_shard(tmp_path: Path, open_store: Callable[..., Store]) -> None:
    found: dict[int, str] = {}
    i = 0
    while len(found) < 2:
        found.setdefault(shard_of(f"acct{i}", N), f"acct{i}")
        i += 1
    (first, a), (second, b) = sorted(found.items())
    (tmp_path / "p.pb").write_text(PLAYBOOK, encoding="utf-8")
    store = open_store()
    store.migrate()
    store.import_records("accounts", [{"id": a, "name": "小美"}, {"id": b, "name": "阿杰"}])
    store.import_records("contacts", [{"id": f"{x}{k}", "account": x, "tags": frozenset({"问过价格"})}
                                      for x in (a, b) for k in range(2)])  # fmt: skip
    store.record_shards(N)
    decider = Decider(store.view(first), [str(tmp_path / "p.pb")], approve=parse_policy("above 3"))
    report = decider.load(T0)
    (row,) = store.approvals()
    assert (row.state, row.touches) == (PENDING, 4)  # 2 in each shard: each alone would not be above 3
    assert report.awaiting == {row.version: 4}
    other = Decider(store.view(second), [str(tmp_path / "p.pb")], approve=parse_policy("above 3"))
    other.load(T0)
    assert [(r.state, r.touches) for r in store.approvals()] == [(PENDING, 4)]  # asked once
