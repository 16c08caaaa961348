"""Standing groups in the compiler (docs/language.md §7.2): what is accepted, and the
errors an operator gets for what a standing group cannot have."""

from __future__ import annotations

from playbook.compiler import compile_text, ir

BASE = """content 邀请 = "进群"
content 会员价 = "会员价"
segment VIP = spent >= 3000
"""


def diagnostics(text: str) -> list:
    return compile_text(text, "t.pb").diagnostics


def compile_source(text: str, path: str) -> dict:
    result = compile_text(text, path)
    assert result.doc is not None, result.diagnostics
    return result.doc


def codes(text: str) -> list[tuple[str, int]]:
    return [(d.code, d.line) for d in diagnostics(BASE + text) if d.severity == "error"]


def test_a_group_without_opens_and_lasts_is_standing() -> None:
    doc = compile_source(BASE + """quiet 22:00-08:00
segment 群友 = in group VIP群
group VIP群 { admit in VIP  owner "a1"  invite 邀请  every wed at 20:00: post 会员价
  when not admitted: task "请确认{name}"  when not admitted: tag remove "VIP" }
journey j { on enter VIP  invite VIP群 }
""", "t.pb")
    pb = ir.load(doc)
    assert pb.groups == {} and pb.standing is not None
    g = pb.standing["VIP群"]
    assert (g.size, g.owner, g.invite) == (500, "a1", "邀请")  # WeCom's 500 by default
    assert [p.label for p in g.posts] == ["every wed at 20:00: post 会员价"]
    assert [g.nodes[i].kind for i in g.lapse] == ["task", "tag_remove"]
    assert pb.segments["群友"].expr == ir.InGroup(group="VIP群")


def test_a_playbook_without_standing_groups_leaves_the_table_out() -> None:
    doc = compile_source(BASE + 'journey j { on enter VIP  task "x" }\n', "t.pb")
    assert "standing" not in doc  # the versions of playbooks without one do not change


def test_what_a_standing_group_cannot_have() -> None:
    assert codes("""group A {
  members in VIP
  size 501
  invite 邀请
  day 1 at 10:00: post 会员价
  closing: post 会员价
  when not admitted: invite A
}
""") == [("standing-clause", 5), ("group-size", 6), ("standing-clause", 8), ("standing-clause", 9),
         ("standing-lapse", 10)]  # fmt: skip
    assert codes("group A { admit in VIP }\n") == [("group-invite", 4)]


def test_standing_clauses_in_a_short_term_group_are_errors() -> None:
    found = codes("""group B {
  opens 2026-12-01 10:00
  lasts 1d
  invite 邀请
  admit in VIP
  every wed at 20:00: post 会员价
}
""")
    assert found == [("standing-clause", 8), ("standing-clause", 9)]


def test_in_group_names_a_declared_group() -> None:
    found = diagnostics(BASE + 'segment S = in group VIP群s\ngroup VIP群 { invite 邀请 }\n')
    (error,) = [d for d in found if d.severity == "error"]
    assert error.code == "unknown-name" and "VIP群" in error.hint


def test_a_changed_standing_group_is_a_graph_change() -> None:
    from playbook.compiler.changes import graph_changes

    group = 'group VIP群 {{ admit in VIP  size {size}  invite 邀请  every wed at 20:00: post 会员价 }}\n'
    journey = "journey j { on enter VIP  invite VIP群 }\n"
    old = compile_source(BASE + group.format(size=200) + journey, "t.pb")
    new = compile_source(BASE + group.format(size=300) + journey, "t.pb")
    (change,) = graph_changes(old, new)
    assert (change.kind, change.op, change.name, change.aspect) == ("group", "changed", "VIP群", "size")
    assert "size 200" in change.old and "size 300" in change.new
