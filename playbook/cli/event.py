"""playbook event TYPE --contact ID [KEY=VALUE…] [--at TIME] [--db URL] — append one event
to the store's event log (source "cli"); the daemon processes it like any other. Values
are typed as in data files: 3000 and 99.5 are numbers, 2026-12-01 a date, true/false
booleans, anything else text. The event is checked by the same rules as `plan`'s events.

playbook event --file PATH [--strict] [--db URL] — append every event of a JSON Lines file
(`-`: standard input; a `.csv`/`.tsv` file is read as CSV, docs/data.md), one
{"type", "contact", "at", …data} object a line, read and checked
exactly as `plan --events` reads its file (times without an offset are in --timezone, else
the active playbook's). Bad rows are reported with their row number and reason and the
good ones are stored, in file order, with source "file" in one transaction: all of them or,
if the store fails, none. Exit 1 when any row had a problem; with --strict a single bad row
stores nothing.

Idempotent: an event with an `id` (`--id`, or an `id` field/column in the file) is stored
once; sent again it is acknowledged ("already stored") and not stored twice, for as long
as the store remembers the id (`[intake] remember_ids`, 30 days). A row repeating an id of
the same file is the same event, counted once. Events more than a day in the future are
refused; a few minutes ahead or more than 30 days old are stored with a warning
(docs/daemon.md, "Events far in the past or future").
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from playbook.cli.columns import columns_option
from playbook.cli.store_options import db_option, store_clock, timezone_option
from playbook.i18n import N_, t, tn

if TYPE_CHECKING:
    from playbook.data.columns import ColumnMap
    from playbook.data.files import RowProblem
    from playbook.vocab.localtime import LocalTime
    from playbook.vocab.model import Event

RESERVED = ("type", "contact", "at")
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")  # what data.files reads as JSON Lines (anything else: CSV)
CSV_SUFFIXES = (".csv", ".tsv")  # read as CSV (docs/data.md); any other name is taken for JSON Lines
STDIN = "-"
STDIN_NAME = "<stdin>"  # how problems in standard input are located
WARNINGS_SHOWN = 20  # warnings about event times printed for a file (--format json lists them all)
wall_clock = time.time  # what events far in the past or future are judged against (tests pin it)


def _fields(pairs: tuple[str, ...]) -> dict[str, str]:
    """KEY=VALUE arguments as a record's raw fields; bad ones exit 1 like any bad input."""
    from playbook.diagnostics import ERROR, Diagnostic, PlaybookError

    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            message = t("'{pair}' is not KEY=VALUE", pair=pair)
        elif key in RESERVED:
            message = t("'{key}' is set by its own option, not as KEY=VALUE", key=key)
        else:
            out[key] = value
            continue
        raise PlaybookError([Diagnostic(ERROR, "event", t("bad event: {reason}", reason=message))])
    return out


def _option_error(message: str) -> Exception:
    from playbook.diagnostics import ERROR, Diagnostic, PlaybookError

    return PlaybookError([Diagnostic(ERROR, "option", message)])


def _check_form(kind: str | None, pairs: tuple[str, ...], contact: str | None, at: str | None, file: str | None,
                strict: bool) -> None:  # fmt: skip
    """One event (TYPE --contact) or a file (--file), never a mix of the two."""
    if file is not None:
        if kind is not None or pairs or contact is not None or at is not None:
            raise _option_error(t("--file reads the events from the file: leave out TYPE, KEY=VALUE, --contact "
                                  "and --at"))  # fmt: skip
        return
    if strict:
        raise _option_error(t("--strict applies to --file only"))
    if kind is None and contact is None:
        raise _option_error(t("give an event (TYPE --contact ID) or a file of events (--file PATH, - for stdin)"))
    if kind is None:
        raise _option_error(t("give the event's TYPE, like friend_added"))
    if contact is None:
        raise _option_error(t("--contact is required with TYPE (or use --file)"))


