from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
SHARED_EXAMPLES = ROOT.parent / "shared" / "examples"


def check_golden(path: Path, actual: str) -> None:
    """Compare with a golden file; UPDATE_GOLDENS=1 rewrites it (review the diff!)."""
    if os.environ.get("UPDATE_GOLDENS") == "1" or not path.exists():
        if os.environ.get("UPDATE_GOLDENS") != "1" and os.environ.get("CI"):
            pytest.fail(f"golden file {path} is missing")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8"), f"output differs from {path}"


@pytest.fixture
def in_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)
    return ROOT
