"""Service levels (LANGUAGE.md §10, docs/language.md §10): the runner of one `sla` and
the tally of what became of its watches, per staff account.

`X answered by Y within D [during A-B]` opens a watch at X and closes it at Y. Every
duration of an SLA — the allowance, each `remind at`, each `escalate … after` — is counted
time: only time inside `during` counts. Reminders are tasks for the account that should
answer, at each `remind at D` into the allowance (one at 80 % when none is written); at
the deadline the watch is missed; each `escalate to ACCOUNT|"role" after D` gives a task
to a supervisor D of counted time after the miss, if the contact is still unanswered then.
An escalation is the supervisor's touch: it counts against the supervisor's limits, not the
customer's, and when another engine owns the supervisor's account (a shard's engine:
`Contacts.owns`) it is forwarded there to be decided (`Host.forward`). The exact rules are
in docs/semantics.md ("Service levels").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from playbook.compiler import ir
from playbook.engine.host import TASK_LANGUAGE
from playbook.engine.timeline import SLA_KINDS, Item, SlaDeadline, SlaEscalate, SlaRemind
from playbook.i18n import N_, t_in
from playbook.vocab import reasons
from playbook.vocab.localtime import parse_clock
from playbook.vocab.model import Event, TouchRequest

# The tasks this runner writes (names with their braces doubled: a task text is a template).
SLA_TASK = N_("[{sla}] {name}'s {trigger} is not answered yet; please handle it by {by}")
ESCALATION_TASK = N_("[{sla}] {name}'s {trigger} is past its deadline unanswered (in charge: {staff}); please follow up")

if TYPE_CHECKING:
    from playbook.engine.host import Flows as FlowSet

DEFAULT_REMINDER = 0.8  # of the allowance, when no `remind at` is written (LANGUAGE.md §10)
SLA_EVENTS = frozenset({"sla_started", "sla_met", "sla_late", "sla_missed"})  # the state events of a watch
OUTCOMES = ("met", "late", "missed")  # what a staff member's watches became (tally_by_account)


class SlaWatch(NamedTuple):
    """A service level's state for one contact (its item): how many watches it has had, and
    its open watch (started, deadline, serial, account, name — or the first three, kept by an
    earlier version), None when none is open."""

    contact: str
    serial: int
    open: tuple[Any, ...] | None


class SlaBase(NamedTuple):
    """Watches counted for all contacts together, by a store of an earlier version (its
    item ""): a contact's serials go on from there."""

    serial: int


