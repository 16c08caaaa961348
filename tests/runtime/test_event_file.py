"""`playbook event --file PATH|-`: events from a JSON Lines file or standard input, read and
checked as `plan --events` reads them, stored in one append with source "file"; bad rows
reported with their row numbers while the good ones are stored (--strict: none stored)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from playbook import i18n
from playbook.cli.main import cli
from playbook.compiler import compile_path
from playbook.data.files import read_events
from playbook.diagnostics import PlaybookError
from playbook.runtime import schema
from playbook.runtime.storage import eventlog
from playbook.runtime.store import Store
from playbook.vocab.localtime import LocalTime

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
GOOD = [
    {"type": "friend_added", "contact": "c1", "at": "2026-12-01 09:00", "account": "a1", "name": "小王"},
    {"type": "purchase", "contact": "c1", "at": "2026-12-02T10:00:00+08:00", "amount": 3149, "sku": "X-1"},
    {"type": "tag_added", "contact": 42, "at": "2026-12-03 08:30", "tag": "VIP"},
]


def lines(*rows: dict[str, Any] | str) -> str:
    return "".join((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n" for row in rows)


# rows 1-2 good, 3 blank (skipped, still counted), 4 not JSON, 5 good, 6 no contact, 7 a bad amount, 8 not an object
MIXED = lines(GOOD[0], GOOD[1], "", "{not json", GOOD[2], {"type": "reply", "at": "2026-12-01 10:00"},
              {"type": "purchase", "contact": "c2", "at": "2026-12-01 10:00", "amount": "lots"}, "[1, 2]")  # fmt: skip
MIXED_PROBLEMS = [
    {"row": 4, "reason": "not valid JSON: Expecting property name enclosed in double quotes"},
    {"row": 6, "reason": "the event has no 'contact'"},
    {"row": 7, "reason": "a purchase's amount must be a number, not 'lots'"},
    {"row": 8, "reason": "each line must be a JSON object"},
]


@pytest.fixture(autouse=True)
def _pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The events here are of early December 2026: judged on 2026-12-04 (not a month old, not ahead)."""
    from playbook.cli import event

    monkeypatch.setattr(event, "wall_clock", lambda: at("2026-12-04 12:00"))


def invoke(*args: str, input: str | bytes | None = None, lang: str = "en") -> Result:  # noqa: A002 (click's name)
    return CliRunner().invoke(cli, ["--lang", lang, "event", *args], input=input)


def failure(result: Result) -> str:
    """The message of an input error (main() prints it as a diagnostic and exits 1)."""
    assert isinstance(result.exception, PlaybookError), result.output
    return "\n".join(d.message for d in result.exception.diagnostics)


def stored(db: Path) -> list[tuple[int, str, str, int, dict[str, Any], str]]:
    """(seq, type, contact, at, data, source) of every logged event."""
    with Store(f"sqlite:///{db}") as store:
        t = schema.events
        with store.engine.connect() as conn:
            query = sa.select(t.c.seq, t.c.type, t.c.contact, t.c.at, t.c.data, t.c.source).order_by(t.c.seq)
            return [tuple(row) for row in conn.execute(query)]  # type: ignore[misc]


def at(text: str, tz: dt.tzinfo = SHANGHAI) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=tz).timestamp())


@pytest.fixture(autouse=True)
def _english() -> Any:
    yield
    i18n.set_language(None)  # --lang sticks for the process: leave it as found


def test_a_file_of_good_events_is_stored_in_order_with_source_file(tmp_path: Path) -> None:
    data = tmp_path / "events.jsonl"
    data.write_text(lines(*GOOD), encoding="utf-8")
    db = tmp_path / "store.db"
    result = invoke("--file", str(data), "--db", str(db))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"3 events stored from {data}\n"
    rows = stored(db)
    assert [(r[1], r[2], r[3], r[5]) for r in rows] == [
        ("friend_added", "c1", at("2026-12-01T09:00"), "file"),  # no offset: the default timezone, Asia/Shanghai
        ("purchase", "c1", at("2026-12-02T10:00"), "file"),
        ("tag_added", "42", at("2026-12-03T08:30"), "file"),  # a numeric id is text, as in plan
    ]
    assert rows[0][4] == {"account": "a1", "name": "小王"} and rows[1][4] == {"amount": 3149, "sku": "X-1"}
    # exactly what `plan --events` reads from the same file
    planned, problems = read_events(data, LocalTime("Asia/Shanghai"))
    assert not problems
    assert [(e.type, e.contact, e.at, e.data) for e in planned] == [(r[1], r[2], r[3], r[4]) for r in rows]


