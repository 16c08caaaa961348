"""The shapes real data files come in (docs/data.md): tags typed the way people type them,
SCRM and Excel headers, encodings and separators, values written leniently."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from playbook.data.files import read_events, read_records
from playbook.data.values import TAG_SEPARATORS, parse_tags
from playbook.engine.timeutil import LocalTime

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