class SlaRun:
    """One `sla`: its open watches, their reminders, misses and escalations."""

    def __init__(self, flows: FlowSet, s: ir.Sla, index: int):
        self.flows = flows
        self.sla = s
        self.name = s.name
        self.index = index
        self.engine = flows.engine
        # contact -> (started, deadline, serial, account that should answer, contact's name);
        # a store of an earlier version may restore (started, deadline, serial)
        self.open: dict[str, tuple[Any, ...]] = {}
        # contact -> how many watches it has had: a watch's occurrence in its touch's key
        # counts per contact (one contact's keys never depend on the others')
        self.serials: dict[str, int] = {}
        self.base = 0  # occurrences counted before, in a store of an earlier version (runtime/state.py)
        # `during` as minutes of the day (None: all day counts)
        self.window = (parse_clock(s.during[0]), parse_clock(s.during[1])) if s.during is not None else None
        # counted minutes into the allowance of each reminder
        self.reminders: list[float] = (list(s.remind_minutes) if s.remind_minutes is not None
                                       else [s.within_minutes * DEFAULT_REMINDER])  # fmt: skip
        self.key = ""

    def business_time_after(self, start: int, minutes: float) -> int:
        """The instant `minutes` of counted time after `start`."""
        if self.window is None:
            return start + round(minutes * 60)
        clock = self.flows.clock
        a, b = self.window
        remaining = minutes * 60
        t = start
        while True:
            day = clock.date_of(t)
            window_start, window_end = clock.at(day, a), clock.at(day, b)
            if t < window_start:
                t = window_start
            if t >= window_end:
                t = clock.at(day + dt.timedelta(days=1), a)
                continue
            available = window_end - t
            if remaining <= available:
                return t + round(remaining)
            remaining -= available
            t = clock.at(day + dt.timedelta(days=1), a)

    def _account(self, cid: str, watch: tuple[Any, ...]) -> str | None:
        """The account that should answer a watch (a watch restored from an earlier version
        does not hold it: the contact's account now)."""
        if len(watch) > 3:
            return watch[3]  # type: ignore[no-any-return]
        return self.engine.contacts.fields.get(cid, {}).get("account")

    def on_event(self, event: Event) -> None:
        cid, t = event.contact, event.at
        flows = self.flows
        if event.type == self.sla.answer and cid in self.open:
            watch = self.open.pop(cid)
            started, deadline = watch[0], watch[1]
            flows.dirty(self.key, cid)
            kind = "sla_met" if t <= deadline else "sla_late"
            flows.emit(t, kind, cid, self.sla.name, waited_seconds=t - started, account=self._account(cid, watch))
        elif event.type == self.sla.trigger and cid not in self.open and not flows.retired:
            serial = self.serials[cid] = self.serials.get(cid, self.base) + 1
            flows.dirty(self.key, cid)
            deadline = self.business_time_after(t, self.sla.within_minutes)
            record = self.engine.contacts.fields.get(cid, {})
            account = record.get("account") or event.data.get("account")
            name = record.get("name") or event.data.get("name") or cid
            self.open[cid] = (t, deadline, serial, account, str(name))
            flows.emit(t, "sla_started", cid, self.sla.name, deadline=deadline, account=account)
            pi = self.flows.index
            for n, minutes in enumerate(self.reminders):
                remind = self.business_time_after(t, minutes)
                self.engine.at(remind, SlaRemind(pi, self.index, cid, serial, deadline, account, str(name), n))
            self.engine.at(deadline, SlaDeadline(pi, self.index, cid, serial))

    def _watch(self, cid: str, serial: int) -> tuple[Any, ...] | None:
        """The contact's open watch, if it is still the one numbered `serial`."""
        watch = self.open.get(cid)
        return watch if watch is not None and watch[2] == serial else None

    def _key(self, cid: str, serial: int) -> str:
        return f"{self.flows.program.version}/{self.sla.name}/{cid}/{serial}"

    def remind(self, due: SlaRemind) -> None:
        """Reminder n (timeline item "sla_remind"): a task for the account, if still unanswered."""
        cid, serial, n = due.contact, due.serial, due.n
        if self._watch(cid, serial) is None:
            return
        minute = self.flows.clock.minute_of_day(due.deadline)
        by = f"{minute // 60:02d}:{minute % 60:02d}"  # the deadline's local HH:MM
        key = self._key(cid, serial) + ("" if n == 0 else f"/remind{n + 1}")  # the first keeps the key it always had
        text = t_in(TASK_LANGUAGE, SLA_TASK, sla=self.sla.name, name=_braces(due.name), trigger=self.sla.trigger, by=by)
        self._task(due.account, cid, "reminder", n, key, text)

    def deadline(self, due: SlaDeadline) -> None:
        """The allowance ran out (timeline item "sla_deadline"): missed; escalations follow."""
        cid, serial = due.contact, due.serial
        watch = self._watch(cid, serial)
        if watch is None:
            return
        now = self.engine.now
        self.flows.emit(now, "sla_missed", cid, self.sla.name, account=self._account(cid, watch))
        for n, esc in enumerate(self.sla.escalations or ()):
            due = self.business_time_after(now, esc.after_minutes)
            self.engine.at(due, SlaEscalate(self.flows.index, self.index, cid, serial, n))

    def escalate(self, due: SlaEscalate) -> None:
        """Escalation n (timeline item "sla_escalate"): a task to each supervisor account, if
        the contact is still unanswered."""
        cid, serial, n = due.contact, due.serial, due.n
        watch = self._watch(cid, serial)
        escalations = self.sla.escalations or []
        if watch is None or n >= len(escalations):  # answered late meanwhile; or a newer version has fewer
            return
        esc = escalations[n]
        accounts = self.engine.contacts.accounts
        owner = self._account(cid, watch)
        name = _braces(str(watch[4] if len(watch) > 4 else self.engine.contacts.fields.get(cid, {}).get("name") or cid))
        staff = _braces(str(accounts.get(owner or "", {}).get("name") or owner or "?"))
        text = t_in(TASK_LANGUAGE, ESCALATION_TASK, sla=self.sla.name, name=name, trigger=self.sla.trigger, staff=staff)
        key = f"{self._key(cid, serial)}/escalate{n + 1}"
        # decided now, where the contact is known: a contact deleted by now gives the supervisor
        # nothing (the task, the supervisor's from here on, is not taken back by a later deletion)
        gone = reasons.CONTACT_DELETED if cid in self.engine.contacts.deleted else None
        if esc.account is not None:
            self._escalate(esc.account, cid, n, key, text, gone)
            return
        holders = role_holders(accounts.values(), esc.role or "")
        for account in holders:
            self._escalate(account, cid, n, f"{key}/{account}", text, gone)
        if not holders:  # the accounts changed since the playbook was checked
            self._task(None, cid, "escalation", n, key, text, cancelled=reasons.no_role(esc.role or ""))

    def _escalate(self, account: str, cid: str, n: int, key: str, text: str, cancelled: str | None) -> None:
        """An escalation's task: the supervisor's touch (`account_only`), decided by the engine
        that owns the supervisor's account — this one, or another it is forwarded to."""
        req = self._request(account, cid, "escalation", n, key, text, cancelled, account_only=True)
        owns = self.engine.contacts.owns
        if cancelled is None and owns is not None and not owns(account):
            self.engine.forward(req)
        else:
            self.engine.request(req)

    def _task(self, account: str | None, cid: str, step: str, order: int, key: str, text: str,
              cancelled: str | None = None) -> None:  # fmt: skip
        self.engine.request(self._request(account, cid, step, order, key, text, cancelled))

    def _request(self, account: str | None, cid: str, step: str, order: int, key: str, text: str,
                 cancelled: str | None, *, account_only: bool = False) -> TouchRequest:  # fmt: skip
        return TouchRequest(
            due=self.engine.now,
            channel="task",
            account=account,
            flow=self.sla.name,
            step=step,
            step_order=order,
            priority=0,
            program=self.flows.program,
            key=key,
            contact=cid,
            task_text=text,
            cancelled=cancelled,
            account_only=account_only,
        )  # fmt: skip

    # ---- versions and the daemon's store ------------------------------------------------------------
    def activate(self, t: int) -> None:
        """Nothing to lay out: a watch opens with its trigger."""

    def take_over_from(self, olders: Sequence[SlaRun]) -> None:
        """A newer version takes over the watches that are open in the older ones, with
        their reminders, deadlines and escalations, and goes on counting their serials."""
        engine = self.engine
        for older in olders:
            self.base = max(self.base, older.base)
            for cid, serial in older.serials.items():
                self.serials[cid] = max(self.serials.get(cid, 0), serial)
                self.flows.dirty(self.key, cid)
            for cid, watch in older.open.items():
                self.open[cid] = watch
                older.flows.dirty(older.key, cid)
            older.open.clear()
            for item in engine.take(older.owns):
                engine.at(item.due, item.payload._replace(flow=self.flows.index, sla=self.index), item.order)

    def owns(self, item: Item) -> bool:
        """Whether a timeline item is one of this service level's."""
        due = item.payload
        return due.kind in SLA_KINDS and due.flow == self.flows.index and due.sla == self.index

    def snapshot(self, items: Iterable[str]) -> list[SlaWatch]:
        return [SlaWatch(cid, self.serials.get(cid, self.base), self.open.get(cid)) for cid in items if cid]

    def restore(self, snapshots: Iterable[SlaWatch | SlaBase]) -> None:
        for state in snapshots:
            if isinstance(state, SlaBase):
                self.base = state.serial
                continue
            self.serials[state.contact] = state.serial
            if state.open is not None:
                self.open[state.contact] = tuple(state.open)


