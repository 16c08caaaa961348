"""The benchmark's generated playbook (bench/generate.py) stays valid as the language grows.

No timing here: bench/run.py measures; this only checks that what it measures compiles
without errors and that its YAML twin loads back to the same definitions.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# bench/ is not part of the installed package: load the generator from its file.
_spec = importlib.util.spec_from_file_location(
    "bench_generate", Path(__file__).resolve().parents[1] / "bench" / "generate.py"
)
assert _spec and _spec.loader
bench_generate = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench_generate  # dataclasses look their module up here
_spec.loader.exec_module(bench_generate)
DEFAULT_LINES, check, generate = bench_generate.DEFAULT_LINES, bench_generate.check, bench_generate.generate


def test_generated_playbook_compiles_and_yaml_loads() -> None:
    g = generate()
    assert g.lines >= DEFAULT_LINES
    assert check(g) == []


def test_generator_is_deterministic() -> None:
    a, b = generate(400, seed=7), generate(400, seed=7)
    assert a.playbook == b.playbook and a.yaml == b.yaml
    assert generate(400, seed=8).playbook != a.playbook
    assert check(a) == []