@click.command(name="event", help=t("Append one event, or a JSON Lines file of them, to the store."))
@click.argument("kind", metavar="TYPE", required=False)
@click.argument("pairs", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--contact", metavar="ID", help=t("The contact the event is about."))
@click.option("--at", "at", metavar="TIME", help=t("When it happened, like 2026-12-01T09:00:00+08:00 (default: now)."))
@click.option(
    "--file",
    "file",
    metavar="PATH",
    help=t("Append every event of a JSON Lines file instead (- reads standard input)."),
)
@click.option("--strict", is_flag=True, help=t("With --file: any bad row is fatal and nothing is stored."))
@click.option(
    "--id",
    "event_id",
    metavar="ID",
    help=t("The event's id: sent again with the same id, it is not stored twice."),
)
@db_option
@timezone_option
@columns_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help=t("text for people, json for scripts."),
)
def command(kind: str | None, pairs: tuple[str, ...], contact: str | None, at: str | None, file: str | None,
            strict: bool, event_id: str | None, db: str | None, timezone: str | None, columns: str | None,
            fmt: str) -> None:  # fmt: skip
    from playbook.cli.columns import column_pairs
    from playbook.cli.common import say
    from playbook.data.columns import EVENTS, ColumnMap
    from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
    from playbook.runtime.store import Store, StoreError, default_url

    _check_form(kind, pairs, contact, at, file, strict)
    if file is not None and event_id is not None:
        raise _option_error(t("--id names one event: with --file, give each row an id field"))
    mapping = ColumnMap(EVENTS, column_pairs(columns))
    try:
        with Store(db or default_url()) as store:
            store.migrate()
            clock = store_clock(store, timezone)
            if file is not None:
                _from_file(store, file, clock, strict, fmt, mapping)
                return
            assert kind is not None and contact is not None  # _check_form
            event, seq, repeated = _one(store, kind, contact, at, pairs, clock, mapping, event_id)
            _unheard(store, {event.type: 1}, "")
    except StoreError as exc:
        raise PlaybookError([Diagnostic(ERROR, "store", t("cannot use the store: {reason}", reason=exc))]) from None

    if fmt == "json":
        doc = {"seq": seq, "type": event.type, "contact": event.contact, "at": event.at}
        if event_id is not None:
            doc.update(id=event_id, repeated=repeated)
        click.echo(json.dumps(doc, ensure_ascii=False, sort_keys=True))
    elif repeated:
        say(t("event {seq} was already stored with id {id}: not stored again", seq=seq, id=event_id))
    else:
        say(t("event {seq} stored: {type} for contact {contact}", seq=seq, type=event.type, contact=event.contact))


def _unheard(store: Any, types: dict[str, int], file: str) -> None:
    """Warn (stderr) about event types no active playbook listens to (nothing happens on
    them); said only when some playbook is active."""
    from playbook.cli.columns import unheard_events
    from playbook.cli.common import print_diagnostics

    documents = [row.document for row in store.versions(active=True) if isinstance(row.document, dict)]
    if documents:
        listened = {str(e) for doc in documents for e in doc.get("events") or ()}
        print_diagnostics(unheard_events(types, listened, file), stderr=True)


def _refuse(reason: str) -> Exception:
    from playbook.diagnostics import ERROR, Diagnostic, PlaybookError

    return PlaybookError([Diagnostic(ERROR, "event", t("bad event: {reason}", reason=reason))])


