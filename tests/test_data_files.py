"""Reading data files takes shortcuts for speed (a plan reads a million contacts): the usual
time shape from remembered parts, CSV typed column by column with each distinct cell typed
once, JSON Lines without json.loads around the scanner. Each must read exactly as the
plain way does — here the plain way is written out again and compared on awkward input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from playbook.data.files import event_from_record, read_events, read_records
from playbook.data.values import ALWAYS_TEXT, DataValueError, parse_tags, parse_time, typed, typed_text
from playbook.vocab.localtime import LocalTime

CLOCK = LocalTime("Asia/Shanghai")


def outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        value = fn(*args)
    except DataValueError as exc:
        return ("error", str(exc))
    return (type(value).__name__, value)


# ---- times --------------------------------------------------------------------------------------

TWO = st.integers(0, 99).map(lambda n: f"{n:02d}")
TIMES = st.builds(
    lambda y, mo, d, sep, h, mi, s, sign, oh, om: f"{y:04d}-{mo}-{d}{sep}{h}:{mi}:{s}{sign}{oh}:{om}",
    st.sampled_from([1, 1969, 1970, 2026, 9999]), TWO, TWO, st.sampled_from("T tX"), TWO, TWO, TWO,
    st.sampled_from("+-"), TWO, TWO,
)  # fmt: skip


def plain_time(text: str) -> tuple[str, Any]:
    """A time with an offset as datetime reads it (anything else: parse_time's checks)."""
    s = text.strip()
    if len(s) > 10 and s[10] in "T " and s[-6] in "+-" and s[-3] == ":":
        try:
            return ("Instant", int(dt.datetime.fromisoformat(s).timestamp()))
        except ValueError:
            pass
    return outcome(parse_time, text, CLOCK)


@settings(max_examples=500, deadline=None)
@given(st.lists(TIMES, min_size=1, max_size=20), st.data())
def test_times_from_remembered_parts(texts: list[str], data: st.DataObject) -> None:
    for text in texts:  # the first sight of a part and every later one
        edited = text
        if data.draw(st.integers(0, 4)) == 0:  # a character changed: not the usual shape any more
            i = data.draw(st.integers(0, len(text) - 1))
            edited = text[:i] + data.draw(st.sampled_from(["٣", "x", " ", "+", ":", "-", "0"])) + text[i + 1 :]
        for t in (edited, edited, f" {edited}\n"):
            want = plain_time(t)
            got = outcome(parse_time, t, CLOCK)
            assert (got[0], got[1] if got[0] == "error" else int(got[1])) == (want[0], want[1]), t


# ---- CSV ----------------------------------------------------------------------------------------

CELLS = st.sampled_from(["", " ", "x", " 小美 ", "c1", "c2", "a1", "2026-12-01T09:00:00+08:00", "2026-12-01T9:00:00+08:00",
                         "2026-13-01T09:00:00+08:00", "2026-12-01", "2026-12-01 09:00", "12", "012", "-3", "3.5",
                         "true", "FALSE", "VIP;宝妈", " ; ", "1e5", '"', "a,b", "line\nbreak"])  # fmt: skip
HEADERS = st.sampled_from([["id", "name", "account", "tags", "added_at", "spent"], ["id", "name", "name", "x", "tags"],
                           ["name", " id ", "", "tags"]])  # fmt: skip


def plain_records(text: str, only: set[str] | None) -> tuple[list[list[tuple]], list[tuple[int, str]]]:
    """Row by row, cell by cell, as the reader was first written."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    # a field given by two columns is the first one's (data/columns.py); the other is left out
    header = [h if h not in header[:i] else "" for i, h in enumerate(header)]
    keep = None if only is None else only | ALWAYS_TEXT
    out, problems, seen = [], [], {}
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        number = reader.line_num
        if len(cells) > len(header):
            problems.append((number, f"{len(cells)} cells but the header has {len(header)} columns"))
            continue
        record: dict[str, Any] = {}
        try:
            for index, key in enumerate(header):
                if not key or (keep is not None and key not in keep):
                    continue
                cell = cells[index] if index < len(cells) else ""
                if not cell:
                    continue
                if key == "tags":
                    value: Any = parse_tags(cell)
                elif key in ALWAYS_TEXT:
                    value = cell.strip() or None
                else:
                    value = typed_text(cell, CLOCK)
                if value is not None:
                    record[key] = value
        except DataValueError as exc:
            problems.append((number, str(exc)))
            continue
        rid = record.get("id")
        if not rid:
            problems.append((number, "the row has no id"))
        elif rid in seen:
            problems.append((number, f"id '{rid}' is already used on row {seen[rid]}"))
        else:
            seen[rid] = number
            out.append([(k, type(v).__name__, v) for k, v in record.items()])
    return out, problems


@settings(max_examples=150, deadline=None)
@given(HEADERS, st.lists(st.tuples(st.lists(CELLS, max_size=8), st.integers(0, 30), st.integers(1, 40)), max_size=60),
       st.booleans(), st.integers(1, 3))  # fmt: skip
def test_csv_column_by_column(
    tmp_path_factory: Any, header: list[str], rows: list[tuple], only: bool, copies: int
) -> None:
    body = []
    for cells, roll, n in rows:
        row = (cells + [""] * len(header))[: len(header)] if roll else cells  # mostly full rows
        if roll == 1 and row:
            row[0] = ""
        elif roll > 3 and header[0] == "id":
            row[0] = f"c{n}"
        body.append(row)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(body * copies)  # over 4,096 rows: the chunks
    if copies == 3:
        writer.writerows([[f"c{i}", "x"] for i in range(5000)])
    text = buffer.getvalue()
    path = Path(tmp_path_factory.mktemp("csv")) / "contacts.csv"
    path.write_text(text, encoding="utf-8", newline="")
    fields = {"added_at", "spent"} if only else None
    records, problems = read_records(path, CLOCK, only=fields)
    got = ([[(k, type(v).__name__, v) for k, v in r.items()] for r in records], [(p.row, p.reason) for p in problems])
    assert got == plain_records(text, fields)


# ---- JSON Lines ---------------------------------------------------------------------------------

VALUES = st.sampled_from([None, "", "  ", " x ", "message", "purchase", "tag_added", "c1", "2026-12-01T09:00:00+08:00",
                          " 2026-12-01T09:00:00+08:00", "2026-12-01", "bad", 5, 5.0, 5.5, True, [], ["a"], {}, "0571"])  # fmt: skip
KEYS = st.sampled_from(["type", "contact", "at", "amount", "tag", "tags", "name", "account", "text", "x"])


@st.composite
def event_lines(draw: st.DrawFn) -> str:
    row = draw(st.dictionaries(KEYS, VALUES, max_size=6))
    if draw(st.booleans()):
        row = {"type": draw(st.sampled_from(["message", "purchase", "tag_added", " x "])), "contact": "c1",
               "at": draw(st.sampled_from(["2026-12-01T09:00:00+08:00", "2026-12-01", "bad", "  "])), **row}  # fmt: skip
        for key in ("type", "contact", "at"):
            if draw(st.integers(0, 5)) == 0:
                row.pop(key, None)
    line = json.dumps(row, ensure_ascii=draw(st.booleans()))
    return draw(st.sampled_from([line, line, line, line[:-1], f" {line}", f"{line}  ", "[1]", "", f"{line}x",
                                 f"{line}\r", "\ufeff" + line]))  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(event_lines(), max_size=30))
def test_json_lines_as_json_loads_reads_them(tmp_path_factory: Any, lines: list[str]) -> None:
    path = Path(tmp_path_factory.mktemp("events")) / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    events, problems = read_events(path, CLOCK)
    want_events, want_problems = [], []
    text = path.read_bytes().decode("utf-8-sig")  # as the reader opens it: a BOM at the start is no part of it
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            want_problems.append((number, f"not valid JSON: {exc.msg}"))
            continue
        if not isinstance(row, dict):
            want_problems.append((number, "each line must be a JSON object"))
            continue
        try:
            e = event_from_record(row, CLOCK, number)  # seq: the row number
        except DataValueError as exc:
            want_problems.append((number, str(exc)))
            continue
        want_events.append(e)
    assert events == want_events
    assert [(p.row, p.reason) for p in problems] == want_problems


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=6))
def test_event_checks_in_their_order(row: dict[str, Any]) -> None:
    """The quick test for a well-formed event lets nothing through that the checks stop."""
    got = outcome(event_from_record, row, CLOCK, 0)
    for key in ("type", "contact", "at"):
        value = row.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            assert got == ("error", f"the event has no '{key}'")
            return
    if not isinstance(row["at"], str):
        assert got[0] == "error" and "must be a time" in got[1]
        return
    if got[0] == "Event":
        assert got[1].data == {k: typed(k, v, CLOCK) for k, v in row.items()
                               if k not in ("type", "contact", "at") and typed(k, v, CLOCK) is not None}  # fmt: skip


@pytest.mark.parametrize("bad_row", [None, 3, 15_000])
def test_csv_columns_that_do_not_repeat(tmp_path: Path, bad_row: int | None) -> None:
    """Past a few thousand distinct cells a column is typed without remembering them."""
    rng = random.Random(bad_row)
    start = CLOCK.instant(dt.datetime(2026, 1, 1))
    rows = []
    for i in range(20_000):
        t = dt.datetime.fromtimestamp(start + rng.randrange(400 * 86400), CLOCK.tz)
        shape = rng.randrange(8)
        when = (t.isoformat(timespec="seconds") if shape < 5 else f" {t.isoformat(timespec='seconds')} "
                if shape == 5 else t.strftime("%Y-%m-%d %H:%M") if shape == 6 else t.date().isoformat())  # fmt: skip
        spent = rng.choice(["", f"{rng.randrange(100_000) / 10}", str(rng.randrange(10**6)), "0571", "x"])
        rows.append([f"c{i}", when if i != bad_row else "2026-13-01T09:00:00+08:00", spent])
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["id", "added_at", "spent"])
    writer.writerows(rows)
    text = buffer.getvalue()
    path = tmp_path / "contacts.csv"
    path.write_text(text, encoding="utf-8", newline="")
    records, problems = read_records(path, CLOCK)
    got = ([[(k, type(v).__name__, v) for k, v in r.items()] for r in records], [(p.row, p.reason) for p in problems])
    assert got == plain_records(text, None)


# ---- CSV rows: the quick split of unquoted lines reads them as the csv module does ----------


class _Owner:
    """Accounts whose name has an even length are this owner's (data.files.RowOwner)."""

    def __init__(self) -> None:
        self.others: list[tuple[str | None, str | None]] = []

    def mine(self, account: str | None) -> bool:
        return len(account or "") % 2 == 0

    def other_row(self, rid: str | None, account: str | None) -> None:
        self.others.append((rid, account))

    def check_own(self, rid: str) -> None:
        pass


def _rows_by_csv_module(text: str, owner: _Owner | None) -> tuple[list[str], list[tuple[int, Any]]]:
    """What _csv_rows gave when the csv module read every row (the reference)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    account = header.index("account") if "account" in header else None
    rid = header.index("id") if "id" in header else None
    out: list[tuple[int, Any]] = []
    for record in reader:
        if not (record and record[0].strip()) and not "".join(record).strip():
            continue
        if len(record) > len(header):
            if owner is None or owner.mine(None):
                out.append((reader.line_num, f"{len(record)} cells"))
            continue
        if owner is not None:
            cell = record[account] if account is not None and account < len(record) else ""
            if not owner.mine(cell.strip() or None):
                owner.other_row((record[rid].strip() or None) if rid is not None and rid < len(record) else None,
                                cell.strip() or None)  # fmt: skip
                continue
        out.append((reader.line_num, record))
    return header, out


_CELL = st.lists(st.sampled_from(["a", "bb", " ", ",", '"', "\n", "\r", "\r\n", "中", "\0"]), max_size=6).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    header=st.sampled_from([["id", "account", "name"], ["name", "id"], ["account"], ["id", "name", "account", "x"]]),
    rows=st.lists(st.lists(_CELL, max_size=5), max_size=12),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_NONE, csv.QUOTE_ALL]),
    ending=st.sampled_from(["\n", "\r\n", "\r"]),
    sharded=st.booleans(),
)
@example(header=["id", "account", "name"], rows=[["1", "a", "x"], ["2", "a", "x", "too many"], ["3", "a", "x"]],
         quoting=csv.QUOTE_MINIMAL, ending="\n", sharded=True)  # fmt: skip
def test_csv_rows_as_the_csv_module_reads_them(header: list[str], rows: list[list[str]], quoting: int, ending: str,
                                                sharded: bool) -> None:  # fmt: skip
    from playbook.data.files import _csv_rows

    buffer = io.StringIO(newline="")
    writer = csv.writer(
        buffer, quoting=quoting, lineterminator=ending, escapechar="\\" if quoting == csv.QUOTE_NONE else None
    )
    writer.writerow(header)
    for row in rows:
        try:
            writer.writerow(row)
        except csv.Error:  # QUOTE_NONE cannot write some cells: a raw line instead
            buffer.write(",".join(row) + ending)
    text = buffer.getvalue()
    expected_owner, owner = (_Owner(), _Owner()) if sharded else (None, None)
    want_header, want = _rows_by_csv_module(text, expected_owner)
    got_header, rows_got = _csv_rows(io.StringIO(text, newline=""), owner)
    got = [(n, r if isinstance(r, list) else f"{r.values['cells']} cells") for n, r in rows_got]
    assert (got_header, got) == (want_header, want)
    if sharded:
        assert owner.others == expected_owner.others
