"""Syntax errors in the operator's words (issue 14, item 6): the message names what is
wrong at the token that is wrong, the hint suggests the fix, and an "expected …" list never
offers more than five alternatives. Every syntax golden in tests/golden/errors has an
English (`.txt`, checked by test_compiler_golden) and a Chinese (`.zh.txt`) rendering."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import GOLDEN, ROOT, check_golden
from test_fuzz import case

from playbook.compiler import compile_path
from playbook.diagnostics import PlaybookError, render
from playbook.i18n import set_language
from playbook.syntax.parser import _describe_expected, _parser, parse

SYNTAX_CASES = sorted((GOLDEN / "errors").glob("syntax_*.pb"))


@pytest.fixture
def zh():
    set_language("zh")
    yield
    set_language(None)


@pytest.mark.parametrize("path", SYNTAX_CASES, ids=lambda p: p.stem)
def test_syntax_golden_zh(path: Path, in_root: Path, zh: None) -> None:
    result = compile_path(path.relative_to(ROOT))
    assert result.diagnostics
    actual = "\n".join(render(d) for d in result.diagnostics) + "\n"
    check_golden(path.with_suffix(".zh.txt"), actual)


def diagnostics(text: str) -> list:
    with pytest.raises(PlaybookError) as info:
        parse(text, "t.pb")
    return info.value.diagnostics


def marked(d) -> str:
    return d.source_line[d.column - 1 : d.end_column - 1]


@pytest.mark.parametrize(
    ("text", "under", "fix"),
    [
        ("group g {\n  lasts 7天\n}\n", "天", "7d"),
        ("group g {\n  lasts ７天\n}\n", "天", "7d"),
        ("segment s = a within 30分钟\n", "分钟", "30m"),
        ("segment s = a within 2 weeks\n", "weeks", "2w"),
        ("journey j {\n  on a\n  after 3小时: dm x\n}\n", "小时", "3h"),
    ],
)
def test_a_word_unit_is_marked_and_rewritten(text: str, under: str, fix: str) -> None:
    (d,) = diagnostics(text)
    assert marked(d) == under
    assert f"write {fix}" in d.message and fix in d.hint


def test_unknown_unit_words_are_left_to_the_generic_message() -> None:
    (d,) = diagnostics("segment s = a within 7dbetween\n")
    assert "unit" not in d.message


def test_a_bare_name_is_reported_at_the_name_with_the_in_form() -> None:
    (d,) = diagnostics("moments m {\n  every day at 09:00: post x visible to 未购\n}\n")
    assert (d.line, marked(d)) == (2, "未购")
    assert "'visible to in 未购'" in d.hint
    (d,) = diagnostics("journey j {\n  on a where 新客\n  dm x\n}\n")
    assert (d.line, marked(d)) == (2, "新客") and "'where in 新客'" in d.hint
    (d,) = diagnostics("journey j {\n  on a where event.source\n  dm x\n}\n")
    assert marked(d) == "event.source" and "'where event.source == …'" in d.hint


def test_comparison_signs() -> None:
    (d,) = diagnostics("segment s = orders ： 2\n")
    assert marked(d) == "：" and "'orders >= 2' / 'orders == 2'" in d.hint
    (d,) = diagnostics("segment s = spent = 5000\n")
    assert marked(d) == "=" and "'spent == 5000'" in d.hint
    (d,) = diagnostics("segment s = orders 2\n")
    assert marked(d) == "2" and "'orders >= 2' / 'orders == 2'" in d.hint


def test_text_as_condition_and_stray_brace() -> None:
    (d,) = diagnostics('segment s = "问过价格"\n')
    assert marked(d) == '"问过价格"' and "'tag \"问过价格\"'" in d.hint
    (d,) = diagnostics("journey j {\n  on a\n}\n}\n")
    assert (d.line, marked(d)) == (4, "}") and "closes no block" in d.message


def _alternatives(message: str) -> int:
    """How many alternatives an "expected …" message lists (parenthesised groups count once)."""
    m = re.search(r"expected (.*?)(?:, found |$)", message)
    if m is None:
        return 0
    listed = m.group(1)
    for phrase in ("a duration like 30m, 2h or 7d", "'asc' or 'desc'"):  # one alternative each
        listed = listed.replace(phrase, "X")
    listed = re.sub(r"\([^)]*\)", "", listed).replace("a declaration  or a setting", "X")
    return len(re.split(r", | or ", listed))


def test_never_more_than_five_alternatives() -> None:
    every = set(_parser().terminals)
    assert _alternatives("expected " + _describe_expected(every)) <= 5
    worst = 0
    for seed in range(600):
        try:
            parse(case(seed), "f.pb")
        except PlaybookError as exc:
            for d in exc.diagnostics:
                worst = max(worst, _alternatives(d.message))
                assert d.line and d.column <= len(d.source_line) + 1, render(d)
    assert 2 <= worst <= 5


def test_bare_name_variants() -> None:
    (d,) = diagnostics("journey j {\n  on a\n  exit when 不打扰\n  dm x\n}\n")
    assert marked(d) == "不打扰" and "'exit when in 不打扰'" in d.hint
    (d,) = diagnostics("segment s = inSVIP\n")
    assert marked(d) == "inSVIP" and "'in SVIP'" in d.hint
    (d,) = diagnostics('segment s = spent >= 5000 ors tag "SVIP"\n')
    assert marked(d) == "ors" and "'or'" in d.hint
    # Not a missing `in`: a keyword read as a name (the field is missing), two names in a row.
    for text in ("segment s = within 14d\n", "segment s = a dded_at within 7d\n", "segment s = spent] >= 3000\n"):
        (d,) = diagnostics(text)
        assert "alone is not a condition" not in d.message and "is not a condition or a keyword" not in d.message


def test_a_malformed_value_is_marked_whole() -> None:
    (d,) = diagnostics("journey j {\n  on a\n  day 2 at 1919:30: dm x\n}\n")
    assert marked(d) == "1919:30" and "is not a time" in d.message
    (d,) = diagnostics("quiet 22s:30-07:30\n")
    assert marked(d) == "22s:30-07:30"
    (d,) = diagnostics("segment s = a within 7dbetween\n")
    assert marked(d) == "7dbetween" and "is not a duration" in d.message


def test_expected_lists_only_what_fits_here() -> None:
    """After a text the LALR tables merge states; the list comes from trying each terminal."""
    (d,) = diagnostics('content c {\n  iamge "x.jpg"\n}\n')
    assert "a declaration" not in d.message and "a step" not in d.message and "'image'" in d.hint
    (d,) = diagnostics('segment s = tag "x"s\n')
    assert "a step" not in d.message
    (d,) = diagnostics('segment s = atg "VIP群"\n')
    assert marked(d) == "atg" and "'tag \"VIP群\"'" in d.hint


def test_a_member_outside_its_block() -> None:
    (d,) = diagnostics('content c {\n  text "你好"\n}\n  image "a.jpg"\n')
    assert (d.line, marked(d)) == (4, "image") and "belongs inside a block" in d.message
    (d,) = diagnostics('timezone "Asia/Shanghai"between\n')  # not at the start of a line: not this message
    assert "belongs inside a block" not in d.message
