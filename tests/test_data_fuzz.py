"""Never a traceback on any input file (issue 14): whatever the bytes of a contacts,
accounts or events file — random bytes, CSV of any shape, in UTF-8, UTF-8 with a BOM,
GB18030 or UTF-16 as Excel saves "Unicode text", JSON Lines of any shape — every reader
gives rows and per-row problems, or one clear error (PlaybookError). 25 inputs per test
by default; `-m slow` runs 400."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playbook.data.columns import ACCOUNTS, CONTACTS, EVENTS, ColumnMap
from playbook.data.fields import column_note, field_names
from playbook.data.files import RowProblem, read_events, read_records
from playbook.diagnostics import PlaybookError
from playbook.engine.core import Contacts
from playbook.plan.shards import NotShardable, Shard
from playbook.vocab.localtime import LocalTime

CLOCK = LocalTime("Asia/Shanghai")
FAST = int(os.environ.get("PLAYBOOK_FUZZ_DATA", "25"))
SLOW = 400

HEADERS = ["id", "name", "account", "tags", "added_at", "spent", "orders", "type", "contact", "at", "amount", "tag",
           "客户ID", "客户昵称", "所属员工", "标签", "添加时间", "累计消费", "事件类型", "时间", "城市", "", " ", "id"]  # fmt: skip
CELL = st.one_of(
    st.sampled_from(["", " ", "c1", "a1", "张三", "2026-12-01", "2026/12/6 8:00", "2026年12月6日 16:20", "３９９",
                     "12", "-3.5", "true", "问过价格，看过直播", '"', '""', "a,b", "x\ny", "\r", "\0", "\ufeff", "ＩＤ",
                     "2026-02-30", "25:00", "1e999", "9" * 40]),  # fmt: skip
    st.text(max_size=12),
)
ENCODING = st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16", "utf-16-le"])


def exercise(data: bytes, suffix: str) -> None:
    """Every reader over the file: rows and problems, or one PlaybookError."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        path.write_bytes(data)
        for kind in (CONTACTS, ACCOUNTS, EVENTS):
            columns = ColumnMap(kind)
            try:
                if kind == EVENTS:
                    rows, problems = read_events(path, CLOCK, columns=columns)
                else:
                    rows, problems = read_records(path, CLOCK, columns=columns)
                assert isinstance(rows, list) and all(isinstance(p, RowProblem) for p in problems)
                for p in problems:
                    assert p.row >= 0 and p.message()
            except PlaybookError as exc:
                assert exc.diagnostics and all(d.message for d in exc.diagnostics)
        for index in (0, 1):  # as the shards of a plan in two processes read it
            shard = Shard(index, 2)
            try:
                read_records(path, CLOCK, owner=shard, columns=ColumnMap(CONTACTS))
                shard.known(Contacts())
                read_events(path, CLOCK, router=shard, columns=ColumnMap(EVENTS))
            except (PlaybookError, NotShardable):
                pass
        try:
            field_names(path)
        except PlaybookError:
            pass
        column_note(path, ColumnMap(CONTACTS))


def csv_bytes(header: list[str], rows: list[list[str]], sep: str, quoting: int, ending: str, encoding: str) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=sep, quoting=quoting, lineterminator=ending,
                        escapechar="\\" if quoting == csv.QUOTE_NONE else None)  # fmt: skip
    for row in [header, *rows]:
        try:
            writer.writerow(row)
        except csv.Error:
            buffer.write(sep.join(row) + ending)
    return buffer.getvalue().encode(encoding, errors="replace")


CSV_FILES = st.builds(
    csv_bytes,
    st.lists(st.sampled_from(HEADERS), max_size=8),
    st.lists(st.lists(CELL, max_size=9), max_size=8),
    st.sampled_from([",", "\t", ";"]),
    st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_NONE, csv.QUOTE_ALL]),
    st.sampled_from(["\n", "\r\n", "\r"]),
    ENCODING,
)
JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | CELL,
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(CELL, inner, max_size=3),
                          max_leaves=6)  # fmt: skip
JSON_LINE = st.one_of(
    st.dictionaries(st.sampled_from(HEADERS) | CELL, JSON_VALUE, max_size=8).map(lambda d: json.dumps(d, ensure_ascii=False)),
    JSON_VALUE.map(json.dumps),
    st.text(max_size=30),
    st.just("[" * 5000),
    st.just('{"id": 1' + "0" * 5000 + "}"),
)
JSON_FILES = st.builds(lambda lines, enc: "\n".join(lines).encode(enc, errors="replace"), st.lists(JSON_LINE, max_size=8),
                       ENCODING)  # fmt: skip


def mixed(parts: list[tuple[str, str]]) -> bytes:
    return b"".join(text.encode(enc, errors="replace") for text, enc in parts)


MIXED = st.builds(mixed, st.lists(st.tuples(st.sampled_from(["id,name,account\n", "c1,张三,a1\n", "c2,李四,a2\n",
                                                             '{"id": "c3", "name": "王五"}\n', "客户ID,昵称\n"]),
                                            st.sampled_from(["utf-8", "gb18030", "utf-16"])), max_size=8))  # fmt: skip
ANY = st.one_of(st.binary(max_size=400), CSV_FILES, JSON_FILES, MIXED)
SUFFIX = st.sampled_from([".csv", ".jsonl", ".txt"])
RULES = {"deadline": None, "suppress_health_check": list(HealthCheck), "derandomize": False}


@settings(max_examples=FAST, **RULES)
@given(ANY, SUFFIX)
def test_readers_never_raise_anything_else(data: bytes, suffix: str) -> None:
    exercise(data, suffix)


@pytest.mark.slow
@settings(max_examples=SLOW, **RULES)
@given(ANY, SUFFIX)
def test_readers_never_raise_anything_else_long(data: bytes, suffix: str) -> None:
    exercise(data, suffix)


@pytest.mark.parametrize(
    "data",
    [b"", b"\n\n", b"\xef\xbb\xbf", b"\xff\xfe", b"\xff\xfeid\x00", b"PK\x03\x04rest", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
     b'id\n"' + b"x" * 200_000, b"id,name\n\x00,\x00\n", b"id\n" + "张三".encode("gb18030") + b"\n\xff\xff\n",
     b"[" * 100_000, b"{\"a\": " + b"[" * 100_000, b'{"id": "c1", "tags": [1, null, {"a": 2}]}'],
)  # fmt: skip
def test_awkward_files(data: bytes) -> None:
    for suffix in (".csv", ".jsonl"):
        exercise(data, suffix)


