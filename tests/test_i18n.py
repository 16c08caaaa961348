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
