"""The plan's JSON contract (PRODUCT.md) as Python values: the head's fields, a touch's
and an event's dict, and `Dump`, the encoder that writes them (`json.dumps` with sorted keys,
ensure_ascii off). The oracle the hand-written lines (plan/jsonlines.py) are held equal to
(tests/test_plan_output.py), and their way out for a value of an unexpected type.

The JSON is for scripts: the same bytes in every language, so touch reasons and row
problems stay in English there.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from json.encoder import c_make_encoder  # type: ignore[attr-defined]
from json.encoder import encode_basestring as _quote  # the C function json.dumps(ensure_ascii=False) quotes with
from typing import Any

from playbook.plan.notes import head_json
from playbook.plan.part import PlanResult
from playbook.vocab.localtime import LocalTime, iso
from playbook.vocab.model import StateEvent, Touch

TIME_KEYS = ("closes", "deadline")  # event data that are instants, written as ISO text


class IsoTimes:
    """ISO text of instants, remembered: a plan has many touches at the same moment."""

    def __init__(self, clock: LocalTime):
        self.clock = clock
        self.cache: dict[int, str] = {}

    def __call__(self, ts: int) -> str:
        text = self.cache.get(ts)
        if text is None:
            text = self.cache[ts] = iso(ts, self.clock)
        return text


def touch_json(t: Touch, when: IsoTimes) -> dict[str, Any]:
    out: dict[str, Any] = {
        "at": when(t.at),
        "due": when(t.due),
        "channel": t.channel,
        "account": t.account,
        "flow": t.flow,
        "step": t.step,
        "content": t.content,
        "text": t.text,
        "outcome": t.outcome,
        "reason": t.reason,
        "key": t.key,
    }
    if t.contact is not None:
        out["contact"] = t.contact
    if t.group is not None:
        out["group"] = t.group
    if t.audience is not None:
        out["audience"] = t.audience.ids()
    if t.parts:
        out["parts"] = t.parts
    return out


def event_json(e: StateEvent, clock: LocalTime, when: Callable[[int], str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"at": when(e.at) if when is not None else iso(e.at, clock), "type": e.type}
    if e.contact is not None:
        out["contact"] = e.contact
    if e.flow is not None:
        out["flow"] = e.flow
    for key, value in e.data.items():
        out[key] = iso(value, clock) if key in TIME_KEYS and isinstance(value, int) else value
    return out


def events_in_order(result: PlanResult) -> list[StateEvent]:
    """What the playbooks did (enter, exit, tags, goals, groups, service levels) and the
    events --simulate drew, by time, account and contact, then in the order they happened;
    the input file's own events are not repeated. (So ordered, the list is the same whether
    the accounts were planned together or in shards.)"""
    fields = result.contacts.fields
    drawn = [
        StateEvent(e.at, e.type, e.contact, None, {**e.data}, None, fields.get(e.contact, {}).get("account"))
        for e in result.inputs
        if e.data.get("simulated")
    ]
    return sorted([*result.events, *drawn], key=lambda e: (e.at, e.account or "", e.contact or ""))


def summary(result: PlanResult) -> dict[str, Any]:
    by_channel: Counter[str] = Counter()
    by_outcome: Counter[str] = Counter()
    for (_, _, channel, outcome, _), n in result.counts().items():
        by_channel[channel] += n
        by_outcome[outcome] += n
    return {"by_channel": dict(sorted(by_channel.items())), "by_outcome": dict(sorted(by_outcome.items()))}


def json_head(result: PlanResult) -> dict[str, Any]:
    """The contract's fields before the events and touches."""
    clock = result.clock
    # per SLA, per staff account: met / late / missed — where the playbooks declare service levels
    slas = {"service_levels": result.service_levels} if any(pb.slas for pb in result.playbooks) else {}
    return {
        **head_json(result),  # what --simulate drew (at a rate), A/B sample-size warnings: where there are
        **slas,
        "version": 1,
        "playbook": result.version,
        "start": iso(result.start, clock),
        "end": iso(result.end, clock),
        "summary": summary(result),
        "metrics": result.metrics,
        "problems": [{"file": p.file, "row": p.row, "reason": p.reason} for p in result.problems]
        + [{"event": e.type, "contact": e.contact, "reason": "unknown contact"} for e in result.unknown_contacts],
    }


class Dump:
    """`json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode`, its C part made once:
    JSONEncoder makes it anew at each call, which costs more than encoding a small dict
    (a plan writes a line per event, a million of them)."""

    def __init__(self) -> None:
        self.plain = json.JSONEncoder(ensure_ascii=False, sort_keys=True)
        self.encoder = self._make()

    def _make(self) -> Any:
        if c_make_encoder is None:  # no C accelerator: json's own way
            return None
        # the arguments JSONEncoder.iterencode gives it: markers, default, quoting, indent,
        # separators, sort_keys, skipkeys, allow_nan
        return c_make_encoder({}, self.plain.default, _quote, None, ": ", ", ", True, False, True)

    def __call__(self, o: Any) -> str:
        if self.encoder is None:
            return self.plain.encode(o)
        try:
            return "".join(self.encoder(o, 0))
        except Exception:
            self.encoder = self._make()  # its circular-reference markers may be left dirty
            return self.plain.encode(o)  # the same text, or the same error
