"""Reading contacts, accounts and events files (CSV or JSON Lines).

Bad rows never stop the rest: each one becomes a `RowProblem` with its row number and
reason, and the caller decides whether that is fatal (`--strict`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TextIO

from playbook.data.columns import EVENTS, ColumnMap, Header
from playbook.data.encoding import TextShape, open_text, text_shape
from playbook.data.values import (
    ALWAYS_TEXT,
    EXAMPLE_TIME,
    SET_FIELDS,
    DataValueError,
    parse_tags,
    parse_time,
    text_value,
    typed,
    typed_text,
    typed_texts,
)
from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
from playbook.eventnames import canonical_event
from playbook.i18n import N_, t
from playbook.vocab.localtime import LocalTime
from playbook.vocab.model import Event
from playbook.vocab.values import Instant


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row that was left out. `reason` is English whatever the language: it is part of
    the JSON output (`plan --format json`, `import --format json`). `message()` is the
    reason in the operator's language, from `template` (an `N_` template) and `values`."""

    file: str
    row: int  # line number in the file (a CSV header is row 1)
    reason: str
    template: str = field(default="", compare=False, repr=False)
    values: dict[str, object] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def of(cls, file: str, row: int, template: str, /, **values: object) -> RowProblem:
        return cls(file, row, template.format(**values), template, values)

    @classmethod
    def from_error(cls, file: str, row: int, error: DataValueError) -> RowProblem:
        return cls(file, row, str(error), error.template, error.values)

    def message(self) -> str:
        """The reason in the operator's language (as given when there is no template)."""
        return t(self.template, **self.values) if self.template else self.reason

    def diagnostic(self) -> Diagnostic:
        return Diagnostic(ERROR, "data", self.message(), self.file, self.row)


# A CSV cell may be as long as it likes (a note, a pasted chat): the csv module's default
# limit of 131,072 characters would end the read with a bare _csv.Error.
csv.field_size_limit(2**31 - 1)


@contextmanager
def _opened(path: str | Path) -> Iterator[tuple[TextIO, bool, TextShape]]:
    """The file as text, whether it is JSON Lines (else CSV), and its encoding; read
    errors as one error."""
    p = Path(path)
    try:
        shape = text_shape(p)
        fh = open_text(p, shape)
    except OSError as exc:
        raise PlaybookError(
            [Diagnostic(ERROR, "io", t("cannot read file: {reason}", reason=exc.strerror or exc), file=str(path))]
        ) from None
    with fh:
        try:
            yield fh, p.suffix.lower() in (".jsonl", ".ndjson", ".json"), shape  # type: ignore[misc]
        except UnicodeDecodeError:
            raise PlaybookError(
                [Diagnostic(ERROR, "encoding", t("this file is not UTF-8 text"), file=str(path))]
            ) from None
        except OSError as exc:
            raise PlaybookError(
                [Diagnostic(ERROR, "io", t("cannot read file: {reason}", reason=exc.strerror or exc), file=str(path))]
            ) from None


def _foreign_row(shape: TextShape) -> DataValueError:
    """A row in another encoding than its file's: left out, not stored garbled."""
    if shape.other:
        return DataValueError(N_("this row is in {other}, the rest of the file in {encoding}: save the file in one "
                                 "encoding"), other=shape.other, encoding=shape.label)  # fmt: skip
    return DataValueError(N_("this row is not {encoding} text like the rest of the file"), encoding=shape.label)


def _json_rows(
    fh: TextIO, wanted: Callable[[str], bool | None] | None = None, columns: ColumnMap | None = None,
    shape: TextShape | None = None,
) -> Iterator[tuple[int, dict[str, Any] | DataValueError]]:
    """(row number, object or why the line is not one) for each line that is not blank,
    its keys read as `columns` says. `wanted` may pass over a line before it is decoded
    (False); a line it is sure of (True) comes as a `_Sure` error when it is not readable.
    A line in another encoding than the file's (`shape`) is an error."""
    rows = _json_objects(fh, wanted, shape)
    if columns is None:
        yield from rows
        return
    renamed: dict[tuple[str, ...], tuple[str | None, ...] | None] = {}
    for number, row in rows:
        if isinstance(row, dict):
            keys = tuple(row)
            fields = renamed.get(keys, ())
            if fields == ():
                fields = tuple(columns.header(list(keys)).fields)
                fields = None if fields == keys else fields
                if len(renamed) < 4096:
                    renamed[keys] = fields
            if fields is not None:
                row = {f: v for f, v in zip(fields, row.values(), strict=True) if f}
        yield number, row


