"""The canonical formatter: round trip, idempotence, comments, goldens, full-width input."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import GOLDEN, ROOT, SHARED_EXAMPLES, check_golden
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import files

from playbook.diagnostics import PlaybookError
from playbook.syntax import ast as A
from playbook.syntax.fmt import format_file, format_source
from playbook.syntax.parser import parse

FMT_GOLDEN = GOLDEN / "fmt"
# The property tests' size; raise it for a longer run (e.g. PLAYBOOK_FMT_EXAMPLES=5000).
EXAMPLES = int(os.environ.get("PLAYBOOK_FMT_EXAMPLES", "200"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SEED_EXAMPLES = ["moments_and_service.pb", "new_customer.pb", "presale_group.pb"]
ALL_EXAMPLES = sorted({p.name: p for p in [*(ROOT / "playbooks").glob("*.pb"), *SHARED_EXAMPLES.glob("*.pb")]}.values())


def comment_texts(f: A.File) -> list[str]:
    return [c.text.rstrip(" \t\f") for c in f.comments]


def assert_canonical(text: str) -> str:
    """fmt keeps the tree and every comment, and formatting its output changes nothing."""
    before = parse(text, "t.pb")
    out = format_file(before)
    after = parse(out, "t.pb")
    assert after == before
    assert comment_texts(after) == comment_texts(before)
    assert format_file(after) == out
    return out


# ---- properties ------------------------------------------------------------------------------------


@PROPERTY
@given(files())
def test_generated_trees_round_trip(tree: A.File) -> None:
    out = format_file(tree)
    back = parse(out, tree.path)
    assert back == tree
    assert format_file(back) == out  # idempotent
    assert out.endswith("\n") or out == ""


COMMENT_TEXTS = st.text(st.characters(exclude_characters="\n\r", exclude_categories=("Cs",)), max_size=12)


@st.composite
def commented_sources(draw: st.DrawFn) -> tuple[A.File, str]:
    """A formatted tree with comments (trailing and own-line) and blank lines sprinkled in."""
    tree = draw(files())
    lines = format_file(tree).split("\n")
    comment = COMMENT_TEXTS
    out: list[str] = []
    for line in lines:
        for _ in range(draw(st.integers(0, 2))):
            kind = draw(st.sampled_from(["own", "blank", "none"]))
            if kind == "own":
                out.append(" " * draw(st.integers(0, 6)) + "# " + draw(comment))
            elif kind == "blank":
                out.append("")
        if line.strip() and draw(st.booleans()):
            line += " " * draw(st.integers(0, 3)) + "#" + draw(comment)
        out.append(line)
    text = "\n".join(out)
    return tree, text


@PROPERTY
@given(commented_sources())
def test_comments_survive(case: tuple[A.File, str]) -> None:
    tree, text = case
    try:
        parsed = parse(text, tree.path)
    except PlaybookError:  # a '#' landed where it is not a comment (inside a """ string)
        return
    if parsed != tree:  # likewise: the '#' became part of a string
        return
    out = format_file(parsed)
    back = parse(out, tree.path)
    assert back == tree
    # Every comment exactly once, in the original order.
    assert comment_texts(back) == comment_texts(parsed)
    # Own-line comments stay on their own line.
    assert sum(not c.trailing for c in back.comments) >= sum(not c.trailing for c in parsed.comments)
    assert format_file(back) == out


