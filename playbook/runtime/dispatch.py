"""Dispatch: due touches from the ledger to an adapter, each delivered at most once.

A round claims due rows (`pending`, or `failed` whose retry time has come) with a
compare-and-set to `sending` — the ledger row, with its idempotency key, exists before
the adapter is called — groups them into batches of one account, channel and content,
calls the adapter (several batches at once on a thread pool) and settles every row:
`sent`, `failed` (transient: retried with exponential backoff and full jitter) or `dead`
(permanent, or out of attempts). A crash leaves claimed rows `sending`; `reconcile` asks
the adapter what happened to them on the next start and marks the rest `unknown` —
never re-sent blindly, unless at-least-once delivery is allowed for an adapter that
deduplicates by key.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from playbook.adapters.base import (
    DEAD,
    FAILED,
    LATER,
    SENT,
    Adapter,
    Delivery,
    PermanentError,
    Result,
    TransientError,
)
from playbook.runtime.rows import Settlement, TouchRow
from playbook.runtime.store import Store

CRASHED = "the daemon stopped during the adapter call and the adapter cannot tell whether it was sent"
UNCONFIRMED = "unconfirmed"  # a receipt never came within the horizon
DEFAULT_BATCH = 500


@dataclass
class RetryPolicy:
    max_attempts: int = 8
    backoff: float = 2.0  # seconds before the first retry; doubles each attempt
    backoff_cap: float = 3600.0

    def delay(self, attempt: int, rng: random.Random, at_least: float | None = None) -> float:
        """Full jitter (uniform in [0, base·2^(attempt-1)], capped), never sooner than the
        platform asked for."""
        ceiling = min(self.backoff_cap, self.backoff * 2 ** (attempt - 1))
        return max(rng.uniform(0, ceiling), at_least or 0.0)


@dataclass
class RoundReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    later: int = 0  # put off by the adapter's throttle
    calls: int = 0
    lateness: list[float] = field(default_factory=list)  # seconds from `at` to sent, per sent touch


@dataclass
class ReconcileReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    unknown: int = 0
    resent: int = 0  # back to pending (at-least-once)


def delivery_of(row: TouchRow) -> Delivery:
    return Delivery(key=row.key, version=row.version, flow=row.flow, step=row.step, channel=row.channel,
                    account=row.account, contact=row.contact, group=row.group,
                    audience=tuple(row.audience) if row.audience is not None else None, content=row.content,
                    text=row.text, parts=row.parts, at=row.at if row.at is not None else row.due, due=row.due,
                    attempt=row.attempts, ref=row.adapter_ref)  # fmt: skip


def batches(rows: Sequence[TouchRow], size: int) -> list[list[TouchRow]]:
    """Rows of one account, channel and content (or task text) due at the same instant
    go together, at most `size` to a batch, in key order."""
    groups: dict[tuple, list[TouchRow]] = {}
    for row in sorted(rows, key=lambda r: r.key):
        what = row.content if row.content is not None else row.text
        groups.setdefault((row.account or "", row.channel, what or "", row.at or 0), []).append(row)
    out: list[list[TouchRow]] = []
    for _, members in sorted(groups.items(), key=lambda kv: kv[0]):
        out += [members[i : i + max(size, 1)] for i in range(0, len(members), max(size, 1))]
    return out


class Dispatcher:
    def __init__(self, store: Store, adapter: Adapter, *, owner: str, adapter_name: str | None = None,
                 batch: int | None = None, workers: int = 4, retry: RetryPolicy | None = None,
                 at_least_once: bool = False, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None):  # fmt: skip
        self.store = store
        self.adapter = adapter
        self.adapter_name = adapter_name or adapter.name
        self.owner = owner
        self.retry = retry or RetryPolicy()
        self.at_least_once = at_least_once and adapter.idempotent
        self.clock = clock
        self.rng = rng or random.Random()
        self.batch_size = max(1, adapter.capabilities.batch_size)
        # rows claimed a round; by default one full adapter batch (10,000 same-content WeCom dm
        # are one call), at least DEFAULT_BATCH
        self.batch = batch if batch is not None else max(DEFAULT_BATCH, self.batch_size)
        self._receipts_after: tuple | None = None  # where the last receipts page ended
        self.workers = max(1, workers)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="dispatch")

    def close(self) -> None:
        """Wait for in-flight calls (their rows are settled by the round that made them)."""
        self._pool.shutdown(wait=True)

    # ---- after a crash ---------------------------------------------------------------------------
    def reconcile(self) -> ReconcileReport:
        """Touches a previous run left `sending`: what the adapter can tell is recorded;
        the rest are `unknown` (or `pending` again where at-least-once is allowed)."""
        report = ReconcileReport()
        rows = self.store.touches(states=("sending",))
        if not rows:
            return report
        known = {r.key: r for r in self.adapter.reconcile([delivery_of(r) for r in rows])}
        for row in rows:
            result = known.get(row.key)
            if result is not None:
                self._settle_foreign(row, result, report)
            elif self.at_least_once:
                report.resent += len(self.store.transition([row.key], "sending", "pending", owner=None,
                                                           next_attempt_at=int(self.clock())))  # fmt: skip
            else:
                report.unknown += len(self.store.transition([row.key], "sending", "unknown", owner=None,
                                                            error=CRASHED, adapter=self.adapter_name))  # fmt: skip
        return report

    def _settle_foreign(self, row: TouchRow, result: Result, report: ReconcileReport) -> None:
        settlement = self._settlement(row, result, self.clock())
        moved = self.store.transition([row.key], "sending", settlement.state, owner=None, error=settlement.error,
                                      adapter=self.adapter_name, adapter_ref=settlement.adapter_ref,
                                      next_attempt_at=settlement.next_attempt_at)  # fmt: skip
        if moved:
            setattr(report, settlement.state, getattr(report, settlement.state) + 1)

    # ---- receipts -------------------------------------------------------------------------------------
    def collect_receipts(self, now: float | None = None, *, horizon: float = 7 * 86400, limit: int = 1000) -> int:
        """Ask the platform about touches it took but has not reported on; ones older than
        `horizon` without a report are recorded `unconfirmed`. How many were recorded."""
        if not self.adapter.gives_receipts:
            return 0
        now = self.clock() if now is None else now
        rows = self.store.awaiting_receipts(self.adapter_name, limit, self._receipts_after)
        # the next call takes the next page; after the last page, from the oldest again
        last = rows[-1] if len(rows) == limit else None
        self._receipts_after = (last.updated_at, last.key) if last is not None and last.updated_at else None
        if not rows:
            return 0
        got = {r.key: r for r in self.adapter.receipts([delivery_of(r) for r in rows])}
        records: list[tuple[str, str, int | None]] = []
        for row in rows:
            receipt = got.get(row.key)
            if receipt is not None:
                records.append((row.key, receipt.status, receipt.at))
            elif now - (row.at if row.at is not None else row.due) > horizon:
                records.append((row.key, UNCONFIRMED, None))
        return self.store.record_receipts(records)

    # ---- a round -------------------------------------------------------------------------------------
    def run_once(self, now: float | None = None) -> RoundReport:
        """Claim what is due, send it, settle it. Returns what happened."""
        now = self.clock() if now is None else now
        report = RoundReport()
        rows = self.store.claim_due(int(now), self.owner, limit=self.batch)
        report.claimed = len(rows)
        if not rows:
            return report
        groups = batches(rows, self.batch_size)
        settlements: list[Settlement] = []
        for group, (results, done_at) in zip(groups, self._send_all(groups), strict=True):
            report.calls += 1
            for row in group:
                settlement = self._settlement(row, results.get(row.key), done_at)
                settlements.append(settlement)
                if settlement.state == SENT:
                    report.sent += 1
                    report.lateness.append(done_at - (row.at if row.at is not None else row.due))
                elif settlement.state == FAILED:
                    report.failed += 1
                elif settlement.state == DEAD:
                    report.dead += 1
                else:
                    report.later += 1
        self.store.settle(settlements, self.owner)
        return report

    def _send_all(self, groups: list[list[TouchRow]]) -> list[tuple[dict[str, Result], float]]:
        """Every group's results and the time its call returned, in the order of `groups`.
        At most `workers` calls at once: as many pool tasks, each taking the next group
        until none is left — not a task per group, whose hand-over would cost more than a
        small batch's call."""
        out: list[tuple[dict[str, Result], float]] = [({}, 0.0)] * len(groups)
        todo = iter(range(len(groups)))
        lock = threading.Lock()

        def drain() -> None:
            while True:
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                results = self._call(groups[i])
                out[i] = (results, self.clock())

        for task in [self._pool.submit(drain) for _ in range(min(self.workers, len(groups)))]:
            task.result()
        return out

    def _call(self, group: list[TouchRow]) -> dict[str, Result]:
        """One adapter call; a whole-call failure becomes every delivery's result."""
        try:
            results = self.adapter.send([delivery_of(r) for r in group])
        except PermanentError as exc:
            return {r.key: Result(r.key, DEAD, exc.reason) for r in group}
        except TransientError as exc:
            return {r.key: Result(r.key, FAILED, exc.reason, retry_after=exc.retry_after) for r in group}
        except Exception as exc:  # an adapter bug must not stop dispatch: retried, then dead
            reason = f"{type(exc).__name__}: {exc}"
            return {r.key: Result(r.key, FAILED, reason) for r in group}
        return {r.key: r for r in results}

    def _settlement(self, row: TouchRow, result: Result | None, now: float) -> Settlement:
        if result is None:
            result = Result(row.key, FAILED, "the adapter returned no result for it")
        if result.status == SENT:
            return Settlement(row.key, SENT, None, self.adapter_name, result.ref)
        if result.status == DEAD:
            return Settlement(row.key, DEAD, result.error or "refused", self.adapter_name, result.ref)
        if result.status == LATER:  # the adapter's own throttle: not an attempt
            wait = math.ceil(now + (result.retry_after or self.retry.backoff))
            return Settlement(row.key, "pending", result.error, self.adapter_name, None, wait, attempted=False)
        attempts = max(row.attempts, 1)
        if attempts >= self.retry.max_attempts:
            return Settlement(row.key, DEAD, f"gave up after {attempts} attempts: {result.error}", self.adapter_name)
        delay = self.retry.delay(attempts, self.rng, result.retry_after)
        return Settlement(row.key, FAILED, result.error, self.adapter_name, None, math.ceil(now + delay))
