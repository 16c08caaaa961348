"""`plan --format html` in a real browser: headless Chromium (Debian's `chromium`, with
`fonts-noto-cjk`, installed by .ci/run) loads the example's page offline, runs its script
and paints it; a screenshot is kept as a test artifact (the pytest tmp path)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_plan_html import DATA, PLAYBOOKS

from playbook.cli.main import cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    if os.environ.get("CI"):
        raise RuntimeError("chromium is missing: .ci/run installs it")
    pytest.skip("no chromium here (.ci/run installs it)", allow_module_level=True)

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--enable-logging=stderr", "--v=0"]  # fmt: skip


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=60, check=False)  # type: ignore[list-item]


def test_chromium_renders_the_chinese_page(tmp_path: Path) -> None:
    page = tmp_path / "plan.html"
    made = CliRunner().invoke(cli, ["--lang", "zh", "plan", *PLAYBOOKS, *DATA, "--format", "html", "--out", str(page)])
    assert made.exit_code == 0, made.output
    shown = chromium("--dump-dom", page.as_uri())
    dom = shown.stdout
    # the script ran without an error (Chromium logs page errors as CONSOLE lines)
    assert not re.search(r"CONSOLE.*(Uncaught|Error)", shown.stderr), shown.stderr
    assert "<title>新客7天培育 + 朋友圈日历与服务标准 + 生鲜预售短期群</title>" in dom
    assert "<h2>员工 × 日期 负荷</h2>" in dom
    charts = re.findall(r'<div class="chart">(.*?)</svg></div>', dom, re.S)
    assert len(charts) == 6
    for svg in charts:
        marks = re.findall(r'<g class="mark-(?:rect|text|symbol)[^"]*"[^>]*>(.*?)</g>', svg, re.S)
        assert any(m.strip() for m in marks), "a chart without marks"
    assert "每日各渠道触达" in dom  # a Chinese chart title
    shot = tmp_path / "plan.png"
    chromium("--window-size=1200,2400", f"--screenshot={shot}", page.as_uri())
    assert shot.stat().st_size > 50_000  # painted: text, bars and the heatmap, not a blank page
