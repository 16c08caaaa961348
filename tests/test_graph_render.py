"""`playbook graph --format svg|png`: drawn by Graphviz's `dot` (a Debian package, installed
by .ci/run) from the dot source; a clear line when `dot` is not installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ROOT

from playbook.compiler import compile_path
from playbook.compiler.graph import clusters

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
SVG = "{http://www.w3.org/2000/svg}"


def graph(*args: str, path: str | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PATH": path} if path is not None else None
    return subprocess.run(
        [sys.executable, "-m", "playbook", "graph", *args], capture_output=True, cwd=ROOT, env=env, timeout=120
    )


@needs_dot
@pytest.mark.parametrize("example", ["moments_and_service", "live_flash_group", "win_back"])
def test_svg_is_xml_with_a_node_per_graph_node(example: str, tmp_path: Path) -> None:
    pb = ROOT / "playbooks" / f"{example}.pb"
    out = graph("--format", "svg", "--out", str(tmp_path / "g.svg"), str(pb))
    assert out.returncode == 0, out.stderr
    root = ET.fromstring((tmp_path / "g.svg").read_bytes())  # well-formed, or this raises
    assert root.tag == f"{SVG}svg"
    drawn = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
    doc = compile_path(str(pb)).doc
    expected = sum(len(c.nodes) for c in clusters(doc))
    assert len(drawn) == expected
    # every node's label is in the picture (Chinese included)
    texts = {"".join(t.itertext()) for t in root.iter(f"{SVG}text")}
    for c in clusters(doc):
        for _, label, _ in c.nodes:
            assert any(label[:20] in text for text in texts), label


@needs_dot
def test_svg_to_stdout() -> None:
    out = graph("--format", "svg", "playbooks/new_customer.pb")
    assert out.returncode == 0 and ET.fromstring(out.stdout).tag == f"{SVG}svg"


@needs_dot
def test_png_has_the_png_signature(tmp_path: Path) -> None:
    out = graph("--format", "png", "--out", str(tmp_path / "g.png"), "playbooks/live_flash_group.pb")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_graphviz_one_line_says_what_to_install(tmp_path: Path) -> None:
    out = graph("--format", "svg", "--out", str(tmp_path / "g.svg"), "playbooks/new_customer.pb", path=str(tmp_path))
    assert out.returncode == 1
    lines = out.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "install Graphviz: apt-get install graphviz" in lines[0], out.stderr
    assert not (tmp_path / "g.svg").exists()


def test_source_formats_need_no_graphviz(tmp_path: Path) -> None:
    out = graph("--format", "dot", "--out", str(tmp_path / "g.dot"), "playbooks/new_customer.pb", path=str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "g.dot").read_text("utf-8").startswith('digraph "new_customer"')


def test_rendered_formats_draw_one_playbook() -> None:
    out = graph("--format", "svg", "playbooks/new_customer.pb", "playbooks/win_back.pb")
    assert out.returncode == 2 and b"one PATH" in out.stderr
