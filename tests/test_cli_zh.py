"""Chinese throughout the command line (issue 14, item 7): every command, option and help
text of the click app, and click's own strings (usage, [required], errors), in Chinese
with --lang zh / LANG=zh_CN.UTF-8; help screens fit 80 columns.

The walk starts from playbook.cli.main.COMMANDS, so a command added there (diff, approve,
requeue, …) fails this test until its texts have a line in playbook/i18n_zh.py."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import click
from conftest import ROOT

from playbook.i18n import ENV_VARS
from playbook.i18n_zh_click import CLICK_ZH, CLICK_ZH_PLURAL
from playbook.textcells import cell_width, wrap_cells

# Imports every command under PLAYBOOK_LANG=zh (help texts are translated when a command
# module is imported), walks the click tree, renders each help screen and reports, as one
# Python literal on stdout, what is still English.
WALK = r"""
import re, sys
import click
from playbook import i18n
from playbook.cli import main

han = re.compile(r"[\u4e00-\u9fff]")
problems, screens = [], {}

def walk(cmd, path, parent):
    ctx = click.Context(cmd, info_name=path[-1], parent=parent)
    if not han.search(cmd.help or "") and not (parent is not None and han.search(
            i18n.t(main.COMMANDS.get(path[-1], ("", ""))[1]) if len(path) == 2 else "")):
        problems.append(("command help", " ".join(path)))
    for p in cmd.get_params(ctx):
        if isinstance(p, click.Option) and not p.hidden:
            record = p.get_help_record(ctx)
            if record is None or not han.search(record[1]):
                problems.append(("option help", " ".join(path), "/".join(p.opts)))
    screens[" ".join(path)] = cmd.get_help(ctx)
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            walk(cmd.get_command(ctx, name), [*path, name], ctx)

walk(main.cli, ["playbook"], None)
for name, (_, line) in main.COMMANDS.items():
    if not han.search(i18n.t(line)):
        problems.append(("command line", name))
