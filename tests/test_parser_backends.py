"""The accelerated parser (lark-cython's LALR loop, the `fast` extra) builds exactly the ASTs
Lark's own loop builds: positions, comments, values, and the same diagnostics for text that
does not parse — on every bundled example, every golden input, the benchmark's generated
5,000-line playbook and the fuzz corpus's cases. Runs when lark-cython is installed.

Generic on purpose: whatever the grammar grows, these inputs are compared whole."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import pytest
from conftest import GOLDEN, ROOT, SHARED_EXAMPLES
from test_fuzz import case

from playbook.diagnostics import PlaybookError
from playbook.syntax import parser as P
from playbook.syntax.dump import to_data
from playbook.syntax.source import read_source

pytest.importorskip("lark_cython")

FUZZ_CASES = int(os.environ.get("PLAYBOOK_BACKEND_FUZZ_CASES", "1500"))


def inputs() -> Iterator[tuple[str, str]]:
    for p in sorted([*SHARED_EXAMPLES.glob("*.pb"), *(ROOT / "playbooks").glob("*.pb"), *GOLDEN.rglob("*.pb")]):
        try:
            yield str(p.relative_to(p.parents[1])), read_source(p)
        except PlaybookError:  # a golden of a file that cannot be read (bad encoding): not the parser's
            continue
    from bench.generate import generate

    yield "bench/generate.py", generate().playbook


def outcome(p: P._Parser, text: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The AST (as data, comments included) or the diagnostics, parsing with P."""
    monkeypatch.setattr(P, "_parser", lambda: p)
    try:
        f = P.parse(text, "x.pb")
    except PlaybookError as exc:
        return "error", [asdict(d) for d in exc.diagnostics]
    return "ok", to_data(f.declarations), to_data(f.comments)


@pytest.fixture(scope="module")
def parsers() -> tuple[P._Parser, P._Parser]:
    plugins = P.accelerated_plugins()
    if plugins is None:
        pytest.skip("PLAYBOOK_PARSER=lark turns the accelerated parser off")
    return P._Parser(None), P._Parser(plugins)


def test_the_default_parser_is_the_accelerated_one() -> None:
    if P.accelerated_plugins() is None:
        pytest.skip("PLAYBOOK_PARSER=lark")
    assert P._parser()._pure is not P._parser().fast


def test_same_trees_on_examples_goldens_and_the_benchmark(parsers: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pure, fast = parsers
    seen = 0
    for name, text in inputs():
        expected = outcome(pure, text, monkeypatch)
        assert outcome(fast, text, monkeypatch) == expected, name
        seen += expected[0] == "ok"
    assert seen > 10  # the examples and the benchmark parse: trees, not only errors, were compared


def test_same_trees_and_errors_on_the_fuzz_corpus(parsers: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pure, fast = parsers
    kinds = set()
    for seed in range(FUZZ_CASES):
        text = case(seed)
        expected = outcome(pure, text, monkeypatch)
        assert outcome(fast, text, monkeypatch) == expected, f"seed={seed}\n{text}"
        kinds.add(expected[0])
    assert kinds == {"ok", "error"}
