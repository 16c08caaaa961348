"""A plan in shards: the accounts split over several processes, planned at once.

Everything the engine decides is per contact or per account — limits count per contact or
per account, a group instance, a Moments post and a rotation belong to one account, and
a contact is planned with its account — so the accounts can be planned apart and the
results put together. Each worker process reads the files itself, keeps the rows of its
own accounts (`Shard`: an account's shard is a hash of its id), runs the same engine on
them, and hands back its counts, metrics, row problems and, for JSON, its lines in
files. The parent puts the lines in the plan's order — by time, then account; two shards
never share an account, so no tie between them is left to chance — and copies the bytes
into the output (plan/merge.py). The result is byte for byte the plan of one process (tests/
test_plan_shards.py holds them equal).

When the data moves a contact to an account of another shard (an event's `account`), or
one contact id is on rows of two shards, a shard stops with `NotShardable` and the plan
is made in one process. So is the plan of playbooks whose SLAs escalate (a supervisor's
tasks come from the contacts of every account).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from playbook.compiler import ir
from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
from playbook.engine.core import Contacts
from playbook.i18n import t
from playbook.plan.merge import MergedSections
from playbook.plan.owners import NotShardable, Shard
from playbook.plan.part import JourneyCounts, PlanInput, PlanResult, add_sla_outcomes, metrics, plan_part
from playbook.plan.sections import write_section_lines
from playbook.plan.touches import touches_of
from playbook.vocab.localtime import LocalTime
from playbook.vocab.model import Event, StateEvent, Touch


@dataclass
class ShardOutput:
    """What a worker hands back: small things by value, the JSON lines in files."""

    counts: Counter[tuple[str, str, str, str, str]]
    metrics: dict[str, JourneyCounts]
    problems: list[Any]
    unknown_contacts: list[Event]
    accounts: dict[str, dict[str, Any]]
    sections: dict[str, Any] | None  # sections.SectionLines by section, for JSON
    view: tuple[dict[str, Any], list[Touch], list[StateEvent], list[Event]] | None  # PlanInput.contact's
    event_types: dict[str, int] = field(default_factory=dict)  # its events' types, how many of each
    drawn: Counter[tuple[str, str]] | None = None  # what --simulate drew (PlanResult.drawn)
    service_levels: dict[str, Any] = field(default_factory=dict)  # its SLA outcomes per account (run.sla_outcomes)


def _work(spec: PlanInput, playbooks: list[ir.Playbook], start: int, end: int, shard: Shard, directory: str,
          done: Any, conn: multiprocessing.connection.Connection) -> None:  # fmt: skip
    def progress(at: int, total: int) -> None:
        done.value = at / total

    try:
        result = plan_part(spec, playbooks, start, end, shard, progress)
        sections = None
        if spec.output == "json":
            sections = write_section_lines(result, directory)
        conn.send(("ok", ShardOutput(result.counts(), result.metric_counts or {}, result.problems,
                                     result.unknown_contacts, result.contacts.accounts, sections,
                                     _view(result, spec.contact), result.event_types, result.drawn,
                                     result.service_levels)))  # fmt: skip
    except NotShardable as exc:
        conn.send(("not shardable", str(exc)))
    except KeyboardInterrupt:
        pass  # Ctrl-C reaches the whole group: the parent stops the plan and says so
    except BaseException as exc:  # handed to the parent, which raises it
        try:
            conn.send(("error", exc))
        except Exception:
            conn.send(("error", RuntimeError(repr(exc))))
    finally:
        conn.close()


def _view(result: PlanResult, contact: str | None) -> tuple | None:
    """One contact's own timeline (`plan --contact`), if it is this shard's."""
    if contact is None or contact not in result.contacts.fields:
        return None
    touches = [Touch(x.at, x.due, x.channel, x.account, x.flow, x.step, x.content, x.text, x.outcome, x.reason,
                     x.version, x.key, x.contact, x.group, None if x.audience is None else (contact,), x.priority,
                     x.step_order, x.parts) for x in touches_of(result.touches, contact)]  # fmt: skip
    events = [e for e in result.events if e.contact == contact]
    inputs = [e for e in result.inputs if e.contact == contact]
    return result.contacts.fields[contact], touches, events, inputs


def run_in_shards(spec: PlanInput, playbooks: list[ir.Playbook], start: int, end: int,
                  progress: Callable[[int, int], None] | None) -> PlanResult | None:  # fmt: skip
    """The plan made by `spec.workers` processes; None when the data cannot be split (or
    this system cannot fork): plan in one process then."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    if any(s.escalations for pb in playbooks for s in pb.slas.values()):
        # An SLA escalation is a task for a supervisor's account about other accounts'
        # contacts: its limits and a role's holders span the shards.
        return None
    context = multiprocessing.get_context("fork")
    count = spec.workers
    directory = tempfile.mkdtemp(prefix="playbook-plan-") if spec.output == "json" else ""  # the JSON lines go there
    workers = []
    try:
        for index in range(count):
            part = os.path.join(directory, str(index)) if directory else ""
            if part:
                os.mkdir(part)
            done = context.Value("d", 0.0, lock=False)
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_work, args=(spec, playbooks, start, end, Shard(index, count, spec.columns), part,
                                                          done, send), daemon=True)  # fmt: skip
            process.start()
            send.close()
            workers.append((process, receive, done))
        outputs = _collect(workers, progress, end - start)
    except BaseException:
        if directory:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    finally:
        for process, receive, _ in workers:
            if process.is_alive():
                process.kill()
            process.join()
            receive.close()
    if outputs is None:
        if directory:
            shutil.rmtree(directory, ignore_errors=True)
        return None
    return _put_together(spec, playbooks, start, end, outputs, directory)


