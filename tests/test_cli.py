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
    source = (
        (ROOT / "playbooks" / "new_customer.pb").read_text("utf-8").replace("quiet 22:00-08:00", "quiet 22：00-08：00")
    )
    target = tmp_path / "x.pb"
    target.write_text(source, "utf-8")
    out = run("fmt", "--check", str(target))
    assert out.returncode == 1 and "would reformat" in out.stdout
    assert target.read_text("utf-8") == source, "--check must not change the file"
    assert run("fmt", str(target)).returncode == 0
    assert "quiet 22:00-08:00" in target.read_text("utf-8")
    assert run("fmt", "--check", str(target)).returncode == 0


def test_fmt_diff_only_prints(tmp_path: Path) -> None:
    """`--diff` alone prints a unified diff and writes nothing (like black); with --check it
    also exits 1 and says which file would change (on stderr, so stdout stays a patch)."""
    source = (
        (ROOT / "playbooks" / "new_customer.pb").read_text("utf-8").replace("quiet 22:00-08:00", "quiet 22：00-08：00")
    )
    target = tmp_path / "x.pb"
    target.write_text(source, "utf-8")
    out = run("fmt", "--diff", str(target))
    assert out.returncode == 0
    assert "-quiet 22：00-08：00" in out.stdout and "+quiet 22:00-08:00" in out.stdout
    assert target.read_text("utf-8") == source, "--diff must not change the file"
    out = run("fmt", "--check", "--diff", str(target))
    assert out.returncode == 1 and "+quiet 22:00-08:00" in out.stdout and "would reformat" in out.stderr
    assert target.read_text("utf-8") == source


def test_fmt_check_passes_on_the_bundled_examples() -> None:
    """The README tour's own command."""
    examples = sorted(str(p) for p in (ROOT / "playbooks").glob("*.pb"))
    out = run("fmt", "--check", *examples)
    assert out.returncode == 0, out.stdout + out.stderr


def test_fmt_leaves_a_broken_file_alone(tmp_path: Path) -> None:
    target = tmp_path / "broken.pb"
    target.write_text("segment 新客 = added_at within\n", "utf-8")
    out = run("fmt", str(target))
    assert out.returncode == 1 and "error" in out.stderr
    assert target.read_text("utf-8") == "segment 新客 = added_at within\n"


PLAN = [
    "plan", "playbooks/moments_and_service.pb", "playbooks/new_customer.pb", "playbooks/presale_group.pb",
    "--contacts", "playbooks/contacts.csv", "--accounts", "playbooks/accounts.csv",
    "--events", "playbooks/events.jsonl", "--start", "2026-12-01 00:00", "--days", "14",
]  # fmt: skip


def test_plan_table() -> None:
    out = run(*PLAN)
    assert out.returncode == 0, out.stderr
    assert " dm · " in out.stdout and "per day" in out.stdout and "per account" in out.stdout
    assert "小美" in out.stdout  # account names from --accounts


def test_plan_json_is_deterministic_and_follows_the_contract() -> None:
    first, second = run(*PLAN, "--format", "json"), run(*PLAN, "--format", "json")
    assert first.returncode == 0 and first.stdout == second.stdout
    data = json.loads(first.stdout)
    assert data["version"] == 1 and data["start"] == "2026-12-01T00:00:00+08:00"
    assert set(data["summary"]) == {"by_channel", "by_outcome"}
    touches = data["touches"]
    assert touches and all(t["outcome"] in ("ok", "deferred", "skipped") for t in touches)
    keys = [(t["at"], t["account"] or "", t.get("contact") or "", t["flow"], t["step"]) for t in touches]
    assert keys == sorted(keys)
    moment = next(t for t in touches if t["channel"] == "moment")
    assert isinstance(moment["audience"], list) and "contact" not in moment


def test_plan_simulate_is_seeded() -> None:
    a = run(*PLAN, "--format", "json", "--simulate", "reply=0.5,purchase=0.2", "--seed", "7")
    b = run(*PLAN, "--format", "json", "--simulate", "reply=0.5,purchase=0.2", "--seed", "7")
    c = run(*PLAN, "--format", "json", "--simulate", "reply=0.5,purchase=0.2", "--seed", "8")
    assert a.returncode == 0 and a.stdout == b.stdout and a.stdout != c.stdout


def test_plan_contact_timeline() -> None:
    out = run(*PLAN, "--contact", "c41")
    assert out.returncode == 0
    assert "钱多多 (c41) · account a1" in out.stdout
    assert "after 5m: dm 欢迎语" in out.stdout and "钱多多您好，我是您的专属顾问小美。" in out.stdout


def test_plan_html(tmp_path: Path) -> None:
    target = tmp_path / "plan.html"
    assert run(*PLAN, "--format", "html", "--out", str(target)).returncode == 0
    assert target.read_text("utf-8").lstrip().startswith("<!DOCTYPE html>")


def test_plan_bad_rows_are_reported_and_strict_fails(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("id,name,account,added_at\nc1,甲,a1,2026-11-30\n,乙,a1,\nc3,丙,a1,2026-13-45\n", "utf-8")
    args = ["plan", "playbooks/new_customer.pb", "--contacts", str(contacts), "--start", "2026-12-01 00:00"]
    out = run(*args)
    assert out.returncode == 0
    assert ":3: skipped row: the row has no id" in out.stdout
    assert ":4: skipped row:" in out.stdout and "2026-13-45" in out.stdout
    strict = run(*args, "--strict")
    assert strict.returncode == 1 and "Traceback" not in strict.stderr


def test_plan_bad_options_are_errors_not_tracebacks() -> None:
    for extra in (
        ["--simulate", "reply=2"],
        ["--simulate", "nonsense"],
        ["--start", "tomorrow"],
        ["--adapter", "wecon"],
    ):
        out = run(*PLAN, *extra)
        assert out.returncode == 1, extra
        assert "Traceback" not in out.stderr and "error" in out.stderr


def test_check_adapter_reports_what_it_cannot_carry(tmp_path: Path) -> None:
    source = tmp_path / "card.pb"
    source.write_text(
        'quiet 22:00-08:00\ncontent 卡片 { text "看看" miniprogram "wx1" page "p/i" title "活动" }\n'
        "moments 日常 { every day at 08:00: post 卡片 }\njourney 新客 {\n  on friend_added\n  dm 卡片\n}\n",
        "utf-8",
    )
    out = run("check", "--adapter", "wecom", str(source))
    assert out.returncode == 0
    assert "cannot carry miniprogram in moment touches (content '卡片')" in out.stdout
    assert "in dm touches" not in out.stdout  # WeCom mass messages do carry mini-programs
    assert "2 | content 卡片 {" in out.stdout
    assert run("check", "--adapter", "console", str(source)).stdout.count("adapter-part") == 0
    groups = run("check", "--adapter", "wecom", "playbooks/presale_group.pb")
    assert "[adapter-dissolve]" in groups.stdout
    assert run("check", "--adapter", "wecon", str(source)).returncode == 1


def test_check_accounts_checks_sla_escalations() -> None:
    case = "tests/golden/errors/sla_escalate_unknown"
    out = run("check", "--accounts", f"{case}.accounts.csv", f"{case}.pb")
    assert out.returncode == 1
    assert "unknown account 'a9'" in out.stdout and "did you mean '店长'?" in out.stdout
    assert run("check", f"{case}.pb").returncode == 0  # without the accounts there is nothing to check them against
