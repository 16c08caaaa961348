"""Messages in English and Simplified Chinese: language choice, the catalogue, the CLI, the goldens."""

from __future__ import annotations

import ast
import os
import string
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import GOLDEN, ROOT

from playbook import i18n
from playbook.compiler import compile_path
from playbook.diagnostics import Diagnostic, render
from playbook.i18n import ENV_VARS, language, set_language, t, tn
from playbook.i18n_zh import ZH

ERROR_CASES = sorted((GOLDEN / "errors").glob("*.pb"))
UNKNOWN_SEGMENT = "tests/golden/errors/unknown_segment.pb"


def _clear_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


# ---- choosing the language -----------------------------------------------------------------------


def test_default_is_english(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_env(monkeypatch)
    assert language() == "en"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh"),
        ({"LC_MESSAGES": "C", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"LC_ALL": "zh_CN.UTF-8", "LC_MESSAGES": "en_US.UTF-8", "LANG": "en_US.UTF-8"}, "zh"),
        ({"LC_ALL": "C.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"PLAYBOOK_LANG": "zh", "LC_ALL": "en_US.UTF-8"}, "zh"),
        ({"PLAYBOOK_LANG": "en", "LC_ALL": "zh_CN.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
        # An empty variable is not set: the next one decides.
        ({"PLAYBOOK_LANG": "", "LC_ALL": "", "LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "zh_TW.UTF-8"}, "zh"),
        ({"LANG": "ZH-Hans"}, "zh"),
        ({"LANG": "fr_FR.UTF-8"}, "en"),
    ],
)
def test_environment_precedence(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str) -> None:
    _clear_env(monkeypatch)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert language() == expected


def test_set_language_beats_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_env(monkeypatch)
    monkeypatch.setenv("PLAYBOOK_LANG", "zh")
    set_language("en")
    assert language() == "en"
    monkeypatch.setenv("PLAYBOOK_LANG", "en")
    set_language("zh_CN")
    assert language() == "zh"
    set_language(None)  # back to the environment
    assert language() == "en"


def test_t_translates_formats_and_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    assert t("unknown segment '{name}'", name="老课") == "unknown segment '老课'"
    assert tn("{n} error", "{n} errors", 1) == "1 error"
    assert tn("{n} error", "{n} errors", 2) == "2 errors"
    set_language("zh")
    i18n.clear_missing()
    assert t("unknown segment '{name}'", name="老课") == "未知的客群 '老课'"
    assert t("did you mean '{name}'?", name="老客") == "你是不是想写 '老客'？"
    assert tn("{n} error", "{n} errors", 2) == "2 个错误"
    assert i18n.missing() == frozenset()
    # No translation: English, formatted, and noted.
    assert t("a message nobody translated ({n})", n=3) == "a message nobody translated (3)"
    assert i18n.missing() == {"a message nobody translated ({n})"}
    i18n.clear_missing()


# ---- the catalogue -------------------------------------------------------------------------------------


def _fields(template: str) -> list[str]:
    """The `{…}` names of a format template, in order (escaped braces are not fields)."""
    return sorted(name for _, name, _, _ in string.Formatter().parse(template) if name is not None)


@pytest.mark.parametrize("english", sorted(ZH), ids=range(len(ZH)))
def test_catalogue_entry_has_the_same_placeholders(english: str) -> None:
    chinese = ZH[english]
    assert _fields(chinese) == _fields(english), (english, chinese)
    assert chinese.strip() and chinese != english
    values = {name: "x" for name in _fields(english)}
    english.format(**values)
    chinese.format(**values)


def _templates_in_code() -> dict[str, str]:
    """Every literal template passed to t/tn/N_ in modules that use playbook.i18n → where it is."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "playbook").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "from playbook.i18n import" not in text:
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("t", "tn", "N_"):
                for arg in node.args[: 2 if node.func.id == "tn" else 1]:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.setdefault(arg.value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_template_in_the_code_is_translated() -> None:
    used = _templates_in_code()
    assert len(used) > 100
    untranslated = {k: where for k, where in used.items() if k not in ZH}
    assert not untranslated, f"add these to playbook/i18n_zh.py: {untranslated}"


def test_english_never_loads_the_catalogue() -> None:
    code = (
        "import sys; from playbook.i18n import t; t('error'); "
        "print('playbook.i18n_zh' in sys.modules, sorted(m for m in sys.modules if m.startswith('playbook')))"
    )
    env = dict(os.environ, PLAYBOOK_LANG="en")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert out.stdout.strip() == "False ['playbook', 'playbook.i18n']", out.stdout + out.stderr


# ---- the command line ------------------------------------------------------------------------------


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ENV_VARS} | env
    return subprocess.run(
        [sys.executable, "-m", "playbook", *args], capture_output=True, text=True, cwd=ROOT, env=full_env, timeout=120
    )


def test_lang_zh_check_through_the_entry_point() -> None:
    out = run("--lang", "zh", "check", UNKNOWN_SEGMENT, PLAYBOOK_LANG="en")
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"{UNKNOWN_SEGMENT}:5:9: 错误：未知的客群 '老课'" in out.stdout
    assert "你是不是想写 '老客'？" in out.stdout
    assert "共检查 1 个剧本：1 个错误，0 个警告" in out.stdout
    assert "unknown segment" not in out.stdout and "did you mean" not in out.stdout


def test_lang_en_beats_a_chinese_locale() -> None:
    out = run("--lang", "en", "check", UNKNOWN_SEGMENT, PLAYBOOK_LANG="zh", LANG="zh_CN.UTF-8")
    assert "error: unknown segment '老课'" in out.stdout
    assert "did you mean '老客'?" in out.stdout
    assert "1 error, 0 warnings in 1 playbook" in out.stdout


def test_chinese_locale_without_lang() -> None:
    out = run("check", "tests/golden/errors/warn_spam.pb", LANG="zh_CN.UTF-8")
    assert out.returncode == 0
    assert "警告：旅程 '轰炸' 在前 3 天里可能给同一个联系人发 4 条私聊 [spam-dm]" in out.stdout
    assert "✓ tests/golden/errors/warn_spam.pb：通过，版本 pb-" in out.stdout


def test_lang_rejects_other_languages() -> None:
    out = run("--lang", "fr", "check", UNKNOWN_SEGMENT)
    assert out.returncode == 2


def test_lang_option_sets_the_language_before_the_subcommand() -> None:
    from playbook.cli.main import cli

    result = CliRunner().invoke(cli, ["--lang", "zh", "check", "--format", "json", UNKNOWN_SEGMENT])
    assert result.exit_code == 1
    assert '"message": "未知的客群 \'老课\'"' in result.output
    assert '"severity": "error"' in result.output  # codes stay codes
    result = CliRunner().invoke(cli, ["--lang", "zh", "--help"])
    assert "命令" in result.output and "解析、编译并检查剧本" in result.output


# ---- every compiler diagnostic of the error goldens, in Chinese --------------------------------------


def _diagnostics(path: Path) -> list[Diagnostic]:
    contacts = path.with_suffix(".contacts.csv")
    known = None
    if contacts.exists():
        from playbook.data.fields import field_names

        known = field_names(contacts)
    return compile_path(path.relative_to(ROOT), known_fields=known).diagnostics


@pytest.mark.parametrize("path", ERROR_CASES, ids=lambda p: p.stem)
def test_error_golden_in_chinese_has_no_english_left(path: Path, in_root: Path) -> None:
    english = _diagnostics(path)
    set_language("zh")
    i18n.clear_missing()
    chinese = _diagnostics(path)
    assert len(chinese) == len(english)
    english_texts = {d.message for d in english} | {d.hint for d in english if d.hint}
    left = [text for d in chinese for text in (d.message, d.hint) if text and text in english_texts]
    left += sorted(i18n.missing())
    i18n.clear_missing()
    assert not left, f"these fell back to English: {left}"
    for d in chinese:
        head = render(d).split("\n")[0]
        assert (": 错误：" if d.is_error else ": 警告：") in head, head


# ---- playbook plan: tables and timelines in Chinese, the JSON the same in every language ----------------

PLAN_NEW_CUSTOMER = [
    "plan", "playbooks/new_customer.pb", "--contacts", "playbooks/contacts.csv",
    "--events", "playbooks/events.jsonl", "--start", "2026-12-01 00:00",
]  # fmt: skip
PLAN_ALL = [
    "plan", "playbooks/moments_and_service.pb", "playbooks/new_customer.pb", "playbooks/presale_group.pb",
    "playbooks/vip_invite.pb", "--contacts", "playbooks/contacts.csv", "--accounts", "playbooks/accounts.csv",
    "--events", "playbooks/events.jsonl", "--start", "2026-12-01 00:00", "--days", "14", "--adapter", "wecom",
]  # fmt: skip
# Words of the English tables and timelines that must not be left in the Chinese ones.
PLAN_ENGLISH = (
    "Plan ", "per day", "per account", "journeys", " dm ·", "group posts", "moments", "tasks", "deferred",
    "skipped", "entered", "conversion", "by arm", "quiet hours", "limit ", "missing", "due ", "wecom:", "account ",
)  # fmt: skip

# Runs `python -m playbook` (runpy, as -m does) and reports, on exit, the templates shown untranslated.
MISSING_REPORT = (
    "import atexit, runpy, sys\n"
    "from playbook import i18n\n"
    "atexit.register(lambda: sys.stderr.write('MISSING ' + repr(sorted(i18n.missing())) + '\\n'))\n"
    "sys.argv = ['playbook', *sys.argv[1:]]\n"
    "runpy.run_module('playbook', run_name='__main__', alter_sys=True)\n"
)


def run_reporting_missing(*args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    out = subprocess.run(
        [sys.executable, "-c", MISSING_REPORT, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )
    reports = [line for line in out.stderr.splitlines() if line.startswith("MISSING ")]
    assert len(reports) == 1, out.stderr
    return out, ast.literal_eval(reports[0].removeprefix("MISSING "))


def test_plan_table_in_chinese_through_the_entry_point() -> None:
    out = run("--lang", "zh", *PLAN_NEW_CUSTOMER, PLAYBOOK_LANG="en")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("演练计划 pb-") and "2026-12-01T00:00:00+08:00 → 2026-12-08T00:00:00+08:00" in lines[0]
    assert lines[1] == "2 条私聊 · 0 条群消息 · 0 条朋友圈 · 1 个任务；2 条跳过（缺少字段）"
    for heading in ("按天统计", "按账号统计", "旅程效果"):
        assert heading in lines, heading
    for column in "日期 账号 私聊 群消息 朋友圈 任务 延后 跳过 旅程 进入 达成目标 转化率".split():
        assert column in out.stdout, column
    left = [word for word in PLAN_ENGLISH if word in out.stdout]
    assert not left, f"English left in the Chinese plan: {left}\n{out.stdout}"
    # The same run, recording the templates that had no translation: none.
    again, missing = run_reporting_missing("--lang", "zh", *PLAN_NEW_CUSTOMER)
    assert again.stdout == out.stdout
    assert missing == []


def test_plan_contact_timeline_in_chinese() -> None:
    out, missing = run_reporting_missing("--lang", "zh", *PLAN_ALL, "--contact", "c04")
    assert out.returncode == 0, out.stderr
    assert "（c04）· 账号 " in out.stdout.splitlines()[0]
    assert "延后（免打扰时段 22:30-07:30）  原定 12-01 00:00" in out.stdout
    assert "按时" in out.stdout
    english = run("--lang", "en", *PLAN_ALL, "--contact", "c04")
    assert "deferred (quiet hours 22:30-07:30)  due 12-01 00:00" in english.stdout
    assert " · account " in english.stdout.splitlines()[0]
    assert missing == []


def _bad_data(tmp_path: Path) -> list[str]:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "id,name,account,added_at\nc1,甲,a1,2026-11-30\n,乙,a1,\nc3,丙,a1,2026-13-45\nc1,丁,a1,\nc5,戊,a1,1,2,3\n",
        "utf-8",
    )
    events = tmp_path / "events.jsonl"
    at = "2026-12-01T10:00:00+08:00"
    events.write_text(
        "\n".join(
            [
                f'{{"type": "purchase", "contact": "c1", "at": "{at}", "amount": "很多"}}',
                "[1, 2]",
                "{not json",
                f'{{"type": "tag_added", "contact": "c1", "at": "{at}"}}',
                f'{{"contact": "c1", "at": "{at}"}}',
                '{"type": "message", "contact": "c1", "at": 5}',
                f'{{"type": "message", "contact": "c1", "at": "{at}", "v": {{"a": 1}}}}',
                '{"type": "message", "contact": "c1", "at": "2026-02-30 10:00"}',
                f'{{"type": "message", "contact": "nobody", "at": "{at}"}}',
            ]
        )
        + "\n",
        "utf-8",
    )
    return ["--contacts", str(contacts), "--events", str(events)]


def test_plan_row_problems_in_chinese(tmp_path: Path) -> None:
    args = ["plan", "playbooks/new_customer.pb", *_bad_data(tmp_path), "--start", "2026-12-01 00:00"]
    out, missing = run_reporting_missing("--lang", "zh", *args)
    assert out.returncode == 0, out.stderr
    for expected in (
        ":3: 已跳过这一行：这一行没有 id",
        ":4: 已跳过这一行：日历上没有 '2026-13-45' 这个日期",
        ":5: 已跳过这一行：id 'c1' 已经在第 2 行用过了",
        ":6: 已跳过这一行：这一行有 6 格，但表头只有 4 列",
        ":1: 已跳过这一行：purchase 事件的 amount 必须是数字，不能是 '很多'",
        ":2: 已跳过这一行：每一行都必须是一个 JSON 对象",
        ":3: 已跳过这一行：不是合法的 JSON：",
        ":4: 已跳过这一行：tag_added 事件必须带上 'tag'",
        ":5: 已跳过这一行：这条事件缺少 'type'",
        ":6: 已跳过这一行：'at' 必须是时间，例如 2026-12-01T09:00:00+08:00",
        ":7: 已跳过这一行：字段 'v' 的值类型不受支持（dict）",
        ":8: 已跳过这一行：日历上没有 '2026-02-30 10:00' 这个日期",
        "事件 message 的联系人 'nobody' 不存在，已忽略",
    ):
        assert expected in out.stdout, expected
    assert "skipped row" not in out.stdout and "unknown contact" not in out.stdout
    assert missing == []
    strict, missing = run_reporting_missing("--lang", "zh", *args, "--strict")
    assert strict.returncode == 1
    assert "已跳过这一行：这一行没有 id" in strict.stderr and "--strict：数据有问题，未做演练" in strict.stderr
    assert missing == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--simulate", "reply=2"], "--simulate：reply 的概率必须是 0 到 1 之间的数"),
        (["--simulate", "nonsense"], "--simulate：'nonsense' 写法不对，应写成 KEY=概率"),
        (["--start", "tomorrow"], "--start：'tomorrow' 不是日期或时间，应写成 2026-12-01T09:00:00+08:00 这样"),
        (["--start", "2026-02-30"], "--start：日历上没有 '2026-02-30' 这个日期"),
        (["--adapter", "wecon"], "错误：未知的适配器 'wecon'\n  你是不是想写 'wecom'？"),
        (["--adapter", "xyzzy"], "可用的适配器：console, jsonl, webhook, wecom"),
        (["--contact", "nobody"], "演练里没有联系人 'nobody'"),
    ],
)
def test_plan_option_errors_in_chinese(extra: list[str], expected: str) -> None:
    out, missing = run_reporting_missing("--lang", "zh", *PLAN_NEW_CUSTOMER, *extra)
    assert out.returncode == 1
    assert expected in out.stderr, out.stderr
    assert missing == []


def plan_json(lang: str, *args: str) -> bytes:
    """`python -m playbook --lang LANG plan … --format json`, as bytes."""
    out = subprocess.run(
        [sys.executable, "-m", "playbook", "--lang", lang, *args, "--format", "json"],
        capture_output=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout


def test_plan_json_is_the_same_bytes_in_every_language() -> None:
    en = plan_json("en", *PLAN_NEW_CUSTOMER)
    assert plan_json("zh", *PLAN_NEW_CUSTOMER) == en
    assert b'"reason": "missing account.name"' in en


def test_plan_json_reasons_and_problems_stay_english(tmp_path: Path) -> None:
    """Reasons of every kind (quiet hours, limits, platform limits, exits, deletions) and
    row problems: the JSON is a contract for scripts, not a message."""
    bad = _bad_data(tmp_path)
    cases = [
        [*PLAN_ALL, "--simulate", "reply=0.5,purchase=0.2,delete=0.1,interaction=0.3", "--days", "30"],
        ["plan", "playbooks/new_customer.pb", *bad, "--start", "2026-12-01 00:00"],
    ]
    outputs = [plan_json("en", *args) for args in cases]
    assert [plan_json("zh", *args) for args in cases] == outputs
    many, bad_rows = (o.decode() for o in outputs)
    for reason in ('"reason": "quiet hours ', '"reason": "wecom: 1 dm per customer per day', '"reason": "missing '):
        assert reason in many, reason
    assert '"reason": "the row has no id"' in bad_rows and '"reason": "unknown contact"' in bad_rows


REASONS = {
    "quiet hours 22:00-08:00": "免打扰时段 22:00-08:00",
    "limit dm 1 per contact per day": "频次限制：每个联系人每天最多 1 条私聊",
    "limit task 3 per account per week": "频次限制：每个账号每周最多 3 个任务",
    "limit group 2 per account per month": "频次限制：每个账号每月最多 2 条群消息",
    "limit moment 1 per contact per day": "频次限制：每个联系人每天最多 1 条朋友圈",
    "limit any 5 per contact per week": "频次限制：每个联系人每周最多触达 5 次",
    "wecom: 1 dm per customer per day": "企业微信限制：每位客户每天最多 1 条私聊",
    "missing name": "缺少字段 name",
    "missing account.name": "缺少字段 account.name",
    "exited the journey (exit on purchase)": "已退出旅程（发生了 购买 (purchase) 事件）",
    "exited the journey (exit when)": "已退出旅程（满足 exit when 条件）",
    "exited the journey (exit step)": "已退出旅程（执行到 exit 步骤）",
    "exited the journey (deleted)": "已退出旅程（联系人已删除）",
    "contact deleted": "联系人已删除",
    "the contact has no account": "联系人没有所属账号",
    "the group has closed": "群已关闭",
    "no contact can see it": "没有联系人能看到",
    "limit dm 1 per contact per day; quiet hours 21:30-09:00": (
        "频次限制：每个联系人每天最多 1 条私聊；免打扰时段 21:30-09:00"
    ),
}


def test_touch_reasons_are_translated_when_shown() -> None:
    from playbook.vocab.reasons import reason_text

    for reason in REASONS:
        assert reason_text(reason) == reason  # English: the reason as the engine gave it
    set_language("zh")
    i18n.clear_missing()
    assert {reason: reason_text(reason) for reason in REASONS} == REASONS
    assert reason_text("a reason nobody knows") == "a reason nobody knows"
    assert i18n.missing() == frozenset()
