"""The manager's pages in a real browser: headless Chromium (Debian's `chromium`, with
`fonts-noto-cjk`, installed by .ci/run) loads `plan --format html` and `report --format
html` offline, runs their script and paints them; a screenshot of each is kept as a test
artifact (the pytest tmp path)."""

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


def painted(page: Path, title: str, headings: list[str], charts: int) -> str:
    """Load `page` in Chromium: no page error, the title and the headings in the DOM,
    `charts` charts each with marks, and a screenshot beside it with something painted.
    The DOM, for more checks."""
    shown = chromium("--dump-dom", page.as_uri())
    dom = shown.stdout
    # the script ran without an error (Chromium logs page errors as CONSOLE lines)
    assert not re.search(r"CONSOLE.*(Uncaught|Error)", shown.stderr), shown.stderr
    assert f"<title>{title}</title>" in dom
    for heading in headings:
        assert f"<h2>{heading}</h2>" in dom, heading
    svgs = re.findall(r'<div class="chart">(.*?)</svg></div>', dom, re.S)
    assert len(svgs) == charts
    for svg in svgs:
        marks = re.findall(r'<g class="mark-(?:rect|text|symbol|line)[^"]*"[^>]*>(.*?)</g>', svg, re.S)
        assert any(m.strip() for m in marks), "a chart without marks"
    shot = page.with_suffix(".png")
    chromium("--window-size=1200,2400", f"--screenshot={shot}", page.as_uri())
    assert shot.stat().st_size > 50_000  # painted: text, bars and charts, not a blank page
    return dom


def test_chromium_renders_the_chinese_page(tmp_path: Path) -> None:
    page = tmp_path / "plan.html"
    made = CliRunner().invoke(cli, ["--lang", "zh", "plan", *PLAYBOOKS, *DATA, "--format", "html", "--out", str(page)])
    assert made.exit_code == 0, made.output
    dom = painted(page, "新客7天培育 + 朋友圈日历与服务标准 + 生鲜预售短期群", ["员工 × 日期 负荷", "群", "朋友圈"], 6)
    assert "每日各渠道触达" in dom  # a Chinese chart title
    assert "每条朋友圈的可见人数" in dom and "已发邀请" in dom  # per post, per group instance


def test_chromium_renders_the_chinese_report(tmp_path: Path) -> None:
    from runtime.test_report_html import Clock, fill_store, plan_file

    from playbook.runtime.store import Store

    url = f"sqlite:///{tmp_path / 'playbook.db'}"
    clock = Clock()
    with Store(url, now=clock) as store:
        fill_store(store, clock.set)
    plan = plan_file(tmp_path, "new_customer.pb", "moments_and_service.pb")
    page = tmp_path / "report.html"
    made = CliRunner().invoke(cli, ["--lang", "zh", "report", "--db", url, "--against", str(plan), "--format", "html",
                                    "--out", str(page)])  # fmt: skip
    assert made.exit_code == 0, made.output
    dom = painted(page, "新客7天培育 + 朋友圈日历与服务标准", ["通过率", "回复率", "互动率", "各员工执行情况", "计划与实际对比"], 8)
    assert "每日触达：预测与实际" in dom and "小美" in dom and "各员工服务标准" in dom
