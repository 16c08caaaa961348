"""`playbook explain --contact ID`: why a contact got (or did not get) what it got, from the store.

`explain()` gathers the facts as plain, JSON-ready data that reads the same in every
language: the contact, each journey's entry and the contact's enrolments — or, when it
never entered, the reasons worked out from the data (codes with their details) — and
every touch of the contact with the engine's outcome and the dispatch state.
`why_text()` and `touch_sentence()` turn those facts into sentences in the operator's
language, for people.

"Never entered" is worked out from what the store holds now: a `where` or a segment is
evaluated on the contact's current fields (and, for `where`, the event's data at the
event's time), so a field that changed since is seen as it is now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from playbook.compiler.describe import entry_text, expr_text, schedule_text
from playbook.diagnostics import ERROR, Diagnostic, PlaybookError, did_you_mean
from playbook.engine.expr import Compiler, Scope, segment_table
from playbook.i18n import t
from playbook.runtime import schema as s
from playbook.runtime.report import ON_TIME_SECONDS, clock_of, short_time, snapshot, when, when_dt
from playbook.runtime.rows import VersionRow
from playbook.runtime.storage.journal import with_reason
from playbook.runtime.storage.ledger import touch_row
from playbook.runtime.store import Store
from playbook.vocab.localtime import LocalTime
from playbook.vocab.reasons import Reason, joined
from playbook.vocab.values import DateValue, Instant
from playbook.words import event_label

LATEST_EVENTS = 20  # entry events looked at when working out why a contact never entered


def explain(store: Store, contact: str, flow: str | None = None, *, now: int,
            clock: LocalTime | None = None) -> dict[str, Any]:  # fmt: skip
    """Everything the store knows about why `contact` got what it got (see the module
    docstring); `now` is when segments are evaluated. PlaybookError for an unknown
    contact or flow."""
    clock = clock or clock_of(store)
    versions = {v.version: v for v in store.versions()}
    active = [v for v in versions.values() if v.activated_at is not None and v.retired_at is None]
    with snapshot(store) as conn:
        record = _contact(conn, contact)
        if record is None:
            raise PlaybookError([Diagnostic(ERROR, "explain", t("no contact '{id}' in the store", id=contact))])
        fields, deleted = record
        account = _account(conn, fields.get("account"))
        enrolments = _enrolments(conn, contact, clock)
        playbooks = {v: _playbook(row) for v, row in versions.items()}
        touches = _touches(conn, contact, fields.get("account"), playbooks, clock)
        context = _Context(conn, contact, {"id": contact, **fields}, account, deleted, now, clock)
        if flow is not None:
            _check_flow(flow, active, enrolments, touches)
        journeys = []
        for pb, name, version in _journeys(active, versions, enrolments):
            if flow is not None and flow not in (name, f"{pb}/{name}"):
                continue
            doc = version.document["journeys"][name]
            mine = [e for e in enrolments if e["journey"] == name and _playbook(versions.get(e["version"])) == pb]
            journeys.append({
                "playbook": pb,
                "journey": name,
                "version": version.version,
                "entry": _entry(doc["entry"], clock),
                "enrolments": mine,
                "why_not": [] if mine else context.why_not(version, doc["entry"]),
            })  # fmt: skip
    if flow is not None:
        touches = [x for x in touches if flow in (x["flow"], f"{x['playbook']}/{x['flow']}")]
    return {
        "contact": {
            "id": contact,
            "name": fields.get("name"),
            "account": fields.get("account"),
            "deleted": deleted,
            "fields": {k: plain(v, clock) for k, v in sorted(fields.items())},
        },
        "account": account,
        "evaluated_at": when(now, clock),
        "journeys": journeys,
        "touches": touches,
    }


def plain(value: Any, clock: LocalTime) -> Any:
    """A field value as JSON: times in the playbook timezone, dates as dates, tags sorted."""
    if isinstance(value, DateValue):
        return clock.date_of(value).isoformat()
    if isinstance(value, Instant):
        return when(value, clock)
    if isinstance(value, frozenset | set):
        return sorted(value)
    return value


def _playbook(row: VersionRow | None) -> str:
    if row is None:
        return ""
    doc = row.document if isinstance(row.document, dict) else {}
    return str(doc.get("title") or doc.get("name") or row.name)


# ---- reading the store ---------------------------------------------------------------------------------


def _contact(conn: Connection, cid: str) -> tuple[dict[str, Any], bool] | None:
    c = s.contacts
    row = conn.execute(sa.select(c.c.fields, c.c.deleted).where(c.c.id == cid)).first()
    return None if row is None else (dict(row.fields or {}), bool(row.deleted))


def _account(conn: Connection, aid: Any) -> dict[str, Any] | None:
    if aid is None:
        return None
    a = s.accounts
    row = conn.execute(sa.select(a.c.fields).where(a.c.id == str(aid))).first()
    return {"id": str(aid), **(row.fields or {})} if row is not None else {"id": str(aid)}


def _enrolments(conn: Connection, cid: str, clock: LocalTime) -> list[dict[str, Any]]:
    """The contact's enrolments, with how each ended (from the state event log)."""
    se = s.state_events
    exits: dict[tuple[str | None, str | None, int], tuple[int, str]] = {}
    current: dict[tuple[str | None, str | None], int] = {}
    query = (sa.select(se.c.at, se.c.type, se.c.flow, se.c.version, se.c.data, se.c.reason_code, se.c.reason_args)
             .where(se.c.contact == cid, se.c.type.in_(("enter", "exit"))).order_by(se.c.seq))  # fmt: skip
    for at, kind, flow, version, data, code, args in conn.execute(query):
        if kind == "enter":
            current[(version, flow)] = int((data or {}).get("n", 1))
        elif (version, flow) in current:  # an exit ends the enrolment that entered last
            reason = with_reason(data or {}, code, args).get("reason", "")  # a Reason, or "completed"
            exits[(version, flow, current[(version, flow)])] = (at, reason)
    e = s.enrolments
    out = []
    query = sa.select(e).where(e.c.contact == cid).order_by(e.c.entered_at, e.c.journey, e.c.n)
    for r in conn.execute(query):
        ended = exits.get((r.version, r.journey, r.n))
        out.append({
            "version": r.version,
            "journey": r.journey,
            "n": r.n,
            "entered_at": when(r.entered_at, clock),
            "status": r.status,
            "exited_at": when(ended[0], clock) if ended else None,
            "exit_reason": ended[1] if ended else ("completed" if r.status == "done" else None),
            "arms": dict(sorted((r.arms or {}).items())),
            "goal_at": when(r.goal_at, clock),
            "hours_to_goal": round((r.goal_at - r.entered_at) / 3600, 2) if r.goal_at is not None else None,
            "segments": list(r.segments or []),
        })  # fmt: skip
    return out


