"""`playbook compile`'s tree at 40, 80 and 120 columns: a long (Chinese) line wraps under
its tree guide, never cut at the width without a mark."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT

from playbook.textcells import cell_width

TASK = 'task "{name}唤醒10天仍未下单，请先给TA的朋友圈点个赞，再决定要不要私聊"'
GUIDES = re.compile(r"^[\s│├└─]*")


def tree(width: int) -> list[str]:
    env = {**os.environ, "COLUMNS": str(width), "LINES": "50"}
    out = subprocess.run(
        [sys.executable, "-m", "playbook", "compile", "playbooks/win_back.pb"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


@pytest.mark.parametrize("width", [40, 80, 120])
def test_every_line_fits_and_nothing_is_lost(width: int) -> None:
    lines = tree(width)
    assert all(cell_width(line.rstrip()) <= width for line in lines), [
        line for line in lines if cell_width(line.rstrip()) > width
    ]
    # the tree guides stripped, the lines joined: the whole task text is there, wrapped or not
    text = "".join(GUIDES.sub("", line).rstrip() for line in lines)
    assert TASK.replace(" ", "") in text.replace(" ", "")
    # and the title line's timezone is not cut either
    assert "Asia/Shanghai" in text


def test_wide_enough_keeps_the_line_whole() -> None:
    assert any(line.rstrip().endswith(TASK) for line in tree(120))
