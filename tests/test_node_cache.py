"""The syntax-tree classes' generated methods are compiled once and their bytecode kept in
the cache directory (syntax/node.py); a missing, broken or unwritable cache only costs time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARSE = "from playbook.syntax.parser import parse; print(parse('segment a = orders >= 1').declarations[0])"


def _run(cache: Path, **env: str) -> str:
    full = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    full.update(PYTHONPATH=str(ROOT), PLAYBOOK_CACHE_DIR=str(cache), **env)
    done = subprocess.run([sys.executable, "-c", PARSE], capture_output=True, text=True, env=full, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_bytecode_is_kept_and_reused_and_a_broken_one_is_rebuilt(tmp_path: Path) -> None:
    first = _run(tmp_path)
    kept = sorted(tmp_path.glob("nodes-*.bin"))  # one per module whose classes are generated
    assert "Segment(" in first and kept and all(k.stat().st_size > 500 for k in kept)
    stamps = [k.stat().st_mtime_ns for k in kept]
    assert _run(tmp_path) == first
    assert [k.stat().st_mtime_ns for k in kept] == stamps  # read, not written again
    for k in kept:
        k.write_bytes(b"not bytecode")
    assert _run(tmp_path) == first
    assert all(k.read_bytes() != b"not bytecode" for k in kept)  # written again


def test_nothing_is_written_when_python_is_told_not_to(tmp_path: Path) -> None:
    assert "Segment(" in _run(tmp_path, PYTHONDONTWRITEBYTECODE="1")
    assert not list(tmp_path.iterdir())


def test_an_unwritable_cache_directory_is_only_slower(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the directory would be")
    assert "Segment(" in _run(blocked / "cache")