def _touches(conn: Connection, cid: str, account: Any, playbooks: Mapping[str, str],
             clock: LocalTime) -> list[dict[str, Any]]:  # fmt: skip
    """The contact's touches, and the Moments posts of its account it was in the audience
    of; in the order they went out (or were given up)."""
    t_ = s.touches
    rows = list(conn.execute(sa.select(t_).where(t_.c.contact == cid)))
    if account is not None:
        posts = sa.select(t_).where(t_.c.channel == "moment", t_.c.account == str(account))
        rows += [r for r in conn.execute(posts) if cid in (r.audience or ())]
    rows.sort(key=lambda r: (r.at if r.at is not None else r.due, r.due, r.key))
    return [_touch(r, playbooks.get(r.version, ""), clock) for r in rows]


def _touch(r: Any, playbook: str, clock: LocalTime) -> dict[str, Any]:
    sent_at = r.updated_at if r.state == "sent" else None
    row = touch_row(r)  # its reasons as Reasons (each its English text in the JSON)
    return {
        "key": r.key,
        "playbook": playbook,
        "flow": r.flow,
        "step": r.step,
        "channel": r.channel,
        "account": r.account,
        "group": r.group_id,
        "content": r.content,
        "text": r.text,
        "due": when(r.due, clock),
        "at": when(r.at, clock),
        "outcome": r.outcome,
        "reason": row.reason,
        "held_reasons": row.held_reasons() if r.state == "held" else [],
        "state": r.state,
        "error": r.error,
        "attempts": r.attempts,
        "next_attempt_at": when(r.next_attempt_at, clock) if r.state in ("pending", "failed") else None,
        "sent_at": when_dt(sent_at, clock),
        "on_time": None if sent_at is None or r.at is None else sent_at.timestamp() - r.at <= ON_TIME_SECONDS,
        "via": _via(r),
        "receipt": r.receipt,
    }