def _json_objects(
    fh: TextIO, wanted: Callable[[str], bool | None] | None, shape: TextShape | None
) -> Iterator[tuple[int, dict[str, Any] | DataValueError]]:
    scan = json.JSONDecoder().scan_once  # what json.loads runs, without its checks around it
    sure: bool | None = None
    foreign = shape.foreign if shape is not None else frozenset()
    for number, line in enumerate(fh, start=1):
        if foreign and number in foreign:
            assert shape is not None
            yield number, _foreign_row(shape)
            continue
        if wanted is not None:
            sure = wanted(line)
            if sure is False:
                continue
        if line[:1] == "{":  # the usual line: one object, then the line break
            try:
                row, end = scan(line, 0)
            except (StopIteration, ValueError, RecursionError):
                pass  # json.loads below says what is wrong
            else:
                if end == len(line) or line[end:] in ("\n", "\r\n", "\r"):
                    yield number, row
                    continue
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            error = DataValueError(N_("not valid JSON: {detail}"), detail=exc.msg)
            yield number, _Sure(error) if sure else error
            continue
        except (ValueError, RecursionError):  # nested too deep, a number too long to read
            error = DataValueError(N_("not valid JSON: {detail}"), detail="too deeply nested or too long a number")
            yield number, _Sure(error) if sure else error
            continue
        if not isinstance(row, dict):
            error = DataValueError(N_("each line must be a JSON object"))
            yield number, _Sure(error) if sure else error
            continue
        yield number, row


class _Sure(DataValueError):
    """A line's error, in a line that the reader's `wanted` said is its own."""

    def __init__(self, error: DataValueError):
        super().__init__(error.template, **error.values)


