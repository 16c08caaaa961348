"""Dispatch: due touches from the ledger to an adapter, each delivered at most once.

A round claims due rows (`pending`, or `failed` whose retry time has come) with a
compare-and-set to `sending` — the ledger row, with its idempotency key, exists before
the adapter is called — groups them into batches of one account, channel and content,
calls the adapter (several batches at once on a thread pool) and settles every row:
`sent`, `failed` (transient: retried with exponential backoff and full jitter) or `dead`
(permanent, or out of attempts). A round claims no more than its calls take at once
(workers × the adapter's batch size, capped), and each call's rows are settled as soon as
that call returns, so a crash leaves `sending` only the rows of the calls in flight. On
the next start `reconcile` asks the adapter what happened to them: sent, or provably
never received (`absent`: back to `pending`, sent again); only the rows the adapter cannot
decide become `unknown` — never re-sent blindly, unless at-least-once delivery is allowed
for an adapter that deduplicates by key; `playbook requeue` puts them back by hand.

A store error while settling keeps the call's settlements in memory and writes them first
at the next round; rows claimed for a call that was not made (the store or the lease
failed just before it) go back to `pending` then — nothing is left `sending` by a live
process. Before every adapter call `guard` (the daemon's lease check) may refuse.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from playbook.adapters.base import (
    ABSENT,
    DEAD,
    FAILED,
    LATER,
    SENT,
    Adapter,
    AdapterError,
    Delivery,
    Fenced,
    PermanentError,
    Result,
    TransientError,
)
from playbook.runtime import schema as s
from playbook.runtime.rows import Settlement, TouchRow
from playbook.runtime.store import Store, StoreError

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
    refs: dict[str, str | None] = field(default_factory=dict)  # sent touch key → the platform's id


@dataclass
class ReconcileReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    unknown: int = 0
    resent: int = 0  # back to pending (at-least-once)
    absent: int = 0  # back to pending: the adapter proves it never got them


def delivery_of(row: TouchRow, shard: int = 0) -> Delivery:
    return Delivery(key=row.key, version=row.version, flow=row.flow, step=row.step, channel=row.channel,
                    account=row.account, contact=row.contact, group=row.group,
                    audience=tuple(row.audience) if row.audience is not None else None, content=row.content,
                    text=row.text, parts=row.parts, at=row.at if row.at is not None else row.due, due=row.due,
                    attempt=row.attempts, ref=row.adapter_ref, shard=shard)  # fmt: skip


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
                 rng: random.Random | None = None, guard: Callable[[], None] | None = None):  # fmt: skip
        self.store = store
        self.adapter = adapter
        self.adapter_name = adapter_name or adapter.name
        self.owner = owner
        self.retry = retry or RetryPolicy()
        self.at_least_once = at_least_once and adapter.idempotent
        self.clock = clock
        self.rng = rng or random.Random()
        self.batch_size = max(1, adapter.capabilities.batch_size)
        self.workers = max(1, workers)
        # rows claimed a round: what the round's calls take at once (workers × batch size),
        # at most one full adapter batch or DEFAULT_BATCH — a crash can leave no more
        # than that `sending`
        default = min(self.workers * self.batch_size, max(DEFAULT_BATCH, self.batch_size))
        self.batch = batch if batch is not None else default
        self.guard = guard
        self.shard = store.shard or 0  # a shard's dispatcher (scale-out) claims and delivers that shard's rows
        self._receipts_after: tuple | None = None  # where the last receipts page ended
        self.receipts_at = 0.0  # when the daemon last asked the platform about this dispatcher's (shard's) touches
        self._unsettled: list[Settlement] = []  # results of calls made whose settling the store refused
        self._uncalled: list[str] = []  # claimed rows whose call was not made
        self._strays = False  # a store error may have left rows of ours `sending` that we do not know of
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="dispatch")

    def close(self) -> None:
        """Wait for in-flight calls (their rows are settled by the round that made them)."""
        self._pool.shutdown(wait=True)

    # ---- after a crash ---------------------------------------------------------------------------
    def reconcile(self) -> ReconcileReport:
        """Touches a previous run left `sending` (called once this process holds the store's
        lease, so their owner is gone or fenced): what the adapter can tell is recorded —
        sent, or absent and back to `pending`; the rest are `unknown` (or `pending` again
        where at-least-once is allowed). One store, one lease: every `sending` row not ours
        is the previous holder's (with shards: the rows of the shards this lease covers)."""
        report = ReconcileReport()
        rows = [r for r in self.store.touches(states=("sending",)) if r.owner != self.owner]
        if not rows:
            return report
        why = CRASHED
        try:
            known = {r.key: r for r in self.adapter.reconcile([delivery_of(r, self.shard) for r in rows])}
        except AdapterError as exc:  # the platform could not be asked: undecided, for `playbook requeue`
            known, why = {}, f"{CRASHED} (asking it failed: {exc.reason})"
        # rows with the same outcome move together: one statement per outcome, not per row
        # (a crash mid-backlog leaves thousands)
        moves: dict[tuple[str, tuple[tuple[str, Any], ...]], list[str]] = {}
        now = int(self.clock())
        for row in rows:
            result = known.get(row.key)
            if result is not None and result.status == ABSENT:
                to, values = "pending", {"owner": None, "next_attempt_at": now, "attempts": "undo"}
            elif result is not None:
                st = self._settlement(row, result, self.clock())
                to, values = st.state, {"owner": None, "error": st.error, "adapter": self.adapter_name,
                                        "adapter_ref": st.adapter_ref, "next_attempt_at": st.next_attempt_at}
            elif self.at_least_once:
                to, values = "pending", {"owner": None, "next_attempt_at": now, "resent": True}
            else:
                to, values = "unknown", {"owner": None, "error": why, "adapter": self.adapter_name}
            moves.setdefault((to, tuple(values.items())), []).append(row.key)
        for (to, items), keys in moves.items():
            values = dict(items)
            kind = "absent" if values.get("attempts") == "undo" else "resent" if values.pop("resent", False) else to
            kind = kind if kind in ("absent", "resent", "sent", "failed", "dead", "unknown") else "resent"
            if kind == "absent":
                values["attempts"] = s.touches.c.attempts - 1
            moved = len(self.store.transition(keys, "sending", to, **values))
            setattr(report, kind, getattr(report, kind) + moved)
        return report

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
        got = {r.key: r for r in self.adapter.receipts([delivery_of(r, self.shard) for r in rows])}
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
        """Claim what is due, send it, settle each call's rows as it returns. Returns what
        happened. Raises StoreError (the store is unavailable: what was sent is kept to be
        settled at the next round) or the guard's error (the lease was lost)."""
        try:
            self.recover()
            now = self.clock() if now is None else now
            report = RoundReport()
            rows = self.store.claim_due(int(now), self.owner, limit=self.batch)
            report.claimed = len(rows)
            if not rows:
                return report
            self._send_all(batches(rows, self.batch_size), report)
            return report
        except StoreError:
            self._strays = True  # a claim may have committed although its answer was lost
            raise

    def recover(self, *, strays: bool = False) -> None:
        """What an earlier round could not write (the store was unavailable): the results of
        calls made, then the rows claimed but not sent, back to `pending`. After a store
        error (or with `strays`) every row of this process still `sending` goes back too —
        no call of ours is in flight between rounds, so none of them was sent."""
        if self._unsettled:
            self.store.settle(self._unsettled, self.owner)
            self._unsettled = []
        if strays or self._strays:
            self._uncalled = [r.key for r in self.store.touches(states=("sending",), owner=self.owner)]
        if self._uncalled:
            self.store.transition(self._uncalled, "sending", "pending", expect_owner=self.owner, owner=None,
                                  attempts=s.touches.c.attempts - 1)  # fmt: skip
        self._uncalled = []
        self._strays = False

    def _send_all(self, groups: list[list[TouchRow]], report: RoundReport) -> None:
        """Call the adapter for every group and settle each group's rows as its call
        returns. At most `workers` calls at once: as many pool tasks, each taking the next
        group until none is left — not a task per group, whose hand-over would cost more
        than a small batch's call. When the guard or the store fails, the groups not called
        are remembered (back to pending at the next round) and the first error is raised."""
        todo = iter(range(len(groups)))
        lock = threading.Lock()
        errors: list[BaseException] = []

        def drain() -> None:
            while True:
                with lock:
                    i = None if errors else next(todo, None)
                if i is None:
                    return
                group = groups[i]
                try:
                    if self.guard is not None:
                        self.guard()
                except BaseException as exc:
                    with lock:
                        errors.append(exc)
                        self._uncalled += [r.key for r in group]
                    return
                try:
                    results = self._call(group)
                except Fenced as exc:
                    with lock:
                        errors.append(exc)
                        self._uncalled += [r.key for r in group]
                    return
                done_at = self.clock()
                settlements = self._count(group, results, done_at, report, lock)
                try:
                    self.store.settle(settlements, self.owner)
                except BaseException as exc:  # the store is down (kept to settle later) or the lease lost
                    with lock:
                        errors.append(exc)
                        if isinstance(exc, StoreError):
                            self._unsettled += settlements
                    return

        tasks = [self._pool.submit(drain) for _ in range(min(self.workers, len(groups)))]
        wait(tasks)  # every call of the round has ended before anything is raised or retried
        for task in tasks:
            task.result()
        with lock:  # the groups no task took after the first error
            for i in todo:
                self._uncalled += [r.key for r in groups[i]]
        if errors:
            raise errors[0]

    def _count(self, group: list[TouchRow], results: dict[str, Result], done_at: float, report: RoundReport,
               lock: threading.Lock) -> list[Settlement]:  # fmt: skip
        settlements = [self._settlement(row, results.get(row.key), done_at) for row in group]
        with lock:
            report.calls += 1
            for row, settlement in zip(group, settlements, strict=True):
                if settlement.state == SENT:
                    report.sent += 1
                    report.refs[row.key] = settlement.adapter_ref
                    report.lateness.append(done_at - (row.at if row.at is not None else row.due))
                elif settlement.state == FAILED:
                    report.failed += 1
                elif settlement.state == DEAD:
                    report.dead += 1
                else:
                    report.later += 1
        return settlements

    def _call(self, group: list[TouchRow]) -> dict[str, Result]:
        """One adapter call; a whole-call failure becomes every delivery's result."""
        try:
            results = self.adapter.send([delivery_of(r, self.shard) for r in group])
        except Fenced:
            raise  # a newer writer holds the store: nothing was sent; this process stops
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
