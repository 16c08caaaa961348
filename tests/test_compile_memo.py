"""The language server's reuse of lowered declarations (compiler.build.LoweringMemo) gives
exactly a fresh compile's result — every diagnostic (with its source line) and the IR —
after edits of every kind: the fuzz corpus's mutations of every bundled example and of the
benchmark's 5,000-line playbook, each compiled after the previous edit with the same memo
and the language server's piecewise parse, as an editor's keystrokes are."""

from __future__ import annotations

import random
from typing import Any

import pytest
from conftest import ROOT, SHARED_EXAMPLES
from test_fuzz import mutate

from playbook.compiler import compile_sources
from playbook.compiler.build import LoweringMemo
from playbook.lsp.incremental import ChunkCache

EXAMPLES = sorted({p.name: p for p in [*SHARED_EXAMPLES.glob("*.pb"), *(ROOT / "playbooks").glob("*.pb")]}.values())


def _outcome(result: Any) -> Any:
    return [(d, d.source_line) for d in result.diagnostics], result.doc


def _edits(text: str, seed: int, count: int) -> list[str]:
    """COUNT texts an editor could hold one after the other: mutations of TEXT, each
    sometimes undone (back to TEXT)."""
    rng = random.Random(seed)
    return [text if rng.random() < 0.3 else mutate(rng, text) for _ in range(count)]


def _check_sequence(path: str, texts: list[str]) -> int:
    chunks, memo = ChunkCache(), LoweringMemo()
    reused = compiled = 0
    for text in texts:
        ours = compile_sources(path, [(path, text)], parse_text=chunks.parse, memo=memo)
        theirs = compile_sources(path, [(path, text)])
        assert _outcome(ours) == _outcome(theirs), f"after the edit to:\n{text}"
        reused += memo.reused
        compiled += ours.doc is not None or bool(ours.files)
    assert compiled  # edits that parse were compared, not only syntax errors
    return reused


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_memo_equals_a_fresh_compile_on_edited_examples(path: Any) -> None:
    text = path.read_text(encoding="utf-8")
    assert _check_sequence(str(path), [text, *_edits(text, seed=len(text), count=40)]) > 0


def test_memo_equals_a_fresh_compile_on_the_benchmark_playbook() -> None:
    from bench.generate import generate

    text = generate().playbook
    _check_sequence("large.pb", [text, *_edits(text, seed=16, count=12)])


def test_an_edit_in_a_segment_lowers_that_segment_alone() -> None:
    from bench.generate import generate

    text = generate().playbook
    chunks, memo = ChunkCache(), LoweringMemo()
    first = compile_sources("large.pb", [("large.pb", text)], parse_text=chunks.parse, memo=memo)
    assert memo.reused == 0 and first.ok
    edited = text.replace("orders >= 1", "orders >= 2", 1)  # a segment's condition, same names
    assert edited != text
    again = compile_sources("large.pb", [("large.pb", edited)], parse_text=chunks.parse, memo=memo)
    lowered = sum(len(phase.lowered) for phase in memo.phases.values())
    assert memo.reused == lowered - 1 > 500  # every content, segment and journey but the edited segment
    assert _outcome(again) == _outcome(compile_sources("large.pb", [("large.pb", edited)]))


SMALL = """quiet 22:00-08:00
segment 新客 = orders >= 0
content 欢迎 = "你好 {name|朋友}"
journey 欢迎旅程 {
  on enter 新客
  dm 欢迎
}
"""


@pytest.mark.parametrize(
    "edit",
    [
        ('"你好 {name|朋友}"', '"你好 {event.amount}"'),  # the content's text: the journey's reference warns
        ("segment 新客", "segment 老客"),  # a name the journey refers to disappears
        ("quiet 22:00-08:00\n", "quiet 22:00-08:00\nevent 到店\n"),  # the declared events change
    ],
)
def test_what_a_journey_reads_elsewhere_is_seen(edit: tuple[str, str]) -> None:
    chunks, memo = ChunkCache(), LoweringMemo()
    before = compile_sources("s.pb", [("s.pb", SMALL)], parse_text=chunks.parse, memo=memo)
    edited = SMALL.replace(*edit)
    after = compile_sources("s.pb", [("s.pb", edited)], parse_text=chunks.parse, memo=memo)
    fresh = compile_sources("s.pb", [("s.pb", edited)])
    assert _outcome(after) == _outcome(fresh) != _outcome(before)