def _csv_rows(
    fh: TextIO, owner: RowOwner | None = None, columns: ColumnMap | None = None, file: str = "",
    shape: TextShape | None = None, found: list[Header] | None = None,
) -> tuple[list[str], Iterator[tuple[int, list[str] | DataValueError]]]:
    """The header, and (row number, cells) for each row that is not blank. With `owner`,
    only the rows of its accounts (by the raw `account` cell, which is what the field is:
    text, stripped); the others' ids are noted, untyped. A row that cannot be split into
    cells belongs to the owner of no account.

    A line without a quote is one row whose cells are its text between commas — what the
    csv module makes of it, read by str.split at a fraction of the cost (a million rows);
    a line with a quote goes to the csv module, which reads on over the lines of a quoted
    line break.

    The header's names are read as fields by `columns` (a column left out has the field
    ""); a file without a required column is one error. Cells are separated by commas, or
    by tabs or semicolons when the header is (Excel's "Unicode text" is tab-separated;
    Excel's `sep=;` first line is followed). A row on a line in another encoding than the
    file's (`shape`) is an error."""
    lines = _Lines(fh)
    sep = ","
    first = next(lines, None)
    if first is not None:
        bare = first.lstrip("\ufeff").rstrip("\r\n")
        if bare.lower().startswith("sep=") and len(bare) == 5:
            sep = bare[4]  # Excel's own way of naming the separator; not a row
        else:
            lines.again(first)
            if "\t" in first and first.count("\t") >= first.count(","):
                sep = "\t"
            elif ";" in first and "," not in first and "\t" not in first:
                sep = ";"
    reader = csv.reader(lines, delimiter=sep)
    try:
        names = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
    except csv.Error as exc:
        raise PlaybookError([Diagnostic(ERROR, "data", t("the header row cannot be read: {reason}", reason=exc),
                                        file=file, line=lines.count)]) from None  # fmt: skip
    if columns is not None:
        read = columns.header(names)
        if read.missing():  # a title row or two above the header, as some exports have
            read = _header_below(reader, lines, columns, read)
        if found is not None:
            found.append(read)
        read.check(file)
        header = [f or "" for f in read.fields]
    else:
        header = names
    foreign = shape.foreign if shape is not None else frozenset()
    width = len(header)
    account = header.index("account") if "account" in header else None
    rid = header.index("id") if "id" in header else None
    # the fewest splits that reach the id and account cells of an unquoted line
    splits = max(account if account is not None else -1, rid if rid is not None else -1) + 1

    def rows() -> Iterator[tuple[int, list[str] | DataValueError]]:
        mine: dict[str, bool] = {}  # raw account cell -> the owner's (a few thousand accounts)
        for line in fh:
            lines.count += 1
            top = lines.count
            if '"' in line:
                lines.again(line)
                try:
                    record = next(reader)
                except csv.Error as exc:  # (the csv module's own complaint, e.g. a NUL in a field)
                    if owner is None or owner.mine(None):
                        yield lines.count, DataValueError(N_("the row cannot be read: {reason}"), reason=str(exc))
                    continue
            elif owner is not None and account is not None:
                record = line.split(sep, splits)
                if len(record) > splits:
                    # an other owner's row, known by its account cell, is passed over before
                    # the rest is split (a row with too many cells is reported: not so)
                    if mine.get(record[account]) is False and line.count(sep) < width and not foreign:
                        owner.other_row(record[rid].strip() or None if rid is not None else None,
                                        record[account].strip() or None)  # fmt: skip
                        continue
                    record[splits:] = record[splits].rstrip("\r\n").split(sep)
                else:
                    record[-1] = record[-1].rstrip("\r\n")
            else:
                record = line.rstrip("\r\n").split(sep)
            if not (record and record[0].strip()) and not "".join(record).strip():
                continue  # every cell blank (the first cell is the quick test)
            number = lines.count
            if foreign and not foreign.isdisjoint(range(top, number + 1)):
                assert shape is not None
                if owner is None or owner.mine(None):
                    yield number, _foreign_row(shape)
                continue
            if len(record) > width:
                if owner is None or owner.mine(None):
                    template = N_("{cells} cells but the header has {columns} columns")
                    yield number, DataValueError(template, cells=len(record), columns=width)
                continue
            if owner is not None:
                cell = record[account] if account is not None and account < len(record) else ""
                own = mine.get(cell)
                if own is None:
                    own = mine[cell] = owner.mine(cell.strip() or None)
                if not own:
                    owner.other_row((record[rid].strip() or None) if rid is not None and rid < len(record) else None,
                                    cell.strip() or None)  # fmt: skip
                    continue
            yield number, record

    return header, rows()


_TITLE_ROWS = 10  # how far below the first row a header is looked for


def _header_below(reader: Any, lines: _Lines, columns: ColumnMap, first: Header) -> Header:
    """The first of the next rows that has every required column, as the header (the rows
    above it are left out, and said so); else the first row's header, which check() refuses."""
    for _ in range(_TITLE_ROWS):
        try:
            row = next(reader, None)
        except csv.Error:
            break
        if row is None:
            break
        candidate = columns.header([h.strip().lstrip("\ufeff") for h in row])
        if not candidate.missing():
            candidate.above = lines.count - 1
            return candidate
    return first


class _Lines:
    """A file's lines for the csv reader, counted with the row loop's: a line the loop
    hands back (`again`) is the next one the reader reads."""

    def __init__(self, fh: TextIO):
        self.fh = fh
        self.count = 0  # lines read so far: the number of the last line of the current row
        self.back: str | None = None

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:  # (the csv reader's; the row loop reads the file itself)
        line = self.back
        if line is not None:
            self.back = None
        else:
            line = next(self.fh)
        self.count += 1
        return line

    def again(self, line: str) -> None:
        self.back = line
        self.count -= 1


def _rows(
    path: str | Path, wanted: Callable[[str], bool | None] | None = None, columns: ColumnMap | None = None
) -> Iterator[tuple[int, dict[str, Any] | list | DataValueError]]:
    """(row number, row) for each record: a JSON object, a CSV row as [header, cells], or
    a DataValueError — why the record is unreadable. (`wanted`: see _json_rows.)"""
    with _opened(path) as (fh, is_json, shape):
        if is_json:
            yield from _json_rows(fh, wanted, columns, shape)
            return
        header, rows = _csv_rows(fh, None, columns, str(path), shape)
        for number, row in rows:
            yield number, row if isinstance(row, DataValueError) else [header, row]