def _one(store: Any, kind: str, contact: str, at: str | None, pairs: tuple[str, ...], clock: LocalTime,
         mapping: ColumnMap, event_id: str | None) -> tuple[Event, int, bool]:  # fmt: skip
    """Store one event; its seq, and whether its id was already taken by the same event."""
    import datetime as dt

    from playbook.cli.common import say
    from playbook.data.files import event_from_record
    from playbook.data.values import DataValueError
    from playbook.runtime.intake import time_rule

    given = _fields(pairs)  # KEY=VALUE keys are read like a file's columns: 昵称=张三 is the name
    fields = mapping.header(list(given)).fields
    for key, field in zip(given, fields, strict=True):
        if field in RESERVED or field == "id":
            raise _refuse(t("'{key}' is set by its own option, not as KEY=VALUE", key=key))
    now = dt.datetime.fromtimestamp(wall_clock(), dt.UTC).isoformat(timespec="seconds")
    record = {"type": kind, "contact": contact, "at": at or now,
              **{f: v for f, v in zip(fields, given.values(), strict=True) if f and f not in RESERVED}}  # fmt: skip
    if event_id is not None:
        record["id"] = event_id
    try:
        event = event_from_record(record, clock, 0)
    except DataValueError as exc:
        raise _refuse(exc.message()) from None  # in the operator's language
    note = time_rule(event.at, wall_clock())
    if note is not None and note.refused:
        raise _refuse(note.message())
    try:
        logged = store.log_events([event], "cli")
    except ValueError as exc:  # an id the store cannot hold (a NUL character)
        raise _refuse(str(exc)) from None
    if logged.conflicts:
        raise _refuse(t("the id {id} is already taken by a different event", id=event_id))
    if note is not None:
        say(t("warning: {reason}", reason=note.message()), "warning", stderr=True)
    seq = logged.seqs[0]
    assert seq is not None
    return event, seq, bool(logged.repeated)


def _from_file(store: Any, file: str, clock: LocalTime, strict: bool, fmt: str, mapping: ColumnMap) -> None:
    """Read, check and store a file's events (all good ones in one transaction); report."""
    from playbook.cli.common import EXIT_ERRORS, print_diagnostics, say

    name = STDIN_NAME if file == STDIN else file
    events, problems = _read(file, name, clock, mapping)
    events, repeats, warnings = _unique_and_timely(events, problems, name)
    types: dict[str, int] = {}
    for event in events:
        types[event.type] = types.get(event.type, 0) + 1
    _unheard(store, types, name)
    refused = strict and bool(problems)
    seqs: list[int] = []
    already = len(repeats)
    if not refused and events:
        logged = store.log_events(events, "file", all_or_nothing=strict)
        problems += _taken(events, logged.conflicts, name)
        refused = strict and bool(logged.conflicts)
        repeated = set(logged.repeated)
        seqs = [seq for i, seq in enumerate(logged.seqs) if seq is not None and i not in repeated]
        already += len(repeated)
        problems.sort(key=lambda p: p.row)
    if fmt == "json":
        doc = {
            "file": name,
            "stored": len(seqs),
            "seqs": seqs,
            "problems": [{"row": p.row, "reason": p.reason} for p in problems],  # English, like every JSON reason
        }
        if already:  # events with an id already stored (or repeated in the file): not stored again
            doc["repeated"] = already
        if warnings:
            doc["warnings"] = [{"row": p.row, "reason": p.reason} for p in warnings]
        click.echo(json.dumps(doc, ensure_ascii=False, sort_keys=True))
    elif refused:
        message = tn("--strict: {n} bad row in {file}; nothing stored",
                     "--strict: {n} bad rows in {file}; nothing stored", len(problems), file=name)  # fmt: skip
        say(message, "error", stderr=True)
    else:
        line = tn("{n} event stored from {file}", "{n} events stored from {file}", len(seqs), file=name)
        if already:
            line += t("; ") + tn("{n} already stored (same id), not again", "{n} already stored (same id), not again",
                                 already)  # fmt: skip
        if problems:
            line += t("; ") + tn("{n} bad row left out", "{n} bad rows left out", len(problems))
        click.echo(line)
    if warnings and fmt != "json":
        for w in warnings[:WARNINGS_SHOWN]:  # a backfill of old events would otherwise warn a line a row
            say(t("{file}:{row}: warning: {reason}", file=w.file, row=w.row, reason=w.message()), "warning",
                stderr=True)  # fmt: skip
        if len(warnings) > WARNINGS_SHOWN:
            more = len(warnings) - WARNINGS_SHOWN
            say(tn("… and {n} more warning", "… and {n} more warnings", more), "warning", stderr=True)
    if problems:
        if fmt != "json":
            print_diagnostics((p.diagnostic() for p in problems), stderr=True)
        sys.exit(EXIT_ERRORS)


