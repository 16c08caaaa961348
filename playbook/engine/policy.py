"""Quiet hours and limits (LANGUAGE.md §12).

Limits count touches that went out, per contact or per account, in calendar periods of
the playbook timezone. The engine only ever asks about the current instant (time moves
forward), so each limit keeps the counts of its current period and starts afresh when
the period changes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from playbook.vocab.limits import LimitRule
from playbook.vocab.localtime import LocalTime, QuietWindow


class LimitCounter:
    """Counts for one rule in its current period."""

    __slots__ = ("rule", "clock", "period_start", "period_end", "counts", "limit", "by_contact", "by_group")

    def __init__(self, rule: LimitRule, clock: LocalTime):
        self.rule = rule
        self.clock = clock
        self.period_start = -1
        self.period_end = -1
        self.counts: dict[str, int] = {}
        # a fixed capacity, or None when it depends on the month (a platform quota)
        self.limit = None if rule.count == "days_in_month" else int(rule.count)
        self.by_contact = rule.scope == "contact"
        self.by_group = rule.scope == "group"

    def _roll(self, t: int) -> None:
        if not (self.period_start <= t < self.period_end):
            self.period_end = self.clock.next_period_start(t, self.rule.period)
            self.period_start = self.clock.midnight(self.clock.period_start(t, self.rule.period))
            self.counts = {}

    def capacity(self, t: int) -> int:
        count = self.rule.count
        if count == "days_in_month":
            day = self.clock.period_start(t, "month")
            nxt = self.clock.date_of(self.clock.next_period_start(t, "month"))
            return (nxt - day).days
        return int(count)

    def full(self, t: int, scope_id: str) -> bool:
        if not (self.period_start <= t < self.period_end):
            self._roll(t)
        limit = self.limit
        return self.counts.get(scope_id, 0) >= (limit if limit is not None else self.capacity(t))

    def room(self, t: int, scope_id: str) -> int:
        """How many more touches `scope_id` may have in the period of `t`."""
        if not (self.period_start <= t < self.period_end):
            self._roll(t)
        limit = self.limit
        return max(0, (limit if limit is not None else self.capacity(t)) - self.counts.get(scope_id, 0))

    def add(self, t: int, scope_id: str, n: int = 1) -> None:
        if not (self.period_start <= t < self.period_end):
            self._roll(t)
        counts = self.counts
        counts[scope_id] = counts.get(scope_id, 0) + n

    def next_start(self, t: int) -> int:
        self._roll(t)
        return self.period_end


@dataclass(slots=True)
class Verdict:
    send: bool
    retry_at: int | None = None  # defer: the next moment worth trying
    reason: str = ""  # why it was held or skipped


class Policies:
    """A playbook's quiet window and limits, plus limits shared across playbooks (an
    adapter's platform quotas), which are passed in as already-built counters."""

    def __init__(
        self,
        clock: LocalTime,
        quiet: QuietWindow | None,
        rules: Sequence[LimitRule],
        shared: Sequence[LimitCounter] = (),
    ):
        self.clock = clock
        self.quiet = quiet
        self.counters = [LimitCounter(r, clock) for r in rules] + list(shared)
        self.own = len(rules)  # counters[:own] are the playbook's, the rest the adapter's
        self._applicable: dict[tuple[str, bool], list[LimitCounter]] = {}

    def applicable(self, channel: str, has_contact: bool) -> list[LimitCounter]:
        """The counters a touch on `channel` counts against (worked out once per kind)."""
        key = (channel, has_contact)
        found = self._applicable.get(key)
        if found is None:
            found = self._applicable[key] = [c for c in self.counters if c.rule.applies(channel, has_contact)]
        return found

    def quiet_release(self, t: int) -> int | None:
        """When quiet hours that hold `t` end; None when `t` is outside them."""
        if self.quiet is not None and self.quiet.contains(t):
            return self.quiet.release(t)
        return None

    def judge(
        self, t: int, channel: str, account: str | None, contact: str | None, held_until: int | None = None,
        group: str | None = None, welcome_age: int | None = None,
    ) -> Verdict:  # fmt: skip
        """May a touch go out at `t`? `held_until` is quiet_release(t), which the caller
        works out once for every touch of the instant. `welcome_age`: for a dm in a journey
        entered on friend_added, seconds since that event (limits with `welcome_free` longer
        than that do not hold it)."""
        if held_until is not None:
            return Verdict(False, held_until, self.quiet.label if self.quiet else "")
        counters = self._applicable.get((channel, contact is not None))
        if counters is None:
            counters = self.applicable(channel, contact is not None)
        retry = None
        reason = ""
        for counter in counters:
            scope_id = contact if counter.by_contact else group if counter.by_group else account
            if scope_id is None or not counter.full(t, scope_id):
                continue
            rule = counter.rule
            if welcome_age is not None and welcome_age < rule.welcome_free:
                continue
            if rule.action == "skip":
                return Verdict(False, None, rule.label)
            nxt = counter.next_start(t)
            if retry is None or nxt > retry:
                retry, reason = nxt, rule.label
        if retry is not None:
            return Verdict(False, retry, reason)
        return SEND

    def room_per_account(self, t: int, channel: str, account: str) -> int | None:
        """For touches to contacts on `channel` from `account` when every limit on them counts
        per account: how many more may go out at `t` (the same for each of them, until one
        goes); None when a limit counts per contact."""
        counters = self.applicable(channel, True)
        if any(counter.by_contact or counter.by_group for counter in counters):
            return None
        return min((counter.room(t, account) for counter in counters), default=sys.maxsize)

    def record_per_account(self, t: int, channel: str, account: str, n: int) -> None:
        """`n` touches to contacts on `channel` from `account` went out (see room_per_account)."""
        for counter in self.applicable(channel, True):
            counter.add(t, account, n)

    def record(self, t: int, channel: str, account: str | None, contact: str | None, group: str | None = None,
               welcome_age: int | None = None) -> bool:  # fmt: skip
        """A touch went out: it counts against each limit that applies (see judge for
        `welcome_age`). Whether a limit let it go uncounted as a welcome."""
        counters = self._applicable.get((channel, contact is not None))
        if counters is None:
            counters = self.applicable(channel, contact is not None)
        free = False
        for counter in counters:
            if welcome_age is not None and welcome_age < counter.rule.welcome_free:
                free = True
                continue
            scope_id = contact if counter.by_contact else group if counter.by_group else account
            if scope_id is not None:
                counter.add(t, scope_id)
        return free


SEND = Verdict(True)  # the usual verdict, shared (verdicts are only read)
