from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests read English (the goldens are English), whatever the developer's locale says;
# set here, at import, so subprocesses running `playbook` inherit it too.
os.environ["PLAYBOOK_LANG"] = "en"

from playbook.i18n import set_language  # noqa: E402

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


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Every test starts in English and leaves no language chosen behind."""
    set_language(None)
    yield
    set_language(None)