def _unique_and_timely(events: list[Event], problems: list[RowProblem],
                       name: str) -> tuple[list[Event], list[RowProblem], list[RowProblem]]:  # fmt: skip
    """A file's events with each id once and none too far in the future: the events to
    store, the rows repeating an id (the same event: counted once, not a problem) and the
    warnings (`runtime.intake.time_rule`); conflicting ids and refused times are added
    to `problems`. A row's number is its event's seq (read_events numbers them so)."""
    from playbook.data.files import RowProblem, unique_events
    from playbook.runtime.intake import time_rule

    unique = unique_events(events, name)
    problems += unique.conflicts
    now = wall_clock()
    kept: list[Event] = []
    warnings: list[RowProblem] = []
    for event in unique.events:
        note = time_rule(event.at, now)
        if note is None:
            kept.append(event)
            continue
        row = RowProblem.of(name, event.seq, note.template, **note.values)
        if note.refused:
            problems.append(row)
        else:
            warnings.append(row)
            kept.append(event)
    problems.sort(key=lambda p: p.row)
    return kept, unique.repeats, warnings


def _taken(events: list[Event], conflicts: list[int], name: str) -> list[RowProblem]:
    """Rows whose id the store has for a different event."""
    from playbook.data.files import RowProblem

    return [RowProblem.of(name, events[i].seq, N_("the id {id} is already taken by a different event"),
                          id=events[i].data.get("id")) for i in conflicts]  # fmt: skip


def _read(file: str, name: str, clock: LocalTime, mapping: ColumnMap) -> tuple[list[Event], list[RowProblem]]:
    """The events and row problems of a JSON Lines file, by `data.files.read_events`: the
    reader and checks `plan --events` uses. Standard input, and a file whose name does not
    say JSON (which the reader would take for CSV), are copied to a temporary .jsonl first."""
    import contextlib
    import dataclasses
    import shutil
    import tempfile

    from playbook.data.files import read_events
    from playbook.diagnostics import ERROR, Diagnostic, PlaybookError

    if file != STDIN and Path(file).suffix.lower() in (*JSON_SUFFIXES, *CSV_SUFFIXES):
        events, problems = read_events(file, clock, columns=mapping)
    else:
        with tempfile.TemporaryDirectory(prefix="playbook-events-") as folder:
            copy = Path(folder) / "events.jsonl"
            try:
                # standard input is borrowed (bytes: the reader detects the encoding), never closed
                source = contextlib.nullcontext(sys.stdin.buffer) if file == STDIN else open(file, "rb")
                with source as stream, copy.open("wb") as target:
                    shutil.copyfileobj(stream, target)
            except OSError as exc:
                reason = t("cannot read file: {reason}", reason=exc.strerror or exc)
                raise PlaybookError([Diagnostic(ERROR, "io", reason, file=name)]) from None
            try:
                events, problems = read_events(copy, clock, columns=mapping)
            except PlaybookError as exc:  # not UTF-8 or GB18030 text: say where, not the copy's name
                raise PlaybookError([dataclasses.replace(d, file=name) for d in exc.diagnostics]) from None
        problems = [dataclasses.replace(p, file=name) for p in problems]
    return _storable(events, problems, name)


def _storable(events: list[Event], problems: list[RowProblem], name: str) -> tuple[list[Event], list[RowProblem]]:
    """Events whose contact the store cannot hold (a NUL character) become problems too,
    rather than failing the whole append. The reader gives no row numbers for good events:
    these are located by row 0, with the contact in the reason."""
    from playbook.data.files import RowProblem

    good: list[Event] = []
    for event in events:
        if "\x00" in event.contact:
            problems.append(RowProblem.of(name, 0, N_("contact {id}: ids cannot contain NUL characters"),
                                          id=repr(event.contact)))  # fmt: skip
        else:
            good.append(event)
    return good, problems
