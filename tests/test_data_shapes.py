"""The shapes real data files come in (docs/data.md): tags typed the way people type them,
SCRM and Excel headers, encodings and separators, values written leniently."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from playbook.data.columns import ACCOUNTS, CONTACTS, EVENTS, ColumnMap
from playbook.data.files import read_events, read_records
from playbook.data.values import TAG_SEPARATORS, parse_tags
from playbook.diagnostics import PlaybookError
from playbook.vocab.localtime import LocalTime
from tests.cli_run import run_cli

CLOCK = LocalTime("Asia/Shanghai")


# ---- tags ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell",
    ["问过价格;看过直播", "问过价格；看过直播", "问过价格,看过直播", "问过价格，看过直播", "问过价格、看过直播",
     "问过价格|看过直播", " 问过价格 ，　看过直播 、", "问过价格;;看过直播;问过价格"],
)  # fmt: skip
def test_tags_split_the_ways_people_type_them(cell: str) -> None:
    assert parse_tags(cell) == {"问过价格", "看过直播"}


TAG = st.text(st.characters(blacklist_characters=TAG_SEPARATORS, blacklist_categories=("Cs",)), min_size=1).filter(
    lambda s: s.strip() == s and s
)


@given(st.lists(TAG, max_size=6), st.lists(st.sampled_from(TAG_SEPARATORS), min_size=1, max_size=6))
def test_tags_any_separator_any_mix(tags: list[str], separators: list[str]) -> None:
    text = "".join(tag + separators[i % len(separators)] for i, tag in enumerate(tags))
    assert parse_tags(text) == frozenset(tags)
    assert parse_tags(tags) == frozenset(tags)  # a JSON list: taken as it is


def test_a_quoted_csv_cell_keeps_its_commas_for_the_tags(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text('id,name,tags,city\nc1,张三,"问过价格,看过直播",上海\nc2,李四,问过价格、SVIP,杭州\n', encoding="utf-8")
    records, problems = read_records(path, CLOCK)
    assert not problems
    assert [r["tags"] for r in records] == [{"问过价格", "看过直播"}, {"问过价格", "SVIP"}]
    assert records[0]["city"] == "上海"


def test_event_tags_field_splits_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "contact_updated", "contact": "c1", "at": "2026-12-01T09:00:00+08:00", '
                    '"tags": "问过价格，看过直播"}\n', encoding="utf-8")  # fmt: skip
    events, problems = read_events(path, CLOCK)
    assert not problems and events[0].data["tags"] == {"问过价格", "看过直播"}


# ---- headers ------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
SCRM = ("客户ID,客户昵称,所属员工,标签,添加时间,累计消费,城市\n"
        "k1,张三,a1,问过价格，看过直播,2026-11-28 10:00,399,上海\n"
        "k2,李四,a2,看过直播,2026-11-29T09:00:00+08:00,,杭州\n")  # fmt: skip


def test_scrm_headers_are_read_as_fields(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(SCRM, encoding="utf-8")
    records, problems = read_records(path, CLOCK)
    assert not problems
    assert records[0]["id"] == "k1" and records[0]["name"] == "张三" and records[0]["account"] == "a1"
    assert records[0]["tags"] == {"问过价格", "看过直播"} and records[0]["spent"] == 399
    assert records[0]["城市"] == "上海"  # an unknown column: a field under its own name
    assert int(records[1]["added_at"]) == int(CLOCK.instant(dt.datetime(2026, 11, 29, 9)))


def test_header_rules_who_wins() -> None:
    found = ColumnMap().header(["客户ID", "备注名", "客户昵称", "name", "Tags", "城市"])
    # the field's own name beats a synonym; the other synonyms keep their own names
    assert found.fields == ["id", "备注名", "客户昵称", "name", "tags", "城市"]
    given = ColumnMap(given=(("备注名", "name"), ("城市", "city"), ("手机号", "-"))).header(
        ["客户ID", "备注名", "name", "城市", "手机号"])  # fmt: skip
    assert given.fields == ["id", "name", None, "city", None]  # the operator wins; `-` leaves a column out
    assert given.dropped == ["name", "手机号"]
    assert ColumnMap(EVENTS).header(["事件类型", "客户ID", "时间", "事件ID", "金额"]).fields == \
        ["type", "contact", "at", "id", "amount"]  # fmt: skip
    assert ColumnMap(ACCOUNTS).header(["员工ID", "员工姓名"]).fields == ["id", "name"]
    assert ColumnMap().header(["ＩＤ", "External UserID"]).fields == ["id", "External UserID"]
    assert ColumnMap().header(["External UserID", "Nick-Name"]).fields == ["id", "name"]


def test_a_missing_required_column_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("编号,昵称,所属员工\n" + "".join(f"k{i},张{i},a1\n" for i in range(300)), encoding="utf-8")
    with pytest.raises(PlaybookError) as caught:
        read_records(path, CLOCK)
    (d,) = caught.value.diagnostics
    assert "no 'id' column" in d.message and "编号, 昵称, 所属员工" in d.message
    assert "--columns 编号=id" in d.hint
    records, problems = read_records(path, CLOCK, columns=ColumnMap(given=(("编号", "id"),)))
    assert len(records) == 300 and not problems


def test_issue_example_plans_and_imports(tmp_path: Path) -> None:
    """The issue's export (客户ID,客户昵称,所属员工,标签,添加时间,累计消费): plan and import,
    one note about the columns, no traceback."""
    path = tmp_path / "export.csv"
    path.write_text(SCRM, encoding="utf-8")
    book = tmp_path / "p.pb"
    book.write_text('playbook "x"\nsegment 未购 = spent is not set\nsegment 高意向 = tag "看过直播"\n'
                    'content 券 = "{name|亲}，新客券"\njourney j {\n  every day at 10:00 for 高意向\n  dm 券\n}\n',
                    encoding="utf-8")  # fmt: skip
    out = run_cli("plan", str(book), "--contacts", str(path), "--start", "2026-12-01", "--days", "1",
                  "--format", "json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "客户ID → id" in out.stderr and out.stderr.count("columns read as") == 1
    touches = json.loads(out.stdout)["touches"]
    assert {(t["contact"], t["text"]) for t in touches} == {("k1", "张三，新客券"), ("k2", "李四，新客券")}
    imported = run_cli("import", str(path), "--db", str(tmp_path / "s.db"), "--format", "json")
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["files"][0]["inserted"] == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("编号,昵称\n" + "k1,张三\n" * 300, encoding="utf-8")
    refused = run_cli("import", str(bad), "--db", str(tmp_path / "s.db"))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) <= 3, refused.stderr  # one error (and its hint), not 300


def test_columns_option_and_config_table(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("编号,称呼,员工\nk1,张三,a1\n", encoding="utf-8")
    db = str(tmp_path / "s.db")
    out = run_cli("import", str(path), "--db", db, "--columns", "编号=id,称呼=name", "--format", "json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (tmp_path / "playbook.toml").write_text('[columns]\n"编号" = "id"\n"称呼" = "name"\n', encoding="utf-8")
    again = run_cli("import", str(path), "--db", db, "--format", "json", cwd=tmp_path)
    assert again.returncode == 0 and json.loads(again.stdout)["files"][0]["unchanged"] == 1, again.stderr
    wrong = run_cli("import", str(path), "--db", db, "--columns", "编号", cwd=tmp_path)
    assert wrong.returncode == 1 and "COLUMN=FIELD" in wrong.stderr and "Traceback" not in wrong.stderr
    checked = run_cli("check", str(ROOT / "playbooks" / "new_customer.pb"), "--contacts", str(path), cwd=tmp_path)
    assert "Traceback" not in checked.stderr


def test_event_key_value_synonyms_and_an_id_column(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("事件ID,事件类型,客户ID,时间,所属员工,昵称,orders,spent\n"
                    "e1,friend_added,k1,2026-12-01T10:00:00+08:00,a1,张三,1,399\n", encoding="utf-8")  # fmt: skip
    events, problems = read_events(path, CLOCK)
    assert not problems
    (event,) = events
    assert (event.type, event.contact) == ("friend_added", "k1")
    assert event.data == {"id": "e1", "account": "a1", "name": "张三", "orders": 1, "spent": 399}


# ---- encodings, separators, long fields ---------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
@pytest.mark.parametrize("sep", [",", "\t"])
def test_excel_encodings_and_separators(tmp_path: Path, encoding: str, sep: str) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(SCRM.replace(",", sep).replace("问过价格，看过直播", "问过价格、看过直播").encode(encoding))
    records, problems = read_records(path, CLOCK)
    assert not problems
    assert [r["name"] for r in records] == ["张三", "李四"] and records[0]["tags"] == {"问过价格", "看过直播"}


def test_excel_sep_line_and_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("sep=;\nid;name;tags\nc1;张三;\"a;b\"\n", encoding="utf-8")
    records, problems = read_records(path, CLOCK)
    assert not problems and records == [{"id": "c1", "name": "张三", "tags": {"a", "b"}}]
    assert problems == []


def test_an_excel_workbook_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    with pytest.raises(PlaybookError) as caught:
        read_records(path, CLOCK)
    assert "Excel workbook" in caught.value.diagnostics[0].message


def test_a_field_of_any_length(tmp_path: Path) -> None:
    long = "长" * 200_000
    path = tmp_path / "contacts.csv"
    path.write_text(f'id,name,note\nc1,张三,"{long}\n{long}"\nc2,李四,{long}\n', encoding="utf-8")
    records, problems = read_records(path, CLOCK)
    assert not problems and [len(r["note"]) for r in records] == [400_001, 200_000]


def test_rows_in_another_encoding_are_reported_not_mangled(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    lines = ["id,name,account\n", "c1,张三,a1\n", "c2,李四,a1\n", "c3,王五,a1\n"]
    path.write_bytes(b"".join([lines[0].encode(), lines[1].encode("utf-8"), lines[2].encode("gb18030"),
                               lines[3].encode("utf-8")]))  # fmt: skip
    records, problems = read_records(path, CLOCK)
    assert [r["name"] for r in records] == ["张三", "王五"]
    assert [(p.row, "GB18030" in p.reason) for p in problems] == [(3, True)]
    assert all("寮" not in str(r) for r in records)
    # mostly GB18030 with one UTF-8 row: the same, the other way round
    path.write_bytes(b"".join([lines[0].encode(), lines[1].encode("gb18030"), lines[2].encode("utf-8"),
                               lines[3].encode("gb18030")]))  # fmt: skip
    records, problems = read_records(path, CLOCK)
    assert [r["name"] for r in records] == ["张三", "王五"] and [p.row for p in problems] == [3]
    events = tmp_path / "events.jsonl"
    rows = ['{"type": "message", "contact": "张三", "at": "2026-12-01T09:00:00+08:00"}\n'] * 3
    events.write_bytes(rows[0].encode() + rows[1].encode("gb18030") + rows[2].encode())
    got, problems = read_events(events, CLOCK)
    assert [e.contact for e in got] == ["张三", "张三"] and [p.row for p in problems] == [2]


def test_mixed_encodings_through_import_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes("id,name\nc1,张三\n".encode() + "c2,张三\n".encode("gb18030") + "c3,李四\n".encode())
    out = run_cli("import", str(path), "--db", str(tmp_path / "s.db"))
    assert out.returncode == 1 and "GB18030" in out.stderr and "Traceback" not in out.stderr


def test_the_daemon_config_accepts_the_columns_table(tmp_path: Path) -> None:
    from playbook.runtime.config import load_config

    path = tmp_path / "playbook.toml"
    path.write_text('[columns]\n"客户编号" = "id"\n', encoding="utf-8")
    assert load_config(path).columns == {"客户编号": "id"}


def test_json_lines_keys_are_read_like_headers(tmp_path: Path) -> None:
    from playbook.data.fields import field_names

    path = tmp_path / "contacts.jsonl"
    path.write_text('{"客户ID": "k1", "客户昵称": "张三", "标签": "a、b", "城市": "上海"}\n'
                    '{"id": "k2", "name": "李四"}\n', encoding="utf-8")  # fmt: skip
    records, problems = read_records(path, CLOCK)
    assert not problems
    assert records == [{"id": "k1", "name": "张三", "tags": {"a", "b"}, "城市": "上海"}, {"id": "k2", "name": "李四"}]
    assert field_names(path) == {"id", "name", "tags", "城市"}


def test_check_says_which_field_a_mapped_header_is(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(SCRM, encoding="utf-8")
    book = tmp_path / "p.pb"
    book.write_text('quiet 22:00-08:00\nsegment 老客 = 累计消费 > 100 and 城市 == "上海"\n', encoding="utf-8")
    out = run_cli("check", str(book), "--contacts", str(path))
    assert "no contact in the data has a field '累计消费'" in out.stdout
    assert "the column '累计消费' is read as the field 'spent': write spent" in out.stdout
    assert "'城市'" not in out.stdout  # kept under its own name: known


def test_event_file_in_csv_with_chinese_headers(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("事件类型,客户ID,时间,金额\npurchase,k1,2026/12/06 16:20,\"1,299\"\n加好友,k2,2026-12-06 8:00,\n",
                    encoding="utf-8")  # fmt: skip
    out = run_cli("event", "--file", str(path), "--db", str(tmp_path / "s.db"), "--timezone", "Asia/Shanghai",
                  "--format", "json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["stored"] == 2


def test_title_rows_above_the_header(tmp_path: Path) -> None:
    from playbook.data.fields import column_note, field_names

    path = tmp_path / "export.csv"
    path.write_text("客户列表\n导出时间：2026-12-01 09:00,,\n" + SCRM, encoding="utf-8")
    records, problems = read_records(path, CLOCK)
    assert not problems and [r["id"] for r in records] == ["k1", "k2"]
    note = column_note(path, ColumnMap())
    assert note is not None and "the 2 rows above the header row are left out" in note.message
    assert "id" in field_names(path)
    no_header = tmp_path / "none.csv"
    no_header.write_text("客户列表\n" + "x,y\n" * 20, encoding="utf-8")
    with pytest.raises(PlaybookError) as caught:
        read_records(no_header, CLOCK)
    assert "columns found: 客户列表" in caught.value.diagnostics[0].message  # the first row's, said once


HEADER_NAMES = st.sampled_from(["id", "ID", "客户ID", "外部联系人ID", "name", "昵称", "备注名", "客户昵称", "所属员工",
                                "跟进人", "标签", "tags", "城市", "添加时间", "", "x", "手机号", "事件类型", "时间"])  # fmt: skip


@given(st.lists(HEADER_NAMES, max_size=10), st.sampled_from([CONTACTS, ACCOUNTS, EVENTS]),
       st.lists(st.tuples(HEADER_NAMES, st.sampled_from(["id", "name", "-", "city", "contact"])), max_size=3))
def test_every_field_is_one_column(names: list[str], kind: str, given: list[tuple[str, str]]) -> None:
    found = ColumnMap(kind, tuple((h, f) for h, f in given if h)).header(names)
    fields = [f for f in found.fields if f]
    assert len(fields) == len(set(fields))  # no field twice: a second column is kept apart or left out
    for name, field, in zip(names, found.fields, strict=True):
        assert field is None or field == name or (name, field) in found.mapped
        assert field is not None or not name or name in found.dropped