# ---- the example playbooks ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_EXAMPLES, ids=lambda p: p.name)
def test_examples_are_stable(path: Path) -> None:
    assert_canonical(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", SEED_EXAMPLES)
def test_golden(name: str) -> None:
    source = (ROOT / "playbooks" / name).read_text(encoding="utf-8")
    out = assert_canonical(source)
    check_golden(FMT_GOLDEN / name, out)
    assert format_source(out, name) == out


def test_golden_comments() -> None:
    """Comments in every kind of place: before, after and inside blocks, trailing, at the end."""
    source = (FMT_GOLDEN / "comments.in.pb").read_text(encoding="utf-8")
    out = assert_canonical(source)
    check_golden(FMT_GOLDEN / "comments.pb", out)


def test_golden_full_width() -> None:
    source = (FMT_GOLDEN / "full_width.in.pb").read_text(encoding="utf-8")
    out = assert_canonical(source)
    check_golden(FMT_GOLDEN / "full_width.pb", out)


# ---- details of the layout -------------------------------------------------------------------------------


def fmt(text: str) -> str:
    return assert_canonical(text)


def test_full_width_punctuation_becomes_ascii_but_strings_do_not_change() -> None:
    src = "segment 华东 ＝ city in 【“上海”，“杭州”】 and （spent ＞＝ ５０００ or tag “V：I，P”）\n"
    out = fmt(src)
    assert out == 'segment 华东 = city in ["上海", "杭州"] and (spent >= 5000 or tag "V：I，P")\n'


def test_chinese_quotes_with_ascii_quotes_inside() -> None:
    assert fmt('content a = “他说"好"”\n') == 'content a = "他说\\"好\\""\n'


def test_expression_parentheses_only_where_needed() -> None:
    assert fmt("segment s = a is set or (b is set or c is set)\n") == (
        "segment s = a is set or (b is set or c is set)\n"
    )
    assert fmt("segment s = (a is set or b is set) or c is set\n") == "segment s = a is set or b is set or c is set\n"
    assert fmt("segment s = (a is set and b is set) or c is set\n") == "segment s = a is set and b is set or c is set\n"
    assert fmt("segment s = (a is set or b is set) and c is set\n") == (
        "segment s = (a is set or b is set) and c is set\n"
    )
    assert fmt("segment s = not (a is set and b is set)\n") == "segment s = not (a is set and b is set)\n"
    assert fmt("segment s = not (not in X)\n") == "segment s = not not in X\n"
    assert fmt("segment s = ((x > -1.5))\n") == "segment s = x > -1.5\n"


def test_long_chains_do_not_recurse() -> None:
    src = "segment s = " + " or ".join(f'tag "t{i}"' for i in range(3000)) + "\n"
    assert format_source(src) == src


def test_numbers_durations_and_times() -> None:
    src = (
        "segment s = x == 0.0000001 and y in [1, -2, 3.25, true, 2026-12-10, 2026-12-10 09:05] and z within 1d12h\n\n"
        "journey j {\n  on a\n  priority -2.5\n  after 90m: dm c\n  day 0 at 08:00: dm c\n}\n"
    )
    assert fmt(src) == src
    # A duration without the operator's text is written largest unit first.
    tree = A.File("<input>", [A.Segment(A.Name("s"), A.Within(A.Field(("x",)), A.Duration(10 * 1440 + 90)))])
    assert format_file(tree) == "segment s = x within 1w3d1h30m\n"
    tree = A.File("<input>", [A.Segment(A.Name("s"), A.Compare(A.Field(("x",)), ">", A.Literal("number", 1e20)))])
    assert format_file(tree) == "segment s = x > 100000000000000000000.0\n"


def test_else_if_and_split_arms() -> None:
    src = """journey j {
  on a
  if in A { dm x
  } else { if in B { dm y
  } else { dm z
  } }
  split { 50%: { dm x } 50%: dm y dm z 0%: {} }
}
"""
    assert (
        fmt(src)
        == """journey j {
  on a
  if in A {
    dm x
  } else if in B {
    dm y
  } else {
    dm z
  }
  split {
    50%: dm x
    50%: {
      dm y
      dm z
    }
    0%: {}
  }
}
"""
    )


def test_else_block_with_more_than_an_if_keeps_its_braces() -> None:
    src = "journey j {\n  on a\n  if in A {\n  } else {\n    after 1d: if in B {}\n  }\n}\n"
    assert fmt(src) == "journey j {\n  on a\n  if in A {} else {\n    after 1d: if in B {}\n  }\n}\n"


def test_wait_forms() -> None:
    src = """journey j {
  on a
  wait for message up to 1d
  wait for message where event.text == "好" up to 2h then { tag add "x"
  }
  wait for message up to 1d else {
    exit }
  wait for message up to 1d then {} else { exit
  }
}
"""
    assert (
        fmt(src)
        == """journey j {
  on a
  wait for message up to 1d
  wait for message where event.text == "好" up to 2h then {
    tag add "x"
  }
  wait for message up to 1d else {
    exit
  }
  wait for message up to 1d then {} else {
    exit
  }
}
"""
    )


def test_content_forms() -> None:
    src = 'content a { text "一行" }\ncontent b { image "x.jpg"\n}\ncontent c {\n text "a" image "b" }\ncontent d {}\n'
    assert fmt(src) == (
        'content a { text "一行" }\ncontent b {\n  image "x.jpg"\n}\ncontent c {\n  text "a"\n  image "b"\n}\ncontent d {}\n'
    )
    # `content X = "…"` and the block form of one text are both kept as written.
    kept = 'content a = "一行"\ncontent b {\n  text "二"\n}\n'
    assert fmt(kept) == kept
    # A block written on one line stays on one line; a multi-line text keeps the block form.
    one_line = 'content c { text "a" image "b" }\ncontent e {\n  text """\n  甲\n  乙\n  """\n}\n'
    assert fmt(one_line) == one_line
    assert fmt('content e = """\n  甲\n  乙\n"""\n') == 'content e {\n  text """\n  甲\n  乙\n  """\n}\n'


def test_multiline_strings() -> None:
    src = 'content a {\n  text """\n    第一行\n      缩进的\\"""第二行\n    \\t第三行\\\\\n    """\n}\n'
    value = parse(src).declarations[0].parts[0].value.value  # type: ignore[union-attr]
    assert value == '第一行\n  缩进的"""第二行\n\t第三行\\'
    out = fmt(src)
    assert out == 'content a {\n  text """\n  第一行\n    缩进的\\"""第二行\n  \\t第三行\\\\\n  """\n}\n'


def test_multiline_falls_back_to_escapes_when_dedent_would_change_the_text() -> None:
    # Every line starts with spaces (a """ string would lose them), and a line of spaces only.
    tree = A.File("<input>", [A.Journey(A.Name("j"), (A.Step(None, A.Task(A.Text("  a\n  b\n   "))),))])
    assert format_file(tree) == 'journey j {\n  task "  a\\n  b\\n   "\n}\n'
    tree = A.File("<input>", [A.Journey(A.Name("j"), (A.Step(None, A.Task(A.Text("a\n\n  b\n"))),))])
    assert format_file(tree) == 'journey j {\n  task """\n  a\n\n    b\n\n  """\n}\n'


def test_blank_lines_are_kept_between_one_line_declarations_and_members() -> None:
    src = """playbook "x"


quiet 22:00-08:00
segment a = x is set
segment b = x is set
journey j {

  on a


  dm c
  dm d

}
"""
    assert (
        fmt(src)
        == """playbook "x"

quiet 22:00-08:00
segment a = x is set
segment b = x is set

journey j {
  on a

  dm c
  dm d
}
"""
    )


def test_trailing_comment_after_a_multiline_string_stays_outside_it() -> None:
    src = 'journey j {\n  on a\n  task "一\\n二"  # 备注\n}\n'
    assert fmt(src) == 'journey j {\n  on a\n  task """\n  一\n  二\n  """  # 备注\n}\n'


def test_comments_in_empty_blocks_keep_the_block_open() -> None:
    src = "journey j {\n  # 先留空\n}\njourney k { }\n"
    assert fmt(src) == "journey j {\n  # 先留空\n}\n\njourney k {}\n"


def test_several_trailing_comments_on_one_line() -> None:
    src = "segment a = x is set  # one\n  or y is set  # two\nsegment b = x is set\n"
    assert fmt(src) == "segment a = x is set or y is set  # one\n# two\nsegment b = x is set\n"


def test_empty_and_comment_only_files() -> None:
    assert format_source("") == ""
    assert format_source("\n\n") == ""
    assert fmt("# 只有注释\n\n# 第二条\n") == "# 只有注释\n\n# 第二条\n"


def test_crlf_and_bom() -> None:
    assert fmt('\ufeffplaybook "x"\r\nquiet 22:00-08:00\r\n') == 'playbook "x"\nquiet 22:00-08:00\n'


def test_invalid_input_raises_playbook_error() -> None:
    with pytest.raises(PlaybookError):
        format_source("segment = \n")


# ---- the operator's layout: what fmt keeps as written -----------------------------------------------

PERSON_LAYOUT = """journey j {
  on a
  day 3 at 20:00:
    wait for message up to 1d
      then { tag add "活跃" }
      else { task "{name}三天未互动" }
  wait for message up to 2d
    then {
      tag add "已回复"
      dm x
    }
    else {
      day 3 at 20:00: dm y
    }
  day 5 at 20:00:
    if in 高意向 { dm x } else { dm y }
  day 10 at 12:00:
    if in 华东 { dm x }
    else if favourite == "水果" { dm y }
    else { task "请跟进" }
  after 30m:
    split {
      50%: dm x
      50%: { dm y dm x }
    }
  day 4 at 11:00:
    task "{name}问过价格4天还没下单"
}
"""


def test_person_layout_of_wait_if_and_timing_is_canonical() -> None:
    assert fmt(PERSON_LAYOUT) == PERSON_LAYOUT


def test_person_layout_is_normalised_not_frozen() -> None:
    """Only the choices are kept (line breaks, one-line blocks); indentation is fmt's own."""
    src = 'journey j {\n on a\n day 3 at 20:00:\n        wait for m up to 1d\n  then {tag add "x"}\n      else {\n dm y\n }\n}\n'
    assert fmt(src) == (
        'journey j {\n  on a\n  day 3 at 20:00:\n    wait for m up to 1d\n      then { tag add "x" }\n'
        "      else {\n        dm y\n      }\n}\n"
    )


def test_one_line_blocks_expand_only_around_multi_line_items() -> None:
    src = 'journey j {\n  on a\n  if in A { if in B { dm x } } else { task "一\\n二" }\n}\n'
    assert fmt(src) == (
        'journey j {\n  on a\n  if in A { if in B { dm x } } else {\n    task """\n    一\n    二\n    """\n  }\n}\n'
    )


_STRINGS = re.compile(r'"""(?:[^"\\]|\\[\s\S]|"(?!""))*"""|"(?:[^"\\\n]|\\.)*"')


@st.composite
def relaid_sources(draw: st.DrawFn) -> tuple[A.File, str]:
    """A generated tree's canonical text with its layout changed at random: spaces between
    tokens become line breaks (with any indentation) and line breaks become spaces — the
    choices an operator makes (timing over its action, `else` on its own line, one-line
    blocks). Strings are left as they are."""
    tree = draw(files())
    text = format_file(tree)
    out: list[str] = []
    last = 0
    for m in [*_STRINGS.finditer(text), None]:
        code = text[last : m.start() if m else len(text)]
        pieces = re.split(r"([ \n]+)", code)
        for k, piece in enumerate(pieces):
            if k % 2 and draw(st.integers(0, 3)) == 0:
                piece = draw(st.sampled_from([" ", "\n", "\n  ", "\n      ", "  "]))
            out.append(piece)
        if m:
            out.append(m.group(0))
            last = m.end()
    return tree, "".join(out)


@PROPERTY
@given(relaid_sources())
def test_any_layout_round_trips(case: tuple[A.File, str]) -> None:
    tree, text = case
    parsed = parse(text, tree.path)
    assert parsed == tree
    out = format_file(parsed)
    assert parse(out, tree.path) == tree  # meaning kept
    assert format_source(out) == out  # idempotent


@pytest.mark.parametrize("path", ALL_EXAMPLES, ids=lambda p: p.name)
def test_examples_are_canonical_and_compile_the_same(path: Path) -> None:
    """The tour's `playbook fmt --check playbooks/*.pb` (and the shared examples) pass."""
    from playbook.compiler import compile_path

    text = path.read_text(encoding="utf-8")
    assert format_source(text, str(path)) == text
    assert compile_path(str(path)).doc is not None


def test_docs_before_and_after() -> None:
    """docs/fmt.md's before/after example is what fmt does."""
    doc = (ROOT / "docs" / "fmt.md").read_text(encoding="utf-8")
    section = doc[doc.index("### What fmt keeps as you wrote it") :]
    before, after = re.findall(r"```\n(.*?)```", section, re.S)[:2]
    assert fmt(before) == after


def test_golden_sla_clauses() -> None:
    """An SLA's `remind at` and `escalate to` clauses: one per line in a block, comments kept;
    a block written on one line stays on one line."""
    source = (FMT_GOLDEN / "sla.in.pb").read_text(encoding="utf-8")
    out = assert_canonical(source)
    check_golden(FMT_GOLDEN / "sla.pb", out)