class RowOwner(Protocol):
    """Who reads which rows, when several processes share a file (a plan in shards,
    plan/shards.py): a process keeps the rows of its own accounts and notes the ids of the
    others' rows."""

    def mine(self, account: str | None) -> bool: ...
    def other_row(self, rid: str | None, account: str | None) -> None: ...
    def check_own(self, rid: str) -> None: ...  # raises when an earlier row of another owner had this id


def read_records(
    path: str | Path, clock: LocalTime, only: Collection[str] | None = None, owner: RowOwner | None = None,
    columns: ColumnMap | None = None,
) -> tuple[list[dict[str, Any]], list[RowProblem]]:
    """Contacts or accounts: typed field dicts keyed by `id` (missing fields left out).
    With `only`, fields outside it (and outside id/name/account/tags) are left out: the
    plan reads just the fields its playbooks can look at. With `owner`, only the rows of
    its accounts are typed and kept (and their problems reported); a row that cannot be
    split into cells belongs to the owner of no account."""
    out: list[dict[str, Any]] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    keep = None if only is None else set(only) | ALWAYS_TEXT
    file = str(path)

    def accept(number: int, record: dict[str, Any]) -> None:
        rid = record.get("id")
        if owner is not None:
            if not owner.mine(record.get("account")):
                owner.other_row(rid, record.get("account"))
                return
            if rid:
                owner.check_own(rid)
        if not rid:
            problems.append(RowProblem.of(file, number, N_("the row has no id")))
        elif rid in seen:
            problems.append(RowProblem.of(file, number, N_("id '{id}' is already used on row {row}"),
                                          id=rid, row=seen[rid]))  # fmt: skip
        else:
            seen[rid] = number
            out.append(record)

    columns = columns or ColumnMap()
    with _opened(path) as (fh, is_json, shape):
        if is_json:
            for number, row in _json_rows(fh, None, columns, shape):
                if isinstance(row, DataValueError):
                    if owner is None or owner.mine(None):
                        problems.append(RowProblem.from_error(file, number, row))
                    continue
                if keep is not None:
                    row = {k: v for k, v in row.items() if k in keep}
                try:
                    record = {k: v for k, raw in row.items() if (v := typed(k, raw, clock)) is not None}
                except DataValueError as exc:
                    if owner is None or owner.mine(text_value(row.get("account"))):
                        problems.append(RowProblem.from_error(file, number, exc))
                    continue
                accept(number, record)
            return out, problems
        header, rows = _csv_rows(fh, owner, columns, file, shape)
        plan = _column_plan(header, keep, clock)
        keys = [key for _, key, _ in plan]
        width = len(header)
        check = None if owner is None else owner.check_own
        for chunk in _batches(rows, 4096):
            typed_columns = _typed_columns(chunk, plan, width)
            if typed_columns is None:  # a bad row in the chunk: row by row, to say which and why
                for number, cells in chunk:
                    try:
                        record = _typed_row(cells, plan)
                    except DataValueError as exc:
                        problems.append(RowProblem.from_error(file, number, exc))
                        continue
                    accept(number, record)
                continue
            by_row = zip(*typed_columns, strict=True) if typed_columns else (() for _ in chunk)
            for (number, _), values in zip(chunk, by_row, strict=True):
                record = {k: v for k, v in zip(keys, values, strict=True) if v is not None}
                rid = record.get("id")
                if rid and rid not in seen:  # the usual row (accept, without a call)
                    if check is not None:
                        check(rid)
                    seen[rid] = number
                    out.append(record)
                else:
                    accept(number, record)
    return out, problems


