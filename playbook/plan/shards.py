"""A plan in shards: the accounts split over several processes, planned at once.

Everything the engine decides is per contact or per account — limits count per contact or
per account, a group instance, a Moments post and a rotation belong to one account, and
a contact is planned with its account — so the accounts can be planned apart and the
results put together. Each worker process reads the files itself, keeps the rows of its
own accounts (`Shard`: an account's shard is a hash of its id), runs the same engine on
them, and hands back its counts, metrics, row problems and, for JSON, its lines in
files. The parent puts the lines in the plan's order — by time, then account; two shards
never share an account, so no tie between them is left to chance — and copies the bytes
into the output. The result is byte for byte the plan of one process (tests/
test_plan_shards.py holds them equal).

When the data moves a contact to an account of another shard (an event's `account`), or
one contact id is on rows of two shards, a shard stops with `NotShardable` and the plan
is made in one process. So is the plan of playbooks whose SLAs escalate (a supervisor's
tasks come from the contacts of every account).
"""

from __future__ import annotations

import errno
import io
import mmap
import multiprocessing
import multiprocessing.connection
import os
import shutil
import stat
import tempfile
import weakref
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from playbook.compiler import ir
from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
from playbook.engine.core import Contacts
from playbook.i18n import t
from playbook.plan.jsonwriter import LINE_SEPARATOR
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


# ---- the JSON lines, put together ----------------------------------------------------------------


class MergedSections:
    """The shards' lines of each JSON section, written in the plan's order: by time, then
    account (then contact, for lines without one), then each shard's own order (its lines
    are in that order already). No two shards have lines of one account or contact, so
    their order is not left to chance."""

    def __init__(self, parts: list[dict[str, Any]], directory: str):
        self.parts = parts
        self.directory = directory
        weakref.finalize(self, shutil.rmtree, directory, True)  # the files go, whatever happens

    def write(self, name: str, out: TextIO) -> None:
        """What write_json writes after a section's '[': its lines, then the ']'."""
        lines = [part[name] for part in self.parts]
        if not sum(len(x.at) for x in lines):
            out.write("]")
            return
        at = np.concatenate([x.at for x in lines])
        account = _ranks([(x.accounts, x.account) for x in lines])
        contact = _ranks([(x.contacts, x.contact) for x in lines])
        shard = np.concatenate([np.full(len(x.at), i, np.int64) for i, x in enumerate(lines)])
        order = _in_order(at, account, contact)
        shard = shard[order]
        ends = np.concatenate([x.ends for x in lines])
        begins = ends - np.concatenate([np.diff(x.ends, prepend=0) for x in lines])
        begins, ends = begins[order], ends[order]
        # runs of consecutive lines of one shard (consecutive in its file too): one copy each
        starts = np.flatnonzero(np.diff(shard, prepend=-1))
        stops = np.append(starts[1:], len(shard)) - 1
        ends_of_runs = ends[stops]
        ends_of_runs[-1] -= len(LINE_SEPARATOR.encode())  # no separator after the last line
        out.write("\n    ")
        paths = [x.path for x in lines]
        run_shard, run_begin = shard[starts], begins[starts]
        run_length = ends_of_runs - run_begin
        # Long runs (touches: Moments audiences) are copied by the kernel, side by side;
        # short ones (events) are gathered in order, where a call per run would cost more.
        long_runs = int(run_length.sum()) >= _LONG_RUNS * len(run_length)
        if not (long_runs and _copy_at_once(out, paths, run_shard, run_begin, run_length)):
            _gather(out, paths, run_shard, run_begin, run_length)
        out.write("\n  ]")

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _in_order(at: np.ndarray, account: np.ndarray, contact: np.ndarray) -> np.ndarray:
    """The order of the lines by (time, account, contact), ties in the order given (the
    shards' lines one shard after the other, each shard's in its own order). One integer
    key where the three fit in 63 bits: a stable sort of it finds the shards' sorted runs
    and merges them, in a fraction of a three-key sort."""
    low = int(at.min())
    widths = [int(at.max() - low).bit_length(), int(account.max()).bit_length(), int(contact.max()).bit_length()]
    if sum(widths) > 62:
        return np.lexsort((np.arange(len(at)), contact, account, at))  # the last key first
    key = (((at - low) << widths[1] | account) << widths[2]) | contact
    return np.argsort(key, kind="stable")


