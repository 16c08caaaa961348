"""Dispatch: claim → batch → adapter → settle, retries with backoff, dead letters, and
reconciling what a crash left `sending` — on both store backends."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from playbook.adapters.base import (
    ABSENT,
    DEAD,
    FAILED,
    SENT,
    Adapter,
    Delivery,
    PermanentError,
    Receipt,
    Result,
    TransientError,
)
from playbook.adapters.capabilities import EVERYWHERE, Capabilities
from playbook.runtime.dispatch import CRASHED, Dispatcher, RetryPolicy, batches
from playbook.runtime.rows import Journal, TouchRow
from playbook.runtime.store import Store

T0 = 1_796_000_000


def row(key: str, *, account: str = "a1", content: str | None = "欢迎", at: int = T0, channel: str = "dm",
        text: str = "hi") -> TouchRow:  # fmt: skip
    return TouchRow(key=key, version="pb-1", flow="f", step="s", channel=channel, due=at, state="pending",
                    account=account, contact=key, at=at, content=content, text=text, outcome="ok",
                    next_attempt_at=at)  # fmt: skip


class Recorder(Adapter):
    """Answers from a script: per call, a status for each delivery or an exception."""

    name = "recorder"

    def __init__(self, script: Sequence[object] = (), batch_size: int = 100, idempotent: bool = False):
        super().__init__()
        self.calls: list[list[str]] = []
        self.script = list(script)
        self.capabilities = Capabilities(parts=EVERYWHERE, batch_size=batch_size)  # type: ignore[misc]
        self.idempotent = idempotent  # type: ignore[misc]
        self.known: dict[str, Result] = {}

    def send(self, batch: Sequence[Delivery]) -> list[Result]:
        self.calls.append([d.key for d in batch])
        step = self.script.pop(0) if self.script else SENT
        if isinstance(step, Exception):
            raise step
        if step == "partial":  # the first delivery gets no result
            return [Result(d.key, SENT) for d in batch[1:]]
        return [Result(d.key, str(step), None if step == SENT else f"{step} by the platform") for d in batch]

    def reconcile(self, deliveries: Sequence[Delivery]) -> list[Result]:
        return [self.known[d.key] for d in deliveries if d.key in self.known]


@pytest.fixture
def ledger(store: Store) -> Store:
    store.save_version({"version": "pb-1", "name": "t"})
    return store


def put(store: Store, *rows: TouchRow) -> None:
    store.write(Journal(touches=list(rows)))


def states(store: Store) -> dict[str, str]:
    return {r.key: r.state for r in store.touches()}


def test_touches_of_one_account_content_and_instant_go_as_one_batch() -> None:
    rows = [row(f"k{i}") for i in range(5)] + [row("x", account="a2"), row("y", content="别的"),
                                                row("z", at=T0 + 60), row("t1", content=None, text="跟进")]  # fmt: skip
    groups = [[r.key for r in g] for g in batches(rows, 2)]
    # ordered by (account, channel, content or task text, instant); at most 2 to a batch
    assert groups == [["y"], ["k0", "k1"], ["k2", "k3"], ["k4"], ["z"], ["t1"], ["x"]]


def test_a_round_sends_due_rows_in_batches_and_records_them(ledger: Store) -> None:
    put(ledger, *[row(f"k{i}") for i in range(5)], row("later", at=T0 + 3600))
    adapter = Recorder(batch_size=3)
    d = Dispatcher(ledger, adapter, owner="me", clock=lambda: T0, workers=2)
    report = d.run_once(T0)
    d.close()
    assert (report.claimed, report.sent, report.calls) == (5, 5, 2)
    assert sorted(map(len, adapter.calls)) == [2, 3]
    assert states(ledger) == {**{f"k{i}": "sent" for i in range(5)}, "later": "pending"}
    assert all(x == 0 for x in report.lateness)


def test_transient_failures_retry_with_backoff_then_succeed(ledger: Store) -> None:
    put(ledger, row("k"))
    now = [T0]
    adapter = Recorder([TransientError("timeout", retry_after=30), FAILED, SENT])
    d = Dispatcher(ledger, adapter, owner="me", clock=lambda: now[0], rng=random.Random(1),
                   retry=RetryPolicy(max_attempts=5, backoff=10, backoff_cap=100))  # fmt: skip
    d.run_once()
    (r,) = ledger.touches()
    assert (r.state, r.attempts, r.error) == ("failed", 1, "timeout")
    assert r.next_attempt_at is not None and r.next_attempt_at >= T0 + 30  # the platform's Retry-After
    assert d.run_once().claimed == 0  # not before its time
    now[0] = r.next_attempt_at
    d.run_once()
    (r,) = ledger.touches()
    assert (r.state, r.attempts) == ("failed", 2)
    assert r.next_attempt_at is not None and r.next_attempt_at <= now[0] + 20 + 1  # backoff·2^(2-1), jittered
    now[0] = r.next_attempt_at
    d.run_once()
    d.close()
    assert states(ledger) == {"k": "sent"}
    assert len(adapter.calls) == 3


def test_out_of_attempts_or_permanent_errors_become_dead_letters(ledger: Store) -> None:
    put(ledger, row("a"), row("b", account="a2"))
    adapter = Recorder([FAILED, PermanentError("40003 invalid userid")])
    d = Dispatcher(ledger, adapter, owner="me", clock=lambda: T0, workers=1,
                   retry=RetryPolicy(max_attempts=1))  # fmt: skip
    d.run_once()
    d.close()
    rows = {r.key: r for r in ledger.touches()}
    assert rows["a"].state == rows["b"].state == "dead"
    assert rows["a"].error == "gave up after 1 attempts: failed by the platform"
    assert rows["b"].error == "40003 invalid userid"


def test_an_adapter_bug_or_a_missing_result_is_retried_not_lost(ledger: Store) -> None:
    put(ledger, row("a"), row("b"))
    adapter = Recorder([ValueError("boom")])
    d = Dispatcher(ledger, adapter, owner="me", clock=lambda: T0, retry=RetryPolicy(backoff=0.001))
    d.run_once()
    assert {r.key: (r.state, r.error) for r in ledger.touches()} == {
        "a": ("failed", "ValueError: boom"),
        "b": ("failed", "ValueError: boom"),
    }
    adapter.script = ["partial"]
    d.run_once(T0 + 1)
    d.close()
    got = {r.key: (r.state, r.error) for r in ledger.touches()}
    assert got == {"a": ("failed", "the adapter returned no result for it"), "b": ("sent", None)}


def test_a_dead_result_for_one_delivery(ledger: Store) -> None:
    put(ledger, row("a"))
    d = Dispatcher(ledger, Recorder([DEAD]), owner="me", clock=lambda: T0)
    d.run_once()
    d.close()
    assert [(r.state, r.error) for r in ledger.touches()] == [("dead", "dead by the platform")]


def _crashed(ledger: Store) -> None:
    """Rows a dead process claimed and never settled."""
    put(ledger, row("known"), row("lost"))
    assert len(ledger.claim_due(T0, "dead-process")) == 2


def test_reconcile_asks_the_adapter_and_marks_the_rest_unknown(ledger: Store) -> None:
    _crashed(ledger)
    adapter = Recorder()
    adapter.known["known"] = Result("known", SENT, ref="msg-1")
    d = Dispatcher(ledger, adapter, owner="me", clock=lambda: T0)
    report = d.reconcile()
    d.close()
    assert (report.sent, report.unknown, report.resent) == (1, 1, 0)
    rows = {r.key: r for r in ledger.touches()}
    assert (rows["known"].state, rows["known"].adapter_ref) == ("sent", "msg-1")
    assert (rows["lost"].state, rows["lost"].error) == ("unknown", CRASHED)
    assert adapter.calls == []  # never re-sent blindly


def test_at_least_once_resends_only_for_an_adapter_that_deduplicates(ledger: Store) -> None:
    _crashed(ledger)
    d = Dispatcher(ledger, Recorder(idempotent=False), owner="me", clock=lambda: T0, at_least_once=True)
    assert d.reconcile().unknown == 2  # the switch is ignored for an adapter that does not deduplicate
    d.close()


def test_at_least_once_with_an_idempotent_adapter(ledger: Store) -> None:
    _crashed(ledger)
    adapter = Recorder(idempotent=True)
    d = Dispatcher(ledger, adapter, owner="me", clock=lambda: T0, at_least_once=True)
    assert d.reconcile().resent == 2
    d.run_once()
    d.close()
    assert states(ledger) == {"known": "sent", "lost": "sent"}


def test_the_adapters_own_throttle_puts_a_touch_off_without_using_an_attempt(ledger: Store) -> None:
    put(ledger, row("a"))
    adapter = Recorder(["later"])
    d = Dispatcher(ledger, adapter, owner="me", clock=lambda: T0, retry=RetryPolicy(max_attempts=1))
    report = d.run_once()
    (r,) = ledger.touches()
    assert (report.later, r.state, r.attempts, r.next_attempt_at) == (1, "pending", 0, T0 + 2)
    d.run_once(T0 + 2)  # with max_attempts=1 a counted attempt would have made it dead
    d.close()
    assert states(ledger) == {"a": "sent"}


class Confirming(Recorder):
    gives_receipts = True

    def __init__(self) -> None:
        super().__init__()
        self.confirmed: dict[str, int] = {}
        self.asked: list[list[str]] = []

    def send(self, batch: Sequence[Delivery]) -> list[Result]:
        return [Result(d.key, SENT, ref=f"msg-{d.key}") for d in batch]

    def receipts(self, deliveries: Sequence[Delivery]) -> list[Receipt]:
        self.asked.append([f"{d.key}:{d.ref}" for d in deliveries])
        return [Receipt(d.key, "confirmed", self.confirmed[d.key]) for d in deliveries if d.key in self.confirmed]


def test_receipts_are_asked_for_until_the_platform_reports_or_the_horizon_passes(ledger: Store) -> None:
    put(ledger, row("a"), row("b"))
    adapter = Confirming()
    now = [float(T0)]
    d = Dispatcher(ledger, adapter, owner="me", clock=lambda: now[0])
    d.run_once()
    adapter.confirmed["a"] = T0 + 600
    assert d.collect_receipts(horizon=3600) == 1
    assert adapter.asked == [["a:msg-a", "b:msg-b"]]
    got = {r.key: (r.receipt, r.receipt_at) for r in ledger.touches()}
    assert got == {"a": ("confirmed", T0 + 600), "b": (None, None)}
    now[0] = T0 + 7200  # past the horizon, counted from when the touch went out
    assert d.collect_receipts(horizon=3600) == 1
    d.close()
    assert {r.key: r.receipt for r in ledger.touches()} == {"a": "confirmed", "b": "unconfirmed"}
    assert adapter.asked[-1] == ["b:msg-b"]  # a is not asked about again


def test_a_round_claims_a_full_adapter_batch_by_default(ledger: Store) -> None:
    put(ledger, *[row(f"k{i:04}") for i in range(1200)])
    adapter = Recorder(batch_size=1000)
    d = Dispatcher(ledger, adapter, owner="me", clock=lambda: T0)
    assert d.batch == 1000  # the adapter's batch size (at least 500)
    report = d.run_once()
    d.close()
    assert (report.claimed, report.calls) == (1000, 1)
    # no more than the round's calls take at once: a crash leaves at most that many `sending`
    assert Dispatcher(ledger, Recorder(batch_size=1), owner="x").batch == 4  # 4 workers × 1
    assert Dispatcher(ledger, Recorder(batch_size=100), owner="x", workers=2).batch == 200
    assert Dispatcher(ledger, Recorder(batch_size=200), owner="x", workers=4).batch == 500


def test_receipts_are_asked_for_page_by_page_so_none_starves(ledger: Store) -> None:
    put(ledger, *[row(f"k{i}") for i in range(5)])
    adapter = Confirming()
    d = Dispatcher(ledger, adapter, owner="me", clock=lambda: T0)
    d.run_once()
    for _ in range(3):
        d.collect_receipts(limit=2, horizon=10**9)
    d.close()
    pages = [[x.split(":")[0] for x in page] for page in adapter.asked]
    assert pages[0] != pages[1]  # the second call does not ask about the first page again
    assert sorted(k for page in pages[:3] for k in page) == ["k0", "k1", "k2", "k3", "k4"]


def test_reconcile_puts_what_the_adapter_proves_absent_back_to_pending(ledger: Store) -> None:
    _crashed(ledger)
    adapter = Recorder()
    adapter.known["known"] = Result("known", SENT)
    adapter.known["lost"] = Result("lost", ABSENT)  # the platform never got it
    d = Dispatcher(ledger, adapter, owner="me", clock=lambda: T0)
    report = d.reconcile()
    assert (report.sent, report.absent, report.unknown) == (1, 1, 0)
    lost = ledger.touches(keys=["lost"])[0]
    assert (lost.state, lost.attempts, lost.owner) == ("pending", 0, None)  # the claim's attempt undone
    d.run_once()
    d.close()
    assert adapter.calls == [["lost"]]  # sent once, now
    assert states(ledger) == {"known": "sent", "lost": "sent"}


def test_reconcile_leaves_the_rows_of_its_own_owner(ledger: Store) -> None:
    put(ledger, row("mine"))
    ledger.claim_due(T0, "me")
    d = Dispatcher(ledger, Recorder(), owner="me", clock=lambda: T0)
    assert d.reconcile() == type(d.reconcile())()  # nothing: a live process's own calls are not a crash's
    d.close()
    assert states(ledger) == {"mine": "sending"}


def test_each_call_is_settled_as_it_returns_and_uncalled_rows_go_back(ledger: Store) -> None:
    put(ledger, *[row(f"k{i}", account=f"a{i}") for i in range(4)])  # four calls (one account each)
    seen: list[list[str]] = []
    allowed = [2]

    def guard() -> None:  # the lease check before each call: the third call is refused
        if not allowed[0]:
            raise RuntimeError("lease lost")
        allowed[0] -= 1

    class Watching(Recorder):
        def send(self, batch: Sequence[Delivery]) -> list[Result]:
            seen.append([r.state for r in ledger.touches()])  # the ledger as each call starts
            return super().send(batch)

    adapter = Watching()
    d = Dispatcher(ledger, adapter, owner="me", clock=lambda: T0, workers=1, guard=guard)
    assert d.batch == 100  # 1 worker × 100: all four rows claimed in one round
    with pytest.raises(RuntimeError, match="lease lost"):
        d.run_once()
    assert seen[1].count("sent") == 1  # the first call was settled before the second began
    assert states(ledger) == {"k0": "sent", "k1": "sent", "k2": "sending", "k3": "sending"}
    allowed[0] = 10
    d.run_once()  # first the claimed rows that were never sent go back to pending, then they go out
    d.close()
    assert states(ledger) == dict.fromkeys(["k0", "k1", "k2", "k3"], "sent")
    assert [c[0] for c in adapter.calls] == ["k0", "k1", "k2", "k3"]
    assert {r.key: r.attempts for r in ledger.touches()} == dict.fromkeys(["k0", "k1", "k2", "k3"], 1)