def _batches(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _typed_row(cells: list[str] | DataValueError, plan: list[tuple[int, str, _Cells]]) -> dict[str, Any]:
    """One CSV row's record (raises DataValueError for a bad row or cell)."""
    if isinstance(cells, DataValueError):
        raise cells
    record = {}
    for index, key, typed_cells in plan:
        cell = cells[index] if index < len(cells) else ""
        if cell:
            value = typed_cells[cell]
            if value is not None:
                record[key] = value
    return record


def _typed_columns(
    chunk: list[tuple[int, list[str] | DataValueError]], plan: list[tuple[int, str, _Cells]], width: int
) -> list[list[Any]] | None:
    """The chunk's typed cells column by column (a plan reads a million rows: one C-level
    pass per column instead of Python code per cell); None when a row or cell is bad."""
    rows = []
    for _, cells in chunk:
        if isinstance(cells, DataValueError):
            return None
        rows.append(cells if len(cells) == width else cells + [""] * (width - len(cells)))
    by_column = list(zip(*rows, strict=True))
    try:
        return [_typed_column(key, typed_cells, by_column[index]) for index, key, typed_cells in plan]
    except DataValueError:
        return None


def _typed_column(key: str, typed_cells: _Cells, cells: tuple[str, ...]) -> list[Any]:
    if key in ("id", "name"):
        return [c.strip() or None for c in cells]  # ids and names hardly repeat
    if typed_cells.clock is not None and len(typed_cells) >= _CELLS_REMEMBERED:
        # a column whose cells hardly repeat (times, amounts): typed without looking them up
        return typed_texts(cells, typed_cells.clock)
    return list(map(typed_cells.__getitem__, cells))


class _Cells(dict[str, Any]):
    """A column's cells and their typed values: most columns repeat a few values (account,
    city, tags, source), and every value is immutable, so each distinct cell is typed once
    (up to a bound: ids and times do not repeat). An empty cell is a missing field."""

    def __init__(self, typer: Callable[[str], Any], clock: LocalTime | None = None):
        super().__init__({"": None})
        self.typer = typer
        self.clock = clock  # typer is typed_text with this clock

    def __missing__(self, cell: str) -> Any:
        value = self.typer(cell)  # may raise: a bad cell is not remembered
        if len(self) < _CELLS_REMEMBERED:
            self[cell] = value
        return value


_CELLS_REMEMBERED = 8192


def _column_plan(header: list[str], keep: set[str] | None, clock: LocalTime) -> list[tuple[int, str, _Cells]]:
    """For each CSV column worth reading: its index, its field and its typed cells."""
    plan = []
    for index, key in enumerate(header):
        if not key or (keep is not None and key not in keep):
            continue
        if key in SET_FIELDS:
            plan.append((index, key, _Cells(parse_tags)))
        elif key in ALWAYS_TEXT:
            plan.append((index, key, _Cells(_text_cell)))
        else:
            plan.append((index, key, _Cells(partial(typed_text, clock=clock), clock)))
    return plan


def _text_cell(cell: str) -> str | None:
    return cell.strip() or None


class EventRouter(Protocol):
    """Which events a process reads, when several share the file (plan/shards.py)."""

    def route(self, contact: str | None, row: dict[str, Any]) -> bool | None: ...  # None: decide at the end
    def settle(self, contact: str | None) -> bool: ...
    def line(self, text: str) -> bool | None: ...  # a JSON line's owner from its text (None: read it to know)


def read_events(
    path: str | Path, clock: LocalTime, first_seq: int = 0, router: EventRouter | None = None,
    columns: ColumnMap | None = None,
) -> tuple[list[Event], list[RowProblem]]:
    """Events in arrival (file) order; sort by (at, seq) to process them. An event's seq
    is `first_seq` plus its row number, so that it is the same whichever rows a process
    reads. With `router`, only the rows it routes here are typed and kept (and their
    problems reported); an unreadable row belongs to the owner of no contact."""
    out: list[Event] = []
    problems: list[RowProblem] = []
    file = str(path)
    later: list[tuple[int, dict[str, Any]]] = []

    def take(number: int, row: dict[str, Any]) -> None:
        try:
            out.append(event_from_record(row, clock, first_seq + number))
        except DataValueError as exc:
            problems.append(RowProblem.from_error(file, number, exc))

    columns = columns or ColumnMap(EVENTS)
    for number, row in _rows(path, None if router is None else router.line, columns):
        if isinstance(row, DataValueError):
            if router is None or isinstance(row, _Sure) or router.route(None, {}):
                problems.append(RowProblem.from_error(file, number, row))
            continue
        if isinstance(row, list):  # a CSV row: [header, cells]; an empty cell is a missing field
            header, cells = row
            row = {k: (c if c.strip() else None) for k, c in zip(header, cells, strict=False) if k}
        if router is not None:
            mine = router.route(_contact_of(row), row)
            if mine is None:
                later.append((number, row))
                continue
            if not mine:
                continue
        take(number, row)
    if later:
        assert router is not None
        for number, row in later:
            if router.settle(_contact_of(row)):
                take(number, row)
        out.sort(key=lambda e: e.seq)
        problems.sort(key=lambda p: p.row)
    return out, problems


@dataclass(frozen=True, slots=True)
class UniqueEvents:
    """The events of a file with each id once (`unique_events`)."""

    events: list[Event]  # the first event of each id, and every event without one
    repeats: list[RowProblem]  # later rows with an id already given to the same event: counted once
    conflicts: list[RowProblem]  # later rows with an id already given to a different event: left out


def unique_events(events: list[Event], file: str, first_seq: int = 0) -> UniqueEvents:
    """One event per id (an event's `id` field makes it idempotent, as in the store): a
    later row repeating an id is the same event sent again and is left out; one whose id
    was given to a different event (type, contact, time or data differ) is left out too,
    as a problem. Rows are numbered as `read_events` numbers them (seq - first_seq).

    Ids are told apart per contact here (the store takes an id once whatever the
    contact): a plan split across processes by account sees each contact's rows in one
    of them, so it finds the same repeats whatever the number of processes."""
    first: dict[Any, Event] = {}
    kept: list[Event] = []
    repeats: list[RowProblem] = []
    conflicts: list[RowProblem] = []
    for event in events:
        eid = event.data.get("id")
        if eid is None:
            kept.append(event)
            continue
        seen = first.get((event.contact, eid))
        if seen is None:
            first[(event.contact, eid)] = event
            kept.append(event)
            continue
        row, earlier = event.seq - first_seq, seen.seq - first_seq
        if (event.type, event.contact, event.at, event.data) == (seen.type, seen.contact, seen.at, seen.data):
            repeats.append(RowProblem.of(file, row, N_("event id '{id}' repeats row {row}: the same event, counted "
                                                       "once"), id=eid, row=earlier))  # fmt: skip
        else:
            conflicts.append(RowProblem.of(file, row, N_("event id '{id}' was given to a different event at row "
                                                         "{row}: this row is left out"), id=eid, row=earlier))  # fmt: skip
    return UniqueEvents(kept, repeats, conflicts)


def _contact_of(row: dict[str, Any]) -> str | None:
    """The contact an event row names, as event_from_record reads it (None: none)."""
    contact = row.get("contact")
    return contact.strip() or None if isinstance(contact, str) else None


_EVENT_KEYS = frozenset({"type", "contact", "at"})


def event_from_record(row: dict[str, Any], clock: LocalTime, seq: int) -> Event:
    """One event from its JSON form {"type", "contact", "at", …data}."""
    kind = row.get("type")
    contact = row.get("contact")
    at = row.get("at")
    common = type(kind) is str and type(contact) is str and type(at) is str
    if not (common and kind.strip() and contact.strip() and at.strip()):  # say what is missing or wrong
        for key, value in (("type", kind), ("contact", contact), ("at", at)):
            if value is None or (isinstance(value, str) and not value.strip()):
                raise DataValueError(N_("the event has no '{key}'"), key=key)
        if not isinstance(at, str):
            raise DataValueError(N_("'{key}' must be a time like {example}"), key="at", example=EXAMPLE_TIME)
    instant: Instant = parse_time(at, clock)
    kind = canonical_event(str(kind).strip())  # 加好友 is friend_added (eventnames.py)
    data = {}
    for key, raw in row.items():
        if key in _EVENT_KEYS:
            continue
        value = typed(key, raw, clock)
        if value is not None:
            data[key] = value
    if kind == "purchase" and "amount" in data and not isinstance(data["amount"], int | float):
        raise DataValueError(N_("a purchase's amount must be a number, not '{amount}'"), amount=data["amount"])
    if kind in ("tag_added", "tag_removed") and not isinstance(data.get("tag"), str):
        raise DataValueError(N_("a {kind} event needs a 'tag'"), kind=kind)
    return Event(kind, str(contact).strip(), int(instant), data, seq)