def _ranks(parts: list[tuple[list[str], np.ndarray]]) -> np.ndarray:
    """Each line's string (given per shard as its names and an index into them) as its rank
    among all the shards' names."""
    rank = {a: i for i, a in enumerate(sorted(set().union(*(names for names, _ in parts))))}
    return np.concatenate([np.array([rank[a] for a in names], np.int64)[codes] for names, codes in parts])


def _copy_at_once(out: TextIO, paths: list[str], run_shard: np.ndarray, run_begin: np.ndarray,
                  run_length: np.ndarray) -> bool:  # fmt: skip
    """Into an output that is a regular file: every run to its place at once, a thread per
    shard copying its runs (the kernel copies; the copies of two threads go side by side).
    False for another kind of output (a pipe): then copy in order."""
    try:
        out.flush()
        fd = out.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        base = os.lseek(fd, 0, os.SEEK_CUR)
    except (AttributeError, OSError, io.UnsupportedOperation):
        return False
    places = base + np.cumsum(run_length) - run_length

    def copy(k: int) -> None:
        mine = run_shard == k
        with open(paths[k], "rb") as source:
            runs = zip(run_begin[mine].tolist(), places[mine].tolist(), run_length[mine].tolist(), strict=True)
            _copy_runs(source.fileno(), fd, runs)

    with ThreadPoolExecutor(len(paths)) as pool:
        for done in [pool.submit(copy, k) for k in range(len(paths))]:
            done.result()  # raises what a thread raised
    os.lseek(fd, base + int(run_length.sum()), os.SEEK_SET)
    return True


def _copy_runs(source: int, target: int, runs: Any) -> None:
    """Byte ranges (offset, place, count) of one file into places of another: by
    copy_file_range, or by reading and writing where the system cannot."""
    kernel = hasattr(os, "copy_file_range")
    for offset, place, count in runs:
        while count > 0:
            if kernel:
                try:
                    done = os.copy_file_range(source, target, count, offset, place)
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                        raise
                    kernel = False
                    continue
            else:
                done = os.pwrite(target, os.pread(source, count, offset), place)
            if done == 0:
                raise OSError(errno.EIO, "the plan's lines ended early")
            offset, place, count = offset + done, place + done, count - done


_LONG_RUNS = 4096  # bytes per run on average, from which the kernel copies a section


def _gather(out: TextIO, paths: list[str], run_shard: np.ndarray, run_begin: np.ndarray,
            run_length: np.ndarray) -> None:  # fmt: skip
    """The runs in order into the output, gathered a few MB at a time from the mapped files:
    written to its file descriptor, or as text to an output without one (a StringIO)."""
    files, views = [], []
    try:
        for path in paths:
            f = open(path, "rb")  # noqa: SIM115 (closed below)
            files.append(f)
            size = os.fstat(f.fileno()).st_size
            views.append(memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)) if size else memoryview(b""))
        try:
            out.flush()
            fd: int | None = out.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):
            fd = None
        buffer = bytearray()
        for k, begin, count in zip(run_shard.tolist(), run_begin.tolist(), run_length.tolist(), strict=True):
            buffer += views[k][begin : begin + count]
            if len(buffer) >= 1 << 22:
                _put(out, fd, buffer)
                buffer.clear()
        _put(out, fd, buffer)
    finally:
        for view in views:
            view.release()
        for f in files:
            f.close()


def _put(out: TextIO, fd: int | None, data: bytearray) -> None:
    """Whole lines of UTF-8 into the output."""
    if fd is None:
        out.write(data.decode("utf-8"))
        return
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
