"""Rendering takes a shortcut for text without braces (nothing to fill); it must give what
the parsed template gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from playbook.compiler.templates import parse_template
from playbook.engine.render import MissingValue, member_renderer, render
from playbook.vocab.localtime import LocalTime

CLOCK = LocalTime("Asia/Shanghai")


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_characters="{}"), max_size=40))
def test_text_without_braces_is_itself(text: str) -> None:
    assert render(text, {"name": "小美"}, None, None, CLOCK) == text == "".join(parse_template(text))  # type: ignore[arg-type]


def test_placeholders_still_filled() -> None:
    assert render("{name}，早安", {"name": "小美"}, None, None, CLOCK) == "小美，早安"
    assert render("{{name}}", {"name": "小美"}, None, None, CLOCK) == "{name}"


PIECES = st.sampled_from(["您好", "，", "{{", "}}", " ", "{name}", "{name|亲}", "{city}", "{account.name}",
                          "{account.name|店长}", "{event.amount}", "{spent}"])  # fmt: skip
VALUES = st.one_of(st.none(), st.just(""), st.text(max_size=3), st.integers(0, 5000), st.floats(0, 10, width=16))


def _outcome(fill: object, *args: object) -> str:
    try:
        return fill(*args)  # type: ignore[operator]
    except MissingValue as exc:
        return f"missing {exc.path}"


@settings(max_examples=500, deadline=None)
@given(st.lists(PIECES, max_size=5), st.lists(st.fixed_dictionaries({}, optional={"name": VALUES, "city": VALUES,
       "spent": VALUES}), min_size=1, max_size=4), st.fixed_dictionaries({}, optional={"name": VALUES}),
       st.fixed_dictionaries({}, optional={"amount": VALUES}))  # fmt: skip
def test_a_batch_renders_as_each_member_alone(
    pieces: list[str], contacts: list[dict], account: dict, event: dict
) -> None:
    template = "".join(pieces)
    fill = member_renderer(template, account, event, CLOCK)
    for contact in [*contacts, None]:
        assert _outcome(fill, contact) == _outcome(render, template, contact, account, event, CLOCK)
