"""Reading contacts, accounts and events files (CSV or JSON Lines).

Bad rows never stop the rest: each one becomes a `RowProblem` with its row number and
reason, and the caller decides whether that is fatal (`--strict`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from playbook.data.encoding import text_encoding
from playbook.data.values import (
    ALWAYS_TEXT,
    EXAMPLE_TIME,
    DataValueError,
    parse_tags,
    parse_time,
    typed,
    typed_text,
)
from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
from playbook.engine.model import Event
from playbook.engine.timeutil import LocalTime
from playbook.engine.values import Instant
from playbook.i18n import N_, t


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


def _rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | list | DataValueError]]:
    """(row number, row) for each record: a JSON object, a CSV row as [header, cells], or
    a DataValueError — why the record is unreadable."""
    p = Path(path)
    try:
        fh = p.open(encoding=text_encoding(p), newline="")
    except OSError as exc:
        raise PlaybookError(
            [Diagnostic(ERROR, "io", t("cannot read file: {reason}", reason=exc.strerror or exc), file=str(path))]
        ) from None
    with fh:
        try:
            if p.suffix.lower() in (".jsonl", ".ndjson", ".json"):
                for number, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        yield number, DataValueError(N_("not valid JSON: {detail}"), detail=exc.msg)
                        continue
                    if not isinstance(row, dict):
                        row = DataValueError(N_("each line must be a JSON object"))
                    yield number, row
            else:
                reader = csv.reader(fh)
                header = [h.strip() for h in next(reader, [])]
                for record in reader:
                    if not any(cell.strip() for cell in record):
                        continue
                    number = reader.line_num
                    if len(record) > len(header):
                        template = N_("{cells} cells but the header has {columns} columns")
                        yield number, DataValueError(template, cells=len(record), columns=len(header))
                        continue
                    yield number, [header, record]
        except UnicodeDecodeError:
            raise PlaybookError(
                [Diagnostic(ERROR, "encoding", t("this file is not UTF-8 text"), file=str(path))]
            ) from None


def read_records(
    path: str | Path, clock: LocalTime, only: Collection[str] | None = None
) -> tuple[list[dict[str, Any]], list[RowProblem]]:
    """Contacts or accounts: typed field dicts keyed by `id` (missing fields left out).
    With `only`, fields outside it (and outside id/name/account/tags) are left out: the
    plan reads just the fields its playbooks can look at."""
    out: list[dict[str, Any]] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    keep = None if only is None else set(only) | ALWAYS_TEXT
    csv_plan: list[tuple[int, str, Callable[[str], Any]]] | None = None
    for number, row in _rows(path):
        if isinstance(row, DataValueError):
            problems.append(RowProblem.from_error(str(path), number, row))
            continue
        try:
            if isinstance(row, list):  # a CSV row: cells by column
                if csv_plan is None:
                    csv_plan = _column_plan(row[0], keep, clock)
                cells = row[1]
                record = {}
                for index, key, typer in csv_plan:
                    cell = cells[index] if index < len(cells) else ""
                    if cell:
                        value = typer(cell)
                        if value is not None:
                            record[key] = value
            else:
                if keep is not None:
                    row = {k: v for k, v in row.items() if k in keep}
                record = {k: v for k, raw in row.items() if (v := typed(k, raw, clock)) is not None}
        except DataValueError as exc:
            problems.append(RowProblem.from_error(str(path), number, exc))
            continue
        rid = record.get("id")
        if not rid:
            problems.append(RowProblem.of(str(path), number, N_("the row has no id")))
            continue
        if rid in seen:
            problems.append(RowProblem.of(str(path), number, N_("id '{id}' is already used on row {row}"),
                                          id=rid, row=seen[rid]))  # fmt: skip
            continue
        seen[rid] = number
        out.append(record)
    return out, problems


def _column_plan(
    header: list[str], keep: set[str] | None, clock: LocalTime
) -> list[tuple[int, str, Callable[[str], Any]]]:
    """For each CSV column worth reading: its index, its field and how to type a cell."""
    plan = []
    for index, key in enumerate(header):
        if not key or (keep is not None and key not in keep):
            continue
        if key == "tags":
            typer: Callable[[str], Any] = parse_tags
        elif key in ALWAYS_TEXT:
            typer = _text_cell
        else:
            typer = partial(typed_text, clock=clock)
        plan.append((index, key, typer))
    return plan


def _text_cell(cell: str) -> str | None:
    return cell.strip() or None


def read_events(path: str | Path, clock: LocalTime, first_seq: int = 0) -> tuple[list[Event], list[RowProblem]]:
    """Events in arrival (file) order; sort by (at, seq) to process them."""
    out: list[Event] = []
    problems: list[RowProblem] = []
    for number, row in _rows(path):
        if isinstance(row, DataValueError):
            problems.append(RowProblem.from_error(str(path), number, row))
            continue
        if isinstance(row, list):  # a CSV row: [header, cells]; an empty cell is a missing field
            header, cells = row
            row = {k: (c if c.strip() else None) for k, c in zip(header, cells, strict=False) if k}
        try:
            out.append(event_from_record(row, clock, first_seq + len(out)))
        except DataValueError as exc:
            problems.append(RowProblem.from_error(str(path), number, exc))
    return out, problems


def event_from_record(row: dict[str, Any], clock: LocalTime, seq: int) -> Event:
    """One event from its JSON form {"type", "contact", "at", …data}."""
    kind = row.get("type")
    contact = row.get("contact")
    at = row.get("at")
    for key, value in (("type", kind), ("contact", contact), ("at", at)):
        if value is None or (isinstance(value, str) and not value.strip()):
            raise DataValueError(N_("the event has no '{key}'"), key=key)
    if not isinstance(at, str):
        raise DataValueError(N_("'{key}' must be a time like {example}"), key="at", example=EXAMPLE_TIME)
    instant: Instant = parse_time(at, clock)
    data = {}
    for key, raw in row.items():
        if key in ("type", "contact", "at"):
            continue
        value = typed(key, raw, clock)
        if value is not None:
            data[key] = value
    if kind == "purchase" and "amount" in data and not isinstance(data["amount"], int | float):
        raise DataValueError(N_("a purchase's amount must be a number, not '{amount}'"), amount=data["amount"])
    if kind in ("tag_added", "tag_removed") and not isinstance(data.get("tag"), str):
        raise DataValueError(N_("a {kind} event needs a 'tag'"), kind=kind)
    return Event(str(kind).strip(), str(contact).strip(), int(instant), data, seq)
