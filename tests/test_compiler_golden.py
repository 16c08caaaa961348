"""Golden files: the AST and IR of every example, and the exact text of every error kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import GOLDEN, ROOT, check_golden

from playbook.compiler import compile_path, ir
from playbook.diagnostics import render
from playbook.syntax.dump import to_data
from playbook.syntax.parser import parse_file

EXAMPLES = sorted((ROOT / "playbooks").glob("*.pb"))
ERROR_CASES = sorted((GOLDEN / "errors").glob("*.pb"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_ast_golden(path: Path, in_root: Path) -> None:
    tree = parse_file(path.relative_to(ROOT))
    actual = json.dumps(to_data(tree.declarations), ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    check_golden(GOLDEN / "examples" / f"{path.stem}.ast.json", actual)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_ir_golden(path: Path, in_root: Path) -> None:
    result = compile_path(path.relative_to(ROOT))
    assert result.ok, [render(d) for d in result.errors]
    assert result.doc is not None
    check_golden(GOLDEN / "examples" / f"{path.stem}.ir.json", ir.dumps(result.doc) + "\n")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_check_clean(path: Path) -> None:
    result = compile_path(path)
    assert result.ok and not result.warnings, [render(d) for d in result.diagnostics]


def test_there_are_enough_error_cases() -> None:
    assert len(ERROR_CASES) >= 25


@pytest.mark.parametrize("path", ERROR_CASES, ids=lambda p: p.stem)
def test_error_golden(path: Path, in_root: Path) -> None:
    relative = path.relative_to(ROOT)
    contacts = path.with_suffix(".contacts.csv")
    known = None
    if contacts.exists():
        from playbook.data.fields import field_names

        known = field_names(contacts)
    accounts_file = path.with_suffix(".accounts.csv")  # the accounts SLA escalations may name
    accounts = None
    if accounts_file.exists():
        from playbook.data.files import read_records
        from playbook.vocab.localtime import LocalTime

        accounts, problems = read_records(accounts_file, LocalTime("Asia/Shanghai"), only=("role",))
        assert not problems
    result = compile_path(relative, known_fields=known, known_accounts=accounts)
    assert result.diagnostics, "a broken input must produce diagnostics"
    actual = "\n".join(render(d) for d in result.diagnostics) + "\n"
    check_golden(path.with_suffix(".txt"), actual)


def test_version_ignores_comments_and_layout(tmp_path: Path) -> None:
    source = (ROOT / "playbooks" / "new_customer.pb").read_text(encoding="utf-8")
    moved = tmp_path / "moved.pb"
    moved.write_text("# a comment\n\n" + source.replace("  ", "    "), encoding="utf-8")
    a = compile_path(ROOT / "playbooks" / "new_customer.pb").playbook
    b = compile_path(moved).playbook
    assert a is not None and b is not None
    assert a.version == b.version
    changed = tmp_path / "changed.pb"
    changed.write_text(source.replace("after 5m", "after 6m"), encoding="utf-8")
    c = compile_path(changed).playbook
    assert c is not None and c.version != a.version


def test_compiler_output_is_exactly_the_ir_schema() -> None:
    """The compiler emits plain data for speed; the pydantic models are its schema. The
    typed view must hold everything the document holds, and nothing else."""
    for path in EXAMPLES:
        doc = compile_path(path).doc
        assert doc is not None
        typed = ir.load(doc)
        assert ir.to_doc(typed) == doc
        assert ir.version_of(typed) == doc["version"]
