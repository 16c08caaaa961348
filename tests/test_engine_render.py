"""Rendering takes a shortcut for text without braces (nothing to fill); it must give what
the parsed template gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from playbook.compiler.templates import parse_template
from playbook.engine.render import render
from playbook.engine.timeutil import LocalTime

CLOCK = LocalTime("Asia/Shanghai")


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_characters="{}"), max_size=40))
def test_text_without_braces_is_itself(text: str) -> None:
    assert render(text, {"name": "小美"}, None, None, CLOCK) == text == "".join(parse_template(text))  # type: ignore[arg-type]


def test_placeholders_still_filled() -> None:
    assert render("{name}，早安", {"name": "小美"}, None, None, CLOCK) == "小美，早安"
    assert render("{{name}}", {"name": "小美"}, None, None, CLOCK) == "{name}"