def _via(r: Any) -> str | None:
    """How a sent dm was carried, where the platform has more than one way: WeCom's welcome
    message (at once, the WelcomeCode of the friend request) or a mass-message task the staff
    member confirms."""
    ref = r.adapter_ref or ""
    if r.state != "sent" or r.channel != "dm" or not ref:
        return None
    if ref.startswith("welcome:"):
        return "welcome"
    return "task" if r.adapter == "wecom" else None


# ---- journeys and why a contact never entered ---------------------------------------------------------


def _journeys(active: list[VersionRow], versions: Mapping[str, VersionRow],
              enrolments: list[dict[str, Any]]) -> list[tuple[str, str, VersionRow]]:  # fmt: skip
    """(playbook, journey, the version whose entry is shown): every journey of the active
    versions (the newest one wins), and those of older versions the contact entered."""
    chosen: dict[tuple[str, str], VersionRow] = {}
    for row in active:  # oldest first: a newer version replaces an older one
        for name in row.document.get("journeys") or {}:
            chosen[(_playbook(row), name)] = row
    for e in enrolments:
        row = versions.get(e["version"])
        if row is not None and e["journey"] in (row.document.get("journeys") or {}):
            chosen.setdefault((_playbook(row), e["journey"]), row)
    return [(pb, name, row) for (pb, name), row in sorted(chosen.items())]


def _check_flow(flow: str, active: list[VersionRow], enrolments: list[dict[str, Any]],
                touches: list[dict[str, Any]]) -> None:  # fmt: skip
    names: set[str] = {e["journey"] for e in enrolments} | {x["flow"] for x in touches}
    for row in active:
        for kind in ("journeys", "groups", "moments", "rotations", "slas"):
            for name in row.document.get(kind) or {}:
                names.update((name, f"{_playbook(row)}/{name}"))
    if flow not in names:
        message = t("no flow '{name}' in the active playbooks", name=flow)
        raise PlaybookError([Diagnostic(ERROR, "explain", message, hint=did_you_mean(flow, names))])


def _entry(entry: Mapping[str, Any], clock: LocalTime) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": entry["kind"], "text": entry_text(dict(entry))}
    for key in ("event", "segment"):
        if entry.get(key):
            out[key] = entry[key]
    if entry.get("schedule"):
        out["schedule"] = schedule_text(entry["schedule"])
    if entry.get("at"):
        out["at"] = when(clock.instant(dt.datetime.fromisoformat(entry["at"])), clock)
    return out