def test_bad_rows_are_reported_with_row_numbers_and_the_good_ones_stored(tmp_path: Path) -> None:
    data = tmp_path / "events.jsonl"
    data.write_text(MIXED, encoding="utf-8")
    db = tmp_path / "store.db"
    result = invoke("--file", str(data), "--db", str(db))
    assert result.exit_code == 1  # like `import`: any bad row is an error, the rest is still stored
    assert result.stdout == f"3 events stored from {data}; 4 bad rows left out\n"
    for problem in MIXED_PROBLEMS:
        assert f"{data}:{problem['row']}:0: error: {problem['reason']}" in result.stderr
    assert [(r[1], r[2]) for r in stored(db)] == [("friend_added", "c1"), ("purchase", "c1"), ("tag_added", "42")]


def test_json_output(tmp_path: Path) -> None:
    data = tmp_path / "events.ndjson"
    data.write_text(MIXED, encoding="utf-8")
    db = tmp_path / "store.db"
    invoke("friend_added", "--contact", "c0", "--db", str(db))  # sequence numbers go on from the log
    result = invoke("--file", str(data), "--db", str(db), "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc == {"file": str(data), "stored": 3, "seqs": [2, 3, 4], "problems": MIXED_PROBLEMS}
    assert [r[0] for r in stored(db) if r[5] == "file"] == doc["seqs"]
    assert result.stderr == ""  # the problems are in the JSON, not repeated as diagnostics
    # the JSON is data: the same in Chinese (reasons stay English)
    again = invoke("--file", str(data), "--db", str(tmp_path / "zh.db"), "--format", "json", lang="zh")
    assert json.loads(again.stdout)["problems"] == MIXED_PROBLEMS


def test_standard_input(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    result = invoke("--file", "-", "--db", str(db), input=MIXED)
    assert result.exit_code == 1
    assert result.stdout == "3 events stored from <stdin>; 4 bad rows left out\n"
    assert "<stdin>:6:0: error: the event has no 'contact'" in result.stderr
    assert len(stored(db)) == 3
    result = invoke("--file", "-", "--db", str(db), "--format", "json", input=lines(*GOOD))
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"file": "<stdin>", "stored": 3, "seqs": [4, 5, 6], "problems": []}


def test_standard_input_in_gb18030_is_read_like_a_file(tmp_path: Path) -> None:
    # the reader detects the encoding from the bytes: stdin is handed over as bytes, not decoded text
    db = tmp_path / "store.db"
    result = invoke("--file", "-", "--db", str(db), input=lines(*GOOD).encode("gb18030"))
    assert result.exit_code == 0, result.output
    assert stored(db)[0][4]["name"] == "小王"


def test_strict_stores_nothing_when_a_row_is_bad(tmp_path: Path) -> None:
    data = tmp_path / "events.jsonl"
    data.write_text(MIXED, encoding="utf-8")
    db = tmp_path / "store.db"
    result = invoke("--file", str(data), "--db", str(db), "--strict")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"--strict: 4 bad rows in {data}; nothing stored" in result.stderr
    assert f"{data}:7:0: error: a purchase's amount must be a number" in result.stderr
    assert stored(db) == []
    result = invoke("--file", "-", "--db", str(db), "--strict", "--format", "json", input=MIXED)
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"file": "<stdin>", "stored": 0, "seqs": [], "problems": MIXED_PROBLEMS}
    assert stored(db) == []
    # and a clean file goes in whole
    good = tmp_path / "good.jsonl"
    good.write_text(lines(*GOOD), encoding="utf-8")
    assert invoke("--file", str(good), "--db", str(db), "--strict").exit_code == 0
    assert len(stored(db)) == 3


