"""`plan --format html`: one self-contained page from the plan (plan/html.py)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from playbook.cli.main import cli

PLAYBOOKS = [str(ROOT / "playbooks" / n) for n in ("new_customer.pb", "moments_and_service.pb", "presale_group.pb")]
DATA = [
    "--contacts", str(ROOT / "playbooks" / "contacts.csv"),
    "--accounts", str(ROOT / "playbooks" / "accounts.csv"),
    "--events", str(ROOT / "playbooks" / "events.jsonl"),
    "--start", "2026-12-01T00:00", "--days", "30",
]  # fmt: skip


_pages: dict[str, str] = {}


def plan(tmp_path: Path, lang: str = "en") -> str:
    """The example's page (made once per language: drawing the charts takes seconds)."""
    if lang not in _pages:
        out = tmp_path / "plan.html"
        result = CliRunner().invoke(cli, ["--lang", lang, "plan", *PLAYBOOKS, *DATA, "--format", "html",
                                          "--out", str(out)])  # fmt: skip
        assert result.exit_code == 0, result.output
        _pages[lang] = out.read_text(encoding="utf-8")
    return _pages[lang]


def test_page_is_self_contained_titled_and_has_every_section(tmp_path: Path) -> None:
    page = plan(tmp_path)
    assert "<title>新客7天培育 + 朋友圈日历与服务标准 + 生鲜预售短期群</title>" in page
    sections = re.findall(r"<h2>([^<]*)</h2>", page)
    assert sections == ["Summary", "Touches per day", "Staff × day load", "Journeys", "Service levels", "Groups",
                        "Moments", "Deferred and skipped", "Contact timeline"]  # fmt: skip
    # no network: nothing loaded from anywhere (the SVG namespaces are names, not loads)
    assert not re.search(r"""(src|href)=["']?https?:""", page)
    assert "<script src" not in page and "<link" not in page
    # every chart is an inline SVG with marks in it
    charts = re.findall(r'<div class="chart">(.*?)</svg></div>', page, re.S)
    assert len(charts) == 6
    for svg in charts:
        assert "<path" in svg or "<rect" in svg


def test_numbers_come_from_the_plan(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    CliRunner().invoke(cli, ["--lang", "en", "plan", *PLAYBOOKS, *DATA, "--format", "json", "--out", str(out)])
    doc = json.loads(out.read_text(encoding="utf-8"))
    page = plan(tmp_path)
    assert f"{len(doc['touches'])} touches" in page
    deferred = [t for t in doc["touches"] if t["outcome"] != "ok"]
    assert deferred  # the example defers some in quiet hours
    reason = deferred[0]["reason"]
    named = sorted({t["contact"] for t in deferred if t["reason"] == reason})
    block = re.search(rf"{re.escape(reason)}: {sum(t['reason'] == reason for t in deferred)}</summary>"
                      r"<p class='named'>([^<]*)</p>", page)  # fmt: skip
    assert block is not None
    assert sorted(set(block.group(1).split())) == named
    # the timeline lookup carries c43's touches
    lookup = json.loads(re.search(r"const TL=(\{.*?\});", page).group(1))  # type: ignore[union-attr]
    assert len(lookup["c43"]) == sum(t.get("contact") == "c43" for t in doc["touches"])


def test_page_in_chinese(tmp_path: Path) -> None:
    page = plan(tmp_path, lang="zh")
    assert "<html lang='zh-CN'>" in page
    assert "<h2>员工 × 日期 负荷</h2>" in page and "<h2>朋友圈</h2>" in page


def test_journeys_and_caps_as_in_the_terminal(tmp_path: Path) -> None:
    page = plan(tmp_path)
    assert "<td>VIP升级</td><td></td><td>7</td><td>0</td><td>no goal</td>" in page  # no goal, not 0.0%
    assert "<td>新客培育</td><td></td><td>2</td><td>1</td><td>50.0%</td>" in page
    assert "Staff load per day: dm and tasks (caps: task 60)" in page  # new_customer.pb's task cap


def test_without_the_html_extra_one_line_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vl_convert", None)  # as if not installed: importing it fails
    out = tmp_path / "plan.html"
    result = CliRunner().invoke(cli, ["--lang", "en", "plan", *PLAYBOOKS, *DATA, "--format", "html", "--out", str(out)])
    assert result.exit_code == 1
    assert result.output.strip() == "--format html draws charts: install playbook[html]"
    assert not out.exists()


def test_invitations_per_group_instance_and_audience_per_post(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "plan.json"
    CliRunner().invoke(cli, ["--lang", "en", "plan", *PLAYBOOKS, *DATA, "--format", "json", "--out", str(out)])
    doc = json.loads(out.read_text(encoding="utf-8"))
    page = plan(tmp_path)
    groups = re.search(r"<h2>Groups</h2>(.*?)</section>", page, re.S).group(1)  # type: ignore[union-attr]
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>[^<]*</td><td>(\d+)</td>"
                      r"<td>(\d+)</td><td>(\d+)</td></tr>", groups)  # fmt: skip
    opened = [e for e in doc["events"] if e["type"] == "group_opened"]
    assert len(rows) == len(opened) == 12
    for (_, account, opens, members, sent, skipped), event in zip(rows, opened, strict=True):
        invites = [t for t in doc["touches"] if t["channel"] == "dm" and t.get("group") == event["group"]]
        assert invites  # each instance's members were invited
        assert (account, opens, int(members)) == (event["account"], event["at"][:16].replace("T", " "), event["members"])
        assert (int(sent), int(skipped)) == (sum(t["outcome"] != "skipped" for t in invites),
                                             sum(t["outcome"] == "skipped" for t in invites))  # fmt: skip
    posts = [t for t in doc["touches"] if t["channel"] == "moment" and t["outcome"] == "ok"]

    def per_post(html: str) -> list[tuple[str, ...]]:
        moments = re.search(r"<h3>Audience per post</h3>(.*?)</section>", html, re.S).group(1)  # type: ignore[union-attr]
        return re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>(\d+)</td></tr>", moments)

    expected = [(p["at"][:16].replace("T", " "), p["account"], p["content"], str(len(p["audience"]))) for p in posts]
    assert per_post(page) == expected  # 168 posts, each with its audience
    # past ROWS posts, the first ROWS are listed and the rest counted
    monkeypatch.setattr("playbook.plan.html.ROWS", 100)
    small = tmp_path / "small.html"
    CliRunner().invoke(cli, ["--lang", "en", "plan", *PLAYBOOKS, *DATA, "--format", "html", "--out", str(small)])
    html = small.read_text(encoding="utf-8")
    assert per_post(html) == expected[:100] and f"<p>and {len(posts) - 100} more</p>" in html
