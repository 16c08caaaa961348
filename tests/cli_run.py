"""Run the `playbook` command line in a subprocess, as the user would (shared by the CLI tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`python -m playbook ARGS…` in English, without the developer's PLAYBOOK_DB."""
    env = {k: v for k, v in os.environ.items() if k != "PLAYBOOK_DB"}
    env["PLAYBOOK_LANG"] = "en"
    return subprocess.run([sys.executable, "-m", "playbook", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)  # fmt: skip