class _Context:
    """What "why not" needs: the contact as the engine would see it, and the event log."""

    def __init__(self, conn: Connection, cid: str, record: dict[str, Any], account: dict[str, Any] | None,
                 deleted: bool, now: int, clock: LocalTime) -> None:  # fmt: skip
        self.conn, self.cid, self.record, self.account = conn, cid, record, account
        self.deleted, self.now, self.clock = deleted, now, clock
        self._compilers: dict[str, Compiler] = {}

    def compiler(self, version: VersionRow) -> Compiler:
        found = self._compilers.get(version.version)
        if found is None:
            doc = version.document
            clock = LocalTime(str(doc.get("timezone") or self.clock.name))
            found = self._compilers[version.version] = Compiler(clock, segment_table(doc.get("segments") or {}, clock))
        return found

    def failing(self, version: VersionRow, expr: Mapping[str, Any], scope: Scope) -> list[str]:
        """The top-level `and` terms of `expr` that are false (the whole expression when it is
        not an `and`), in the playbook's own words; [] when it holds."""
        compiler = self.compiler(version)
        terms = expr["args"] if expr["op"] == "and" else [expr]
        return [expr_text(term) for term in terms if not compiler.compile(term)(scope)]

    def scope(self, event: dict[str, Any] | None, at: int) -> Scope:
        return Scope(self.record, self.account, event, at)

    def why_not(self, version: VersionRow, entry: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Why the contact has no enrolment: facts that keep it out, then the entry's own reason."""
        reasons: list[dict[str, Any]] = []
        if self.deleted:
            reasons.append({"code": "deleted"})
        if not self.record.get("account"):
            reasons.append({"code": "no_account"})
        if entry["kind"] == "event":
            reasons.append(self._event_reason(version, entry))
        else:
            reasons.append(self._segment_reason(version, entry))
        return reasons

    def _event_reason(self, version: VersionRow, entry: Mapping[str, Any]) -> dict[str, Any]:
        event = entry["event"]
        e = s.events
        query = (sa.select(e.c.type, e.c.at, e.c.data, e.c.status, e.c.reason)
                 .where(e.c.contact == self.cid, e.c.type == event)
                 .order_by(e.c.at.desc(), e.c.seq.desc()).limit(LATEST_EVENTS))  # fmt: skip
        received = list(self.conn.execute(query))
        if not received:
            return {"code": "event_never_received", "event": event}
        activated = version.activated_at.timestamp() if version.activated_at is not None else None
        found: dict[str, dict[str, Any]] = {}  # code -> the latest event with that outcome
        for kind, at, data, status, reason in received:  # newest first
            base = {"event": event, "at": when(at, self.clock), "received": len(received)}
            if status == "rejected":
                found.setdefault("event_rejected", {**base, "reason": reason})
            elif status == "new":
                found.setdefault("event_not_processed", base)
            elif activated is not None and at < activated:  # history: no flow reacts to it
                found.setdefault("before_activation", {**base, "activated_at": when(int(activated), self.clock)})
            else:
                where = entry.get("where")
                failed = self.failing(version, where, self.scope({"type": kind, **(data or {})}, at)) if where else []
                if failed:
                    found.setdefault("where_false", {**base, "failed": failed})
                else:
                    found.setdefault("event_matched", base)
        # the most telling outcome among the received events wins
        for code in ("event_matched", "event_not_processed", "where_false", "before_activation", "event_rejected"):
            if code in found:
                return {"code": code, **found[code]}
        raise AssertionError("every received event has an outcome")

    def _segment_reason(self, version: VersionRow, entry: Mapping[str, Any]) -> dict[str, Any]:
        name = entry["segment"]
        segment = (version.document.get("segments") or {}).get(name)
        failed = self.failing(version, segment["expr"], self.scope(None, self.now)) if segment else [f"in {name}"]
        if failed:
            return {"code": "segment_no_match", "segment": name, "failed": failed}
        if entry["kind"] == "segment":
            return {"code": "segment_matches", "segment": name}
        if entry["kind"] == "schedule":
            return {"code": "waits_for_schedule", "segment": name, "schedule": schedule_text(entry["schedule"])}
        at = self.compiler(version).clock.instant(dt.datetime.fromisoformat(entry["at"]))
        code = "once_passed" if at <= self.now else "once_ahead"
        return {"code": code, "segment": name, "at": when(at, self.clock)}


# ---- sentences, for people ------------------------------------------------------------------------------


def why_text(reason: Mapping[str, Any]) -> str:
    """One reason of `why_not` as a sentence in the operator's language."""
    code = reason["code"]
    at = short_time(reason.get("at"))
    terms = "; ".join(reason.get("failed") or [])
    event, segment = event_label(str(reason.get("event", ""))), reason.get("segment", "")
    if code == "deleted":
        return t("the contact is deleted: no journey takes it any more")
    if code == "no_account":
        return t("the contact has no account: nothing can be sent to it")
    if code == "event_never_received":
        return t("no {event} event was ever received for this contact", event=event)
    if code == "event_rejected":
        return t("its {event} event at {at} was rejected: {reason}", event=event, at=at, reason=reason["reason"])
    if code == "event_not_processed":
        return t("its {event} event at {at} has not been processed yet", event=event, at=at)
    if code == "where_false":
        return t("{event} at {at} was received, but its `where` is false: {terms}", event=event, at=at, terms=terms)
    if code == "before_activation":
        return t("{event} at {at} came before this playbook version was activated ({activated})", event=event, at=at,
                 activated=short_time(reason["activated_at"]))  # fmt: skip
    if code == "event_matched":
        return t("{event} at {at} matched, but no enrolment is recorded (re-entry rules, or not processed yet)",
                 event=event, at=at)  # fmt: skip
    if code == "segment_no_match":
        return t("does not match segment {segment} now: {terms}", segment=segment, terms=terms)
    if code == "segment_matches":
        return t("matches segment {segment} now; enters when membership is next evaluated", segment=segment)
    if code == "waits_for_schedule":
        return t("matches segment {segment}; enters at the next firing ({schedule})", segment=segment,
                 schedule=reason["schedule"])  # fmt: skip
    if code == "once_passed":
        return t("the one-time entry at {at} has passed", at=at)
    return t("enters at {at} if it still matches segment {segment} then", at=at, segment=segment)


def _shown(reason: Reason | str) -> str:
    """A touch's reason (the Reason `explain` read from the store) in the operator's language."""
    return reason.text() if isinstance(reason, Reason) else reason


def touch_sentence(touch: Mapping[str, Any]) -> str:
    """What happened to a touch, as the engine decided it and as dispatch carried it out."""
    parts = [_decided(touch), *_carried_out(touch)]
    return t("; ").join(part for part in parts if part)


def _decided(touch: Mapping[str, Any]) -> str:
    """What the engine made of the touch: held, skipped or deferred, and why ("" when it let it go on time)."""
    outcome, state = touch.get("outcome"), touch["state"]
    if state == "held":
        held = touch.get("held_reasons")
        return (t("held since {due}: {reason}", due=short_time(touch["due"]), reason=joined(held).text())
                if held else t("held since {due}", due=short_time(touch["due"])))  # fmt: skip
    if outcome == "skipped":
        return t("skipped: {reason}", reason=_shown(touch["reason"]))
    if outcome == "deferred":
        return t("deferred from {due} to {at} by {reason}", due=short_time(touch["due"]), at=short_time(touch["at"]),
                 reason=_shown(touch["reason"]))  # fmt: skip
    return ""


def _carried_out(touch: Mapping[str, Any]) -> list[str]:
    """What dispatch made of it: sent (how, when), waiting, failing, dead or unknown."""
    state, attempt, error = touch["state"], touch.get("attempts", 0), touch.get("error")
    if state == "sent":
        return _sent(touch)
    if state == "pending":
        at = short_time(touch.get("next_attempt_at") or touch["at"])
        return [t("held back until {at}: {error}", at=at, error=error) if error
                else t("waiting to go out at {at}", at=at)]  # fmt: skip
    if state == "sending":
        return [t("being sent (attempt {n})", n=attempt)]
    if state == "failed":
        return [t("failed: {error} (attempt {n}, retrying at {at})", error=error or "", n=attempt,
                  at=short_time(touch.get("next_attempt_at")))]  # fmt: skip
    if state == "dead":
        return [t("dead letter: {error}", error=error or "")]
    if state == "unknown":
        return [t("unknown whether it went out: {error}", error=error or "")]
    return []


def _sent(touch: Mapping[str, Any]) -> list[str]:
    at = short_time(touch["sent_at"])
    parts = [
        t("went out at {at} (late)", at=at) if touch.get("on_time") is False else t("went out at {at} (on time)", at=at)
    ]
    if touch.get("via") == "welcome":
        parts.append(t("as WeCom's welcome message (send_welcome_msg, at once, no quota)"))
    elif touch.get("via") == "task":
        parts.append(t("as a mass-message task for the staff member to confirm"))
    if touch.get("receipt") == "expired":
        parts.append(t("nobody confirmed it in time: the task was cancelled (expired)"))
    return parts
