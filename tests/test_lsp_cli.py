"""`playbook lsp` without the `lsp` extra installed: one line saying what to install."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PLAYBOOK_LANG": "en"}


def test_without_the_extra_says_what_to_install():
    import subprocess

    code = (
        "import sys; sys.modules['pygls'] = None; sys.modules['lsprotocol'] = None\n"
        "sys.argv = ['playbook', 'lsp']\nfrom playbook.cli.main import main; main()"
    )
    done = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: lsprotocol is not installed: install playbook[lsp] (pip install 'playbook[lsp]')"
    ]
