"""The language server's piecewise parse (playbook/lsp/incremental.py) gives the same
syntax tree and comments as parsing the whole file, on every playbook in the repository,
and the same diagnostics where a file has errors — also after edits reuse pieces."""

from __future__ import annotations

from pathlib import Path

import pytest

from playbook.compiler import compile_sources
from playbook.diagnostics import PlaybookError
from playbook.lsp.incremental import ChunkCache
from playbook.syntax.parser import parse

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(p for p in (ROOT / "playbooks").glob("*.pb")) + sorted((ROOT / "tests" / "golden").rglob("*.pb"))


def _same(a, b) -> None:
    assert a.declarations == b.declarations
    assert [(c.line, c.column, c.text, c.trailing) for c in a.comments] == [
        (c.line, c.column, c.text, c.trailing) for c in b.comments
    ]
    # Spans are not compared by ==: compare them where names are.
    assert [d.span for d in a.declarations] == [d.span for d in b.declarations]


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_piecewise_equals_whole(path: Path):
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        whole = parse(text, str(path))
    except PlaybookError:
        whole = None
    cache = ChunkCache()
    if whole is None:
        with pytest.raises(PlaybookError):
            cache.parse(text, str(path))
        return
    _same(cache.parse(text, str(path)), whole)
    # An edit in the middle: the pieces before it come from the cache, the rest are re-parsed.
    lines = text.split("\n")
    edited = "\n".join(lines[: len(lines) // 2] + ["# an edit", *lines[len(lines) // 2 :]])
    _same(cache.parse(edited, str(path)), parse(edited, str(path)))
    ours = compile_sources(str(path), [(str(path), edited)], parse_text=cache.parse)
    theirs = compile_sources(str(path), [(str(path), edited)])
    assert ours.diagnostics == theirs.diagnostics and ours.doc == theirs.doc
