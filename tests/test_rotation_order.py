"""A rotation orders an account's contacts by name with flat string keys (for speed); the
order must be the one of the plain keys, (0, name_key(name), id) or (1, (), id)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from playbook.engine.flows import _name_tuple, name_prefix
from playbook.engine.pinyin import name_key

NAMES = st.one_of(
    st.sampled_from(
        [
            "张伟",
            "张 伟",
            "Amy",
            "amy",
            "AMY",
            "阿四",
            "白一",
            "曾小贤",
            "Coco",
            "🍓草莓控",
            "安安妈妈",
            "",
            " ",
            "a\x00b",
            "a",
            "a b",
            "亲",
            "#1",
            "1号",
            "\uffff",
        ]
    ),  # fmt: skip
    st.text(max_size=4),
    st.integers(0, 3),  # not text: sorts after every name
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(NAMES, st.text(max_size=3)), max_size=30, unique_by=lambda x: x[1]), st.booleans())
def test_flat_keys_sort_as_the_tuples(people: list[tuple[object, str]], descending: bool) -> None:
    keys = [_name_tuple(n, cid) for n, cid in people]
    assert keys == [(0, name_key(n), cid) if isinstance(n, str) else (1, (), cid) for n, cid in people]
    flat = [name_prefix(n) + cid if isinstance(n, str) else "1\x00" + cid for n, cid in people]
    if any(isinstance(n, str) and not name_prefix(n) for n, _ in people):
        assert any(isinstance(n, str) and "\x00" in name_key(n)[1] for n, _ in people)
        return
    by_tuple = sorted(range(len(keys)), key=keys.__getitem__, reverse=descending)
    by_flat = sorted(range(len(keys)), key=flat.__getitem__, reverse=descending)
    assert by_flat == by_tuple
