"""Data files exported by Excel on Chinese Windows are GB18030, not UTF-8: both read."""

from __future__ import annotations

from pathlib import Path

import pytest

from playbook.data.encoding import text_encoding
from playbook.data.fields import field_names
from playbook.data.files import read_records
from playbook.diagnostics import PlaybookError
from playbook.vocab.localtime import LocalTime

ROWS = "id,name,account,city\nc1,张三,a1,上海\nc2,阿四,a1,杭州\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_contacts_in_either_encoding(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(ROWS.encode(encoding))
    records, problems = read_records(path, LocalTime("Asia/Shanghai"))
    assert not problems
    assert [r["name"] for r in records] == ["张三", "阿四"] and records[1]["city"] == "杭州"
    assert field_names(path) == {"id", "name", "account", "city"}


def test_gbk_file_is_detected_not_mangled(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(ROWS.encode("gbk"))
    assert text_encoding(path) == "gb18030"
    path.write_bytes(ROWS.encode("utf-8"))
    assert text_encoding(path) == "utf-8-sig"


def test_undecodable_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"id,name\nc1,\x81\x30\xff\xff\n")
    with pytest.raises(PlaybookError) as err:
        read_records(path, LocalTime("Asia/Shanghai"))
    assert "neither UTF-8 nor GB18030" in err.value.diagnostics[0].message


def test_events_in_a_csv_file_are_read_like_json_lines(tmp_path) -> None:
    from playbook.data.files import read_events
    from playbook.vocab.localtime import LocalTime

    path = tmp_path / "events.csv"
    path.write_text("type,contact,at,amount,tag\npurchase,c1,2026-12-01 09:00,99.5,\ntag_added,c2,2026-12-01 10:00,,VIP\n"
                    ",c3,2026-12-01 11:00,,\n", encoding="utf-8")  # fmt: skip
    events, problems = read_events(path, LocalTime("Asia/Shanghai"))
    assert [(e.type, e.contact, e.data) for e in events] == [("purchase", "c1", {"amount": 99.5}),
                                                             ("tag_added", "c2", {"tag": "VIP"})]  # fmt: skip
    assert [(p.row, p.reason) for p in problems] == [(4, "the event has no 'type'")]