print(repr({"problems": problems, "missing": sorted(i18n.missing()), "screens": screens}))
"""


def _walk(**env: str) -> dict:
    full = {k: v for k, v in os.environ.items() if k not in ENV_VARS} | {"COLUMNS": "80"} | env
    out = subprocess.run([sys.executable, "-c", WALK], capture_output=True, text=True, cwd=ROOT, env=full,
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return ast.literal_eval(out.stdout)


def test_every_command_and_option_has_chinese_help() -> None:
    result = _walk(PLAYBOOK_LANG="zh")
    assert result["problems"] == [], "add these texts to playbook/i18n_zh.py"
    assert result["missing"] == [], "add these texts to playbook/i18n_zh.py"
    screens = result["screens"]
    assert set(screens) >= {"playbook", "playbook plan", "playbook report", "playbook explain"}
    for name, screen in screens.items():
        assert "Usage:" not in screen and "Options" not in screen and "Show this message" not in screen, name
        assert "用法:" in screen and "选项" in screen, name
        too_wide = [line for line in screen.splitlines() if cell_width(line) > 80]
        assert not too_wide, f"{name}: {too_wide}"


def test_locale_alone_gives_chinese_help() -> None:
    result = _walk(LANG="zh_CN.UTF-8")
    assert result["problems"] == []
    assert "显示本帮助并退出。" in result["screens"]["playbook"]


def test_english_help_stays_english() -> None:
    result = _walk(PLAYBOOK_LANG="en")
    assert "Show this message and exit." in result["screens"]["playbook"]
    assert "Usage:" in result["screens"]["playbook plan"]


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ENV_VARS} | env
    return subprocess.run([sys.executable, "-m", "playbook", *args], capture_output=True, text=True, cwd=ROOT,
                          env=full, timeout=120)  # fmt: skip


def test_click_errors_in_chinese() -> None:
    out = run("--lang", "zh", "plan", "playbooks/new_customer.pb", "--bogus")
    assert out.returncode == 2
    assert "错误：没有 '--bogus' 这个选项。" in out.stderr and "查看帮助" in out.stderr
    out = run("check", LANG="zh_CN.UTF-8")
    assert "错误：缺少参数 'PATHS...'" in out.stderr and "用法:" in out.stderr
    out = run("--lang", "zh", "plan", "playbooks/new_customer.pb", "--contacts", "nope.csv", "--days", "abc")
    assert "'--days' 的值无效" in out.stderr and "不是有效的数字" in out.stderr
    out = run("--lang", "zh", "frobnicate")
    assert "没有 'frobnicate' 这个命令" in out.stderr
    english = run("--lang", "en", "frobnicate")
    assert "No such command 'frobnicate'" in english.stderr


def _click_msgids() -> tuple[set[str], set[str]]:
    """Every msgid the installed click passes to gettext, and the singulars of ngettext."""
    singular, plural = set(), set()
    for path in Path(click.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
                first = node.args[0]
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    continue
                if node.func.id == "_":
                    singular.add(first.value)
                elif node.func.id == "ngettext":
                    plural.add(first.value)
    return singular, plural


def test_every_click_string_has_a_chinese_text() -> None:
    singular, plural = _click_msgids()
    # Errors in a program's own option declarations (a TypeError for its developer), the
    # Windows console and shell completion: never shown to an operator of playbook.
    ignore = {m for m in singular if re.search(r"declaration|same flag|No options defined|completion|Windows", m)}
    ignore |= {m for m in singular if len(m) < 2}  # a one-letter default answer of click.prompt
    assert singular - set(CLICK_ZH) - ignore == set()
    assert plural - set(CLICK_ZH_PLURAL) == set()
    for english, chinese in CLICK_ZH.items():  # same placeholders
        assert sorted(re.findall(r"\{[^}]*\}|%\(\w+\)s", english)) == sorted(
            re.findall(r"\{[^}]*\}|%\(\w+\)s", chinese)
        ) or (english == "{value!r} is not a valid {number_type}."), english


def test_wrap_cells() -> None:
    text = "开始时间（剧本时区的当地时间），默认今天 00:00。  [默认：table] reply=0.3,purchase=0.05"
    for width in (10, 20, 37, 80):
        lines = wrap_cells(text, width)
        assert all(cell_width(line) <= width for line in lines), (width, lines)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
        assert not any(line.startswith(("。", "，", "）", "]")) for line in lines)
    assert wrap_cells("", 10) == [""]


PLAN_ALL = [
    "plan", "playbooks/moments_and_service.pb", "playbooks/new_customer.pb", "playbooks/presale_group.pb",
    "playbooks/vip_invite.pb", "--contacts", "playbooks/contacts.csv", "--accounts", "playbooks/accounts.csv",
    "--events", "playbooks/events.jsonl", "--start", "2026-12-01 00:00", "--days", "14", "--adapter", "wecom",
]  # fmt: skip
BOX = tuple("┏┃┡│└")


def test_plan_tables_fit_80_columns_and_say_no_goal() -> None:
    for lang, no_goal in (("zh", "未设目标"), ("en", "no goal")):
        out = run("--lang", lang, *PLAN_ALL, COLUMNS="80")
        assert out.returncode == 0, out.stderr
        table_lines = [line for line in out.stdout.splitlines() if line.startswith(BOX)]
        assert table_lines and all(cell_width(line) <= 80 for line in table_lines)
        assert "…" not in out.stdout
        assert no_goal in out.stdout  # VIP升级 and 大单致谢 declare no goal
        assert "12.5%" in out.stdout  # VIP群邀请 has one


def test_timeline_in_words() -> None:
    out = run("--lang", "zh", *PLAN_ALL, "--contact", "c04")
    assert out.returncode == 0, out.stderr
    for text in ("进入旅程 (enter)", "退出旅程 (exit)", "原因：走完了全部步骤", "达成目标 (goal)",
                 "通过 进群 (joined_group)；进入后 1天20小时30分钟", "打标签 (tag_added)", "标签 VIP群",
                 "进群 (joined_group)", "私聊   VIP升级"):  # fmt: skip
        assert text in out.stdout, text
    for raw in ("reason=", "after_seconds=", "n=1", "  enter  ", "  dm     "):
        assert raw not in out.stdout, raw
    english = run("--lang", "en", *PLAN_ALL, "--contact", "c04")
    assert "why: finished every step" in english.stdout and "  enter  " in english.stdout
    assert "by joined_group; 1d20h30m after entering" in english.stdout


def test_help_paragraphs_reflow_like_click() -> None:
    from playbook.cli.click_i18n import CellHelpFormatter

    f = CellHelpFormatter(width=40)
    f.write_text("First line of a\nparagraph that goes on.\n\n\b\nkeep  this\n  and this\n\n中文一段\n接着写")
    assert f.getvalue() == "First line of a paragraph that goes on.\n\nkeep  this\n  and this\n\n中文一段接着写\n"