def _collect(workers: list, progress: Callable[[int, int], None] | None, span: int) -> list[ShardOutput] | None:
    """Every worker's output, in shard order (None: a shard found the data cannot be split)."""
    outputs: dict[int, ShardOutput] = {}
    waiting = {receive: index for index, (_, receive, _) in enumerate(workers)}
    while waiting:
        for receive in multiprocessing.connection.wait(list(waiting), timeout=0.25):
            index = waiting.pop(receive)  # type: ignore[call-overload]
            try:
                kind, value = receive.recv()  # type: ignore[union-attr]
            except EOFError:
                # The pipe can close a moment before the process is reaped; wait for its exit code.
                workers[index][0].join(timeout=10)
                code = workers[index][0].exitcode
                raise PlaybookError([Diagnostic(ERROR, "plan", t(
                    "a planning process ended without its result (exit code {code}); is the machine out of memory?",
                    code=code))]) from None  # fmt: skip
            if kind == "not shardable":
                return None
            if kind == "error":
                raise value
            outputs[index] = value
        if progress is not None:
            share = sum(1.0 if i in outputs else done.value for i, (_, _, done) in enumerate(workers)) / len(workers)
            progress(int(share * span), span)
    return [outputs[i] for i in range(len(workers))]


def _put_together(spec: PlanInput, playbooks: list[ir.Playbook], start: int, end: int,
                  outputs: list[ShardOutput], directory: str) -> PlanResult:  # fmt: skip
    clock = LocalTime(playbooks[0].timezone)
    counts: Counter[tuple[str, str, str, str, str]] = Counter()
    parts: dict[str, JourneyCounts] = {}
    contacts = Contacts()
    event_types: Counter[str] = Counter()
    drawn: Counter[tuple[str, str]] | None = Counter() if spec.simulate else None
    service_levels: dict[str, Any] = {}
    for out in outputs:
        counts.update(out.counts)
        if drawn is not None and out.drawn:
            drawn.update(out.drawn)
        event_types.update(out.event_types)
        add_sla_outcomes(service_levels, out.service_levels)
        for key, journey in out.metrics.items():
            parts.setdefault(key, JourneyCounts()).add(journey)
        contacts.accounts.update(out.accounts)
    # Row problems by file (accounts, contacts, events, as one process reads them), then row;
    # unknown contacts in the order the engine met them: by time, then arrival.
    files = [f for f in (spec.accounts, spec.contacts, spec.events) if f]
    problems = sorted((p for out in outputs for p in out.problems), key=lambda p: (files.index(p.file), p.row))
    unknown = sorted((e for out in outputs for e in out.unknown_contacts), key=lambda e: (e.at, e.seq))
    touches: list[Touch] = []
    events: list[StateEvent] = []
    inputs: list[Event] = []
    for out in outputs:
        if out.view is not None:
            record, touches, events, inputs = out.view
            contacts.fields[record["id"]] = record
    sections = None
    if directory:  # JSON: the lines to put together
        sections = MergedSections([out.sections for out in outputs if out.sections is not None], directory)
    return PlanResult(playbooks, clock, start, end, touches, events, metrics(dict(sorted(parts.items()))), problems,
                      unknown, contacts, inputs, counts, sections, metric_counts=parts, event_types=dict(event_types),
                      drawn=drawn,
                      service_levels={k: dict(sorted(v.items())) for k, v in sorted(service_levels.items())})  # fmt: skip
