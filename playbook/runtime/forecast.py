"""What the daemon will do next, from the store's state now (`playbook plan --db`).

The engine is restored exactly as the daemon restores it (`Decider.build`: contacts,
enrolments mid-journey and their next steps, held touches, the current periods' limit
counts, open group instances, rotation cycles, service-level watches; older versions
finishing; catch-up after downtime; new versions taking over), the events waiting in the
store are fed to it, and it runs forward over a simulated clock — as `plan` runs it —
to the horizon. Nothing is written to the store. The playbooks are the given paths (what
a reload would load) or, without paths, the versions the store runs.

`cli/plan.py` puts the result into the plan's outputs; this module knows nothing of them
(plan/ and runtime/ are siblings).

On a store with shards each shard is forecast apart, from its own view (`Store.view`), as
that shard's daemon engine is restored — its own clock, rotation cycles, SLA base, timers
— and the shards that others forward touches to (an SLA's escalation for a supervisor of
that shard: storage/forwards.py) are forecast again with them, at their time, as their
daemons take them (`run_shards_ahead`); the shards' results are put together: touches and state events in the plan's order
(by time, then account, then contact; no two shards share an account or a contact, so
the order between them is not left to chance), every shard's engine kept (`engines`) for
what is read across them (metrics, who is mid-journey), contacts and unknown contacts
united, load reports added up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from playbook.compiler import ir
from playbook.engine.contacts import Contacts
from playbook.engine.core import Engine, Sink
from playbook.runtime.decide import Ahead, Decider, LoadReport, current_documents, run_ahead, run_shards_ahead
from playbook.runtime.store import Store
from playbook.vocab.limits import LimitRule
from playbook.vocab.model import Event, StateEvent, Touch


@dataclass
class Forecast:
    engines: list[Engine]  # one per shard, in shard order (one: a store without shards)
    playbooks: list[ir.Playbook]  # every version an engine runs (older ones first)
    start: int
    end: int
    touches: list[Touch]  # decided from `start` on and due before `end` (one engine: in the order decided)
    events: list[StateEvent]  # state events before `end`
    inputs: list[Event]  # the store's events not yet processed, fed to the engines
    load: LoadReport
    contacts: Contacts  # every engine's contacts and accounts
    unknown_contacts: list[Event]  # events of contacts no engine knows, by time then arrival
    current: list[str] = field(default_factory=list)  # the running versions (the paths', or the store's)


def forecast(store: Store, paths: Sequence[str], start: int, end: int, *, shared_limits: Sequence[LimitRule] = (),
             can_dissolve_groups: bool = True, grace: int = 3600) -> Forecast:  # fmt: skip
    """The engines restored from `store` at `start` (the daemons' now) and run to `end`:
    one engine, or on a store with shards one per shard, put together."""
    count = store.shard_count() if store.shard is None else 1
    if count == 1:
        records = _Records(end)
        ahead = run_ahead(store, paths, start, end, records.sink, shared_limits=shared_limits,
                          can_dissolve_groups=can_dissolve_groups, grace=grace)  # fmt: skip
        return _part(ahead, records, start, end)
    current = Decider(store, paths).compile() if paths else current_documents(store)  # once, for every shard
    records_of: dict[int, _Records] = {}

    def sink_for(shard: int) -> Sink:
        records = records_of[shard] = _Records(end)  # a shard forecast again starts afresh
        return records.sink

    aheads = run_shards_ahead(store, paths, start, end, sink_for, shared_limits=shared_limits,
                              can_dissolve_groups=can_dissolve_groups, grace=grace, current=current)  # fmt: skip
    return _merged([_part(ahead, records_of[shard], start, end) for shard, ahead in enumerate(aheads)], store)


class _Records:
    """What one engine's forecast decided before `end`: touches (by due) and state events."""

    def __init__(self, end: int) -> None:
        self.end = end
        self.touches: list[Touch] = []
        self.events: list[StateEvent] = []

    def sink(self, record: Any) -> None:
        if isinstance(record, Touch):
            if record.due < self.end:
                self.touches.append(record)
        elif record.at < self.end:
            self.events.append(record)


def _part(ahead: Ahead, records: _Records, start: int, end: int) -> Forecast:
    """One engine (the store's, or one shard's) restored and run to `end`."""
    engine = ahead.decider.engine
    assert engine is not None
    return Forecast([engine], ahead.decider.playbooks, start, end, records.touches, records.events, ahead.inputs,
                    ahead.report, engine.contacts, engine.unknown_contacts,
                    [doc["version"] for doc in ahead.current])  # fmt: skip


def _merged(parts: list[Forecast], store: Store) -> Forecast:
    """The shards' forecasts as one: what every shard's daemon will do."""
    first = parts[0]
    touches = [(x, shard) for shard, part in enumerate(parts) for x in part.touches]
    touches.sort(key=lambda pair: (pair[0].at, pair[0].account or "", pair[0].contact or "", pair[1]))
    events = [(_event_key(x, part.contacts), shard) for shard, part in enumerate(parts) for x in part.events]
    order = sorted(range(len(events)), key=lambda i: (events[i][0], events[i][1]))
    flat_events = [x for part in parts for x in part.events]
    inputs = sorted((x for part in parts for x in part.inputs), key=lambda e: (e.at, e.seq))
    unknown = sorted((x for part in parts for x in part.unknown_contacts), key=lambda e: (e.at, e.seq))
    contacts = Contacts()
    for part in parts:
        contacts.fields.update(part.contacts.fields)
        contacts.deleted |= part.contacts.deleted
        contacts.accounts.update(part.contacts.accounts)
        for account, members in part.contacts.by_account.items():
            contacts.by_account.setdefault(account, {}).update(members)
    return Forecast([part.engines[0] for part in parts], _playbooks(parts, store), first.start, first.end,
                    [x for x, _ in touches], [flat_events[i] for i in order], inputs, _load(parts), contacts, unknown,
                    first.current)  # fmt: skip


def _event_key(event: StateEvent, contacts: Contacts) -> tuple[int, str, str]:
    """A state event's place in the plan: time, account (as the plan gives it), contact."""
    account = event.data.get("account") if event.contact is None else \
        contacts.fields.get(event.contact, {}).get("account")  # fmt: skip
    return event.at, account or "", event.contact or ""


def _playbooks(parts: list[Forecast], store: Store) -> list[ir.Playbook]:
    """Every version some shard's engine runs: older ones first, by when they were made
    (as one engine orders them), then the running ones."""
    by_version = {pb.version: pb for part in reversed(parts) for pb in part.playbooks}
    current = parts[0].current
    made = {row.version: (row.created_at, row.version) for row in store.versions(documents=False)}
    older = sorted((v for v in by_version if v not in current), key=made.__getitem__)
    return [by_version[v] for v in older] + [by_version[v] for v in current if v in by_version]


def _load(parts: list[Forecast]) -> LoadReport:
    """The shards' load reports added up (versions: the running ones, the same for all)."""
    first = parts[0].load
    finishing = list(dict.fromkeys(v for part in parts for v in part.load.finishing))
    report = LoadReport(first.versions, first.new, finishing, all(part.load.fresh for part in parts))
    for part in parts:
        report.missed += part.load.missed
        report.caught_up += part.load.caught_up
        report.migrated += part.load.migrated
        report.awaiting.update(part.load.awaiting)
        report.replaced += [v for v in part.load.replaced if v not in report.replaced]
    return report