def test_all_good_events_go_in_one_append(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One Store.log_events call, one transaction: a crash stores all of them or none."""
    calls: list[tuple[int, str]] = []
    original = Store.log_events

    def spy(self: Store, events: Any, source: str, *args: Any, **kwargs: Any) -> Any:
        calls.append((len(events), source))
        return original(self, events, source, *args, **kwargs)

    monkeypatch.setattr(Store, "log_events", spy)
    data = tmp_path / "events.jsonl"
    data.write_text(lines(*(dict(GOOD[0], contact=f"c{i}") for i in range(250))), encoding="utf-8")
    result = invoke("--file", str(data), "--db", str(tmp_path / "store.db"))
    assert result.exit_code == 0, result.output
    assert calls == [(250, "file")]

    # the store fails half-way through the append (after a first chunk of rows went in): nothing stays
    def dying(items: Any, size: int = 0) -> Any:
        if items and isinstance(items[0], dict) and items[0].get("source") == "file":
            yield items[:100]
            raise sa.exc.OperationalError("INSERT INTO events", {}, Exception("disk I/O error"))
        yield from chunks(items)

    chunks = eventlog.chunks
    monkeypatch.setattr(Store, "append_events", original)
    monkeypatch.setattr(eventlog, "chunks", dying)
    fresh = tmp_path / "fresh.db"
    result = invoke("--file", str(data), "--db", str(fresh))
    assert "cannot use the store" in failure(result) and "disk I/O error" in failure(result)
    monkeypatch.undo()
    assert stored(fresh) == []


def test_times_without_an_offset_follow_the_active_playbook_or_timezone(tmp_path: Path) -> None:
    data = tmp_path / "events.jsonl"
    data.write_text(lines(GOOD[0]), encoding="utf-8")
    db = tmp_path / "store.db"
    source = tmp_path / "london.pb"
    source.write_text('playbook "伦敦"\ntimezone "Europe/London"\n\njourney 欢迎 {\n  on friend_added\n  dm 欢迎语\n}\n\n'
                      'content 欢迎语 = "欢迎！"\n', encoding="utf-8")  # fmt: skip
    compiled = compile_path(str(source))
    assert compiled.doc is not None, compiled.errors
    with Store(f"sqlite:///{db}") as store:
        store.migrate()
        store.save_version(compiled.doc)
        store.activate_version(compiled.doc["version"])
    assert invoke("--file", str(data), "--db", str(db)).exit_code == 0
    assert invoke("--file", str(data), "--db", str(db), "--timezone", "UTC").exit_code == 0
    assert [r[3] for r in stored(db)] == [at("2026-12-01T09:00", dt.UTC), at("2026-12-01T09:00", dt.UTC)]
    assert invoke("--file", str(data), "--db", str(db), "--timezone", "Asia/Shanghai").exit_code == 0
    assert stored(db)[-1][3] == at("2026-12-01T09:00")
    assert "unknown timezone 'Mars/Olympus'" in failure(invoke("--file", str(data), "--db", str(db), "--timezone",
                                                               "Mars/Olympus"))  # fmt: skip


def test_a_file_not_named_jsonl_is_still_json_lines(tmp_path: Path) -> None:
    data = tmp_path / "events.log"
    data.write_text(lines(*GOOD, {"type": "reply"}), encoding="utf-8")
    result = invoke("--file", str(data), "--db", str(tmp_path / "store.db"))
    assert result.exit_code == 1
    assert result.stdout == f"3 events stored from {data}; 1 bad row left out\n"
    assert f"{data}:4:0: error: the event has no 'contact'" in result.stderr  # the real name, not a copy's


def test_a_contact_the_store_cannot_hold_is_a_problem_not_a_failure(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    bad = {"type": "reply", "contact": "c\u00009", "at": "2026-12-01 10:00"}
    result = invoke("--file", "-", "--db", str(db), "--format", "json", input=lines(GOOD[0], bad))
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["stored"] == 1 and len(doc["problems"]) == 1
    assert "NUL" in doc["problems"][0]["reason"]
    assert [r[2] for r in stored(db)] == ["c1"]


def test_an_unreadable_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    for name in ("missing.jsonl", "missing.txt"):
        result = invoke("--file", str(tmp_path / name), "--db", str(tmp_path / "store.db"))
        assert "cannot read file" in failure(result)
        assert result.exception.diagnostics[0].file == str(tmp_path / name)  # type: ignore[union-attr]


def test_input_that_is_not_text_names_stdin(tmp_path: Path) -> None:
    result = invoke("--file", "-", "--db", str(tmp_path / "store.db"), input=b"\xff\xfe\x00\x81\x00")
    assert "neither UTF-8 nor GB18030" in failure(result)
    assert result.exception.diagnostics[0].file == "<stdin>"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give an event (TYPE --contact ID) or a file of events (--file PATH, - for stdin)"),
        (["friend_added"], "--contact is required with TYPE (or use --file)"),
        (["--contact", "c1"], "give the event's TYPE, like friend_added"),
        (["friend_added", "--contact", "c1", "--strict"], "--strict applies to --file only"),
        (["friend_added", "--file", "-"], "--file reads the events from the file: leave out TYPE"),
        (["--file", "-", "--contact", "c1"], "leave out TYPE, KEY=VALUE, --contact and --at"),
        (["--file", "-", "--at", "2026-12-01 09:00"], "leave out TYPE, KEY=VALUE, --contact and --at"),
    ],
)
def test_the_two_forms_do_not_mix(tmp_path: Path, args: list[str], message: str) -> None:
    db = tmp_path / "store.db"
    result = invoke(*args, "--db", str(db), input=lines(*GOOD))
    assert message in failure(result)
    assert not db.exists()  # refused before the store is opened


def test_one_event_still_works(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    result = invoke("purchase", "--contact", "c1", "amount=99.5", "--at", "2026-12-01 09:00", "--db", str(db),
                    "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"seq": 1, "type": "purchase", "contact": "c1", "at": at("2026-12-01T09:00")}
    assert stored(db)[0][4:] == ({"amount": 99.5}, "cli")


def test_chinese_summary(tmp_path: Path) -> None:
    data = tmp_path / "events.jsonl"
    data.write_text(MIXED, encoding="utf-8")
    result = invoke("--file", str(data), "--db", str(tmp_path / "store.db"), lang="zh")
    assert result.stdout == f"已从 {data} 存入 3 条事件；4 行有误，已跳过\n"
    assert f"{data}:6:0: 错误：" in result.stderr
    assert "给出 TYPE 时必须同时给出 --contact" in failure(invoke("friend_added", lang="zh"))