def role_holders(accounts: Iterable[dict[str, Any]], role: str) -> list[str]:
    """The ids of the accounts whose `role` field is `role`, in id order."""
    return sorted(str(a["id"]) for a in accounts if a.get("role") == role and a.get("id"))


def tally_by_account(events: Iterable[tuple[str, Hashable, str | None]]) -> dict[str, dict[str, int]]:
    """Met / late / missed per staff account, from SLA state events (type, watch, account)
    in the order they happened; `watch` tells one SLA's watches of one contact apart from
    another's (e.g. (sla, contact)). Each watch counts once, as what it became last: met
    (answered in time), late (missed, then answered), missed (not answered at all); a watch
    still open counts nowhere. "" stands for watches without an account. The plan and the
    daemon's report count alike."""
    last: dict[Hashable, tuple[int, str]] = {}  # watch -> (outcome's place in OUTCOMES, account)
    counts: dict[str, list[int]] = {}  # account -> [met, late, missed]
    for kind, watch, account in events:
        if kind == "sla_started":
            done = last.pop(watch, None)  # a new watch of the same contact: the one before is over
            if done is not None:
                counts[done[1]][done[0]] += 1
            if (account or "") not in counts:
                counts[account or ""] = [0, 0, 0]
        elif (place := _PLACE.get(kind)) is not None:
            last[watch] = (place, account or "")
            if (account or "") not in counts:
                counts[account or ""] = [0, 0, 0]
    for place, account in last.values():
        counts[account][place] += 1
    return {a: dict(zip(OUTCOMES, c, strict=True)) for a, c in sorted(counts.items())}


_PLACE = {f"sla_{outcome}": i for i, outcome in enumerate(OUTCOMES)}


def _braces(text: str) -> str:
    """Literal text inside a template: braces doubled."""
    return text.replace("{", "{{").replace("}", "}}")
