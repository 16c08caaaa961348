"""The commands through the real entry point (a subprocess running `playbook`), exit codes included."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GOLDEN, ROOT

PLAYBOOK = [sys.executable, "-m", "playbook"]
EXAMPLE = str(ROOT / "playbooks" / "new_customer.pb")


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PLAYBOOK, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_entry_point_is_installed() -> None:
    exe = Path(sys.executable).with_name("playbook")
    assert exe.exists(), "pip install must provide the `playbook` console script"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "check" in out.stdout


def test_check_clean_examples_exit_0() -> None:
    out = run("check", *map(str, sorted((ROOT / "playbooks").glob("*.pb"))))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 errors, 0 warnings" in out.stdout


def test_check_shared_examples_exit_0() -> None:
    shared = sorted((ROOT.parent / "shared" / "examples").glob("*.pb"))
    if not shared:
        pytest.skip("../shared/examples is not beside this checkout")
    out = run("check", *map(str, shared))
    assert out.returncode == 0, out.stdout + out.stderr


def test_check_errors_exit_1_with_rendered_errors() -> None:
    out = run("check", "tests/golden/errors/unknown_segment.pb")
    assert out.returncode == 1
    assert "unknown segment '老课'" in out.stdout
    assert "did you mean '老客'?" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


def test_check_warnings_only_exit_0() -> None:
    out = run("check", "tests/golden/errors/warn_spam.pb")
    assert out.returncode == 0
    assert "[spam-dm]" in out.stdout


def test_check_ignore_option_silences_a_code() -> None:
    out = run("check", "--ignore", "spam-dm", "tests/golden/errors/warn_spam.pb")
    assert out.returncode == 0 and "spam-dm" not in out.stdout


def test_check_contacts_reports_unknown_fields() -> None:
    case = "tests/golden/errors/warn_unknown_field"
    out = run("check", "--contacts", f"{case}.contacts.csv", f"{case}.pb")
    assert out.returncode == 0
    assert "did you mean 'spent'?" in out.stdout


def test_check_json_format() -> None:
    out = run("check", "--format", "json", "tests/golden/errors/unknown_segment.pb", EXAMPLE)
    assert out.returncode == 1
    data = json.loads(out.stdout)
    assert [r["ok"] for r in data] == [False, True]
    assert data[0]["diagnostics"][0]["code"] == "unknown-name"
    assert data[1]["version"].startswith("pb-")


def test_check_missing_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    out = run("check", str(tmp_path / "nope.pb"))
    assert out.returncode == 1
    assert "no such file" in out.stdout
    assert "Traceback" not in out.stderr


def test_check_directory_is_one_playbook(tmp_path: Path) -> None:
    (tmp_path / "a.pb").write_text(
        'segment 新客 = added_at within 7d\ncontent 欢迎 = "你好"\nquiet 22:00-08:00\n', "utf-8"
    )
    (tmp_path / "b.pb").write_text("journey 新客培育 {\n  on friend_added\n  dm 欢迎\n}\n", "utf-8")
    out = run("check", str(tmp_path))
    assert out.returncode == 0, out.stdout
    (tmp_path / "c.pb").write_text('quiet 21:00-09:00\ncontent 欢迎 = "重复"\n', "utf-8")
    out = run("check", str(tmp_path))
    assert out.returncode == 1
    assert "content '欢迎' is declared twice" in out.stdout
    assert "'quiet' is set more than once" in out.stdout


def test_compile_json_is_the_golden_ir() -> None:
    out = run("compile", "--json", "playbooks/new_customer.pb")
    assert out.returncode == 0
    assert out.stdout == (GOLDEN / "examples" / "new_customer.ir.json").read_text("utf-8")


def test_compile_tree() -> None:
    out = run("compile", EXAMPLE)
    assert out.returncode == 0
    assert "journey 新客培育" in out.stdout and "day 5 at 20:00: if in 高意向" in out.stdout


def test_compile_with_errors_exits_1() -> None:
    out = run("compile", "tests/golden/errors/segment_cycle.pb")
    assert out.returncode == 1 and "refers to itself" in out.stderr


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_graph(fmt: str) -> None:
    out = run("graph", "--format", fmt, EXAMPLE)
    assert out.returncode == 0
    if fmt == "mermaid":
        assert out.stdout.startswith("flowchart TD")
        assert "-->|timed out|" in out.stdout
    else:
        assert out.stdout.startswith('digraph "new_customer"')
        assert '[label="timed out"]' in out.stdout


def test_unknown_command_exits_2() -> None:
    assert run("frobnicate").returncode == 2


def test_fmt_check_then_rewrite(tmp_path: Path) -> None:
    source = (ROOT / "playbooks" / "new_customer.pb").read_text("utf-8").replace("quiet 22:00-08:00", "quiet 22：00-08：00")
    target = tmp_path / "x.pb"
    target.write_text(source, "utf-8")
    out = run("fmt", "--check", str(target))
    assert out.returncode == 1 and "would reformat" in out.stdout
    assert target.read_text("utf-8") == source, "--check must not change the file"
    assert run("fmt", str(target)).returncode == 0
    assert "quiet 22:00-08:00" in target.read_text("utf-8")
    assert run("fmt", "--check", str(target)).returncode == 0


def test_fmt_leaves_a_broken_file_alone(tmp_path: Path) -> None:
    target = tmp_path / "broken.pb"
    target.write_text("segment 新客 = added_at within\n", "utf-8")
    out = run("fmt", str(target))
    assert out.returncode == 1 and "error" in out.stderr
    assert target.read_text("utf-8") == "segment 新客 = added_at within\n"
