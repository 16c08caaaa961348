"""The TextMate grammar (editors/vscode/syntaxes/playbook.tmLanguage.json) over the bundled
examples, tokenized as VS Code does (vscode-textmate + vscode-oniguruma, driven by
editors/vscode/test/tokenize.js): every token scoped, and a snapshot per example
(tests/golden/tmgrammar; UPDATE_GOLDENS=1 rewrites them)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import GOLDEN, ROOT, check_golden

TOOL = ROOT / "editors" / "vscode" / "test"
EXAMPLES = sorted((ROOT / "playbooks").glob("*.pb"))


def _tokenize(*files: Path) -> str:
    if shutil.which("node") is None or not (TOOL / "node_modules" / "vscode-textmate").exists():
        if os.environ.get("CI"):
            pytest.fail("node and editors/vscode/test/node_modules are needed (.ci/run installs them)")
        pytest.skip("needs node and `npm ci --prefix editors/vscode/test`")
    done = subprocess.run(
        ["node", str(TOOL / "tokenize.js"), *map(str, files)], capture_output=True, text=True, timeout=60,
        encoding="utf-8",
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def snapshots() -> dict[str, str]:
    out = _tokenize(*EXAMPLES)
    parts = out.split("== ")[1:]
    return {p.split("\n", 1)[0]: "== " + p for p in parts}


def test_examples_are_bundled():
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("example", [p.name for p in EXAMPLES])
def test_every_token_scoped_and_snapshot(snapshots: dict[str, str], example: str):
    snapshot = snapshots[example]
    assert "UNSCOPED" not in snapshot
    check_golden(GOLDEN / "tmgrammar" / (example + ".snap"), snapshot)


def test_placeholders_chinese_names_and_references(tmp_path: Path):
    path = tmp_path / "t.pb"
    path.write_text('segment 老客 = orders >= 1\ncontent 欢迎 = "{name|亲}好"\n  if in 老客 { dm 欢迎 }\n', encoding="utf-8")
    out = _tokenize(path).split("\n")

    def scope_of(line: str, text: str) -> str:
        at = line_index = next(i for i, s in enumerate(out) if s == "> " + line)
        column = line.index(text)
        for mark in out[line_index + 1 :]:
            if mark.startswith(">"):
                break
            carets = mark[1:].split(" ")[0] if not mark[1:].startswith(" ") else mark[1:]
            start = len(mark[1:]) - len(mark[1:].lstrip(" "))
            width = len(carets.strip().split(" ")[0])
            if start == column and width == len(text):
                return mark.rsplit("^", 1)[1].strip()
        raise AssertionError(f"no token {text!r} at {at}")

    assert scope_of("segment 老客 = orders >= 1", "老客") == "entity.name.type.segment.playbook"
    assert "variable.other.placeholder.playbook" in scope_of('content 欢迎 = "{name|亲}好"', "name")
    assert "string.unquoted.fallback.playbook" in scope_of('content 欢迎 = "{name|亲}好"', "亲")
    assert scope_of("  if in 老客 { dm 欢迎 }", "老客") == "variable.other.segment.playbook"
    assert scope_of("  if in 老客 { dm 欢迎 }", "欢迎") == "variable.other.content.playbook"
