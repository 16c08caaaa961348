"""Fuzzing the syntax layer: whatever the text, parsing raises nothing but PlaybookError.

The corpus is the example playbooks (the copies of /work/shared/examples in playbooks/,
plus the other examples there). Each case corrupts one of them — deletes, inserts or swaps
characters and tokens, inserts full-width punctuation or stray quotes, truncates — or is
random text. When a case still parses, the formatter must round-trip it as well (same
tree, every comment, idempotent), so the fuzzer also hunts formatter bugs.

Case i is generated from `random.Random(i)`, so a failure names a seed that reproduces
it exactly. Sizes: PLAYBOOK_FUZZ_CASES (default 3000) for the normal run, and
PLAYBOOK_FUZZ_SLOW_CASES (default 100000) for `pytest -m slow tests/test_fuzz.py`.
"""

from __future__ import annotations

import os
import random
import re
import sys

import pytest
from conftest import ROOT, SHARED_EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playbook.diagnostics import PlaybookError, render
from playbook.syntax.fmt import format_file
from playbook.syntax.keywords import keywords
from playbook.syntax.parser import parse
from playbook.syntax.source import FULL_WIDTH, STRAY_HINTS

CASES = int(os.environ.get("PLAYBOOK_FUZZ_CASES", "3000"))
SLOW_CASES = int(os.environ.get("PLAYBOOK_FUZZ_SLOW_CASES", "100000"))
HYPOTHESIS_CASES = int(os.environ.get("PLAYBOOK_FUZZ_HYPOTHESIS_CASES", "300"))

CORPUS: list[str] = sorted(
    {p.name: p.read_text(encoding="utf-8") for p in [*SHARED_EXAMPLES.glob("*.pb"), *(ROOT / "playbooks").glob("*.pb")]}
    .values()
)  # fmt: skip

# Tokens worth inserting: keywords, punctuation, literals of every kind, their full-width
# twins, broken strings and comments, and characters that have no place in a playbook.
VOCABULARY: list[str] = sorted(keywords()) + [
    "{", "}", "(", ")", "[", "]", ":", ",", "=", "==", "!=", "<", ">=", "%", "-", ".", '"', '"""', "“", "”",
    "#", "# 注释\n", "\n", " ", "\t", "\\", "\\n", "\\q", "'", ";", "。", "～",
    "0", "1", "007", "1.5", "99.5", "-3", "50%", "33.3%", "0%", "12:00", "25:00", "23:59", "9:7",
    "2026-12-10", "2026-02-30", "2026-12-10 10:00", "1d", "90m", "1d12h", "12h1d", "0m", "2w3d4h5m",
    '"文本"', '"{name|亲}"', '""', '"""\n  多行\n  """', "“中文引号”", "新客", "SVIP", "event.amount", "account.name",
    "\ufeff", "\u3000", "\r", "\x00", "é", "٣", "²",
    *FULL_WIDTH, *STRAY_HINTS,
]  # fmt: skip
_TO_FULL_WIDTH: dict[str, list[str]] = {}
for _wide, _ascii in FULL_WIDTH.items():
    _TO_FULL_WIDTH.setdefault(_ascii, []).append(_wide)

_TOKENS = re.compile(r'"""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"|“[^”\n]*”|#[^\n]*|\w+|\s+|.')


def _tokens(text: str) -> list[str]:
    return _TOKENS.findall(text)


def mutate(rng: random.Random, text: str) -> str:
    """Apply one to four random corruptions to `text`."""
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(11)
        i = rng.randrange(len(text) + 1)
        if op == 0:  # delete characters
            text = text[:i] + text[i + rng.randint(1, 4) :]
        elif op == 1:  # insert a character
            text = text[:i] + rng.choice(VOCABULARY)[:1] + text[i:]
        elif op == 2 and len(text) > 1:  # swap two neighbouring characters
            i = min(i, len(text) - 2)
            text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        elif op == 3:  # truncate
            text = text[:i]
        elif op == 4:  # make one ASCII punctuation character full-width
            spots = [k for k, ch in enumerate(text) if ch in _TO_FULL_WIDTH]
            if spots:
                k = rng.choice(spots)
                text = text[:k] + rng.choice(_TO_FULL_WIDTH[text[k]]) + text[k + 1 :]
        else:  # token-level edits
            toks = _tokens(text)
            if not toks:
                text = rng.choice(VOCABULARY)
                continue
            k = rng.randrange(len(toks))
            if op == 5:
                del toks[k]
            elif op == 6:
                toks.insert(k, rng.choice(VOCABULARY))
            elif op == 7:
                toks.insert(k, toks[k])
            elif op == 8:
                j = rng.randrange(len(toks))
                toks[k], toks[j] = toks[j], toks[k]
            elif op == 9:
                toks[k] = rng.choice(VOCABULARY)
            else:  # move a line elsewhere
                lines = text.split("\n")
                line = lines.pop(rng.randrange(len(lines)))
                lines.insert(rng.randrange(len(lines) + 1), line)
                text = "\n".join(lines)
                continue
            text = "".join(toks)
    return text


def random_text(rng: random.Random) -> str:
    if rng.random() < 0.5:  # a soup of the language's own tokens
        return " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(0, 40)))
    return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x4E00, 0x4F00), rng.randrange(0, 0x3100)]))
                   for _ in range(rng.randint(0, 80)))  # fmt: skip


def case(seed: int) -> str:
    rng = random.Random(seed)
    if rng.random() < 0.1:
        return random_text(rng)
    return mutate(rng, rng.choice(CORPUS))


def check(text: str) -> bool:
    """True when `text` parses (and then formats faithfully); False on a PlaybookError."""
    try:
        tree = parse(text, "fuzz.pb")
    except PlaybookError as exc:
        assert exc.diagnostics, "a PlaybookError must carry at least one diagnostic"
        for d in exc.diagnostics:
            render(d)
        return False
    out = format_file(tree)
    back = parse(out, "fuzz.pb")
    assert back == tree, "fmt changed the tree"
    assert [c.text.rstrip(" \t\f") for c in back.comments] == [c.text.rstrip(" \t\f") for c in tree.comments]
    assert format_file(back) == out, "fmt is not idempotent"
    return True


def run(first: int, count: int) -> tuple[int, int]:
    parsed = 0
    for seed in range(first, first + count):
        text = case(seed)
        try:
            parsed += check(text)
        except Exception as exc:
            raise AssertionError(f"fuzz case seed={seed} failed: {exc!r}\n--- input ---\n{text}") from exc
    return count, parsed


def test_fuzz() -> None:
    count, parsed = run(0, CASES)
    # Guard against a fuzzer that only ever produces garbage (or only valid text).
    assert 0 < parsed < count


@pytest.mark.slow
def test_fuzz_slow() -> None:
    count, parsed = run(0, SLOW_CASES)
    sys.stderr.write(f"\nfuzz: {count} cases, {parsed} parsed, {count - parsed} rejected with PlaybookError\n")
    assert 0 < parsed < count


# Hypothesis variants: their value is shrinking a failure to a small input.
FUZZ = settings(max_examples=HYPOTHESIS_CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.text())
def test_random_text(text: str) -> None:
    check(text)


@FUZZ
@given(st.sampled_from(CORPUS), st.randoms(use_true_random=False))
def test_mutated_examples(text: str, rng: random.Random) -> None:
    check(mutate(rng, text))


def test_known_crashers() -> None:
    """Inputs that once raised something other than PlaybookError."""
    crashers = [
        "segment a = x is set\r@",  # lone "\r": the error line lookup went past the end
        'quiet 22:00-08:00\r\rsegment a = "x',
        "segment a = x > " + "9" * 5000,  # int() refuses more than 4300 digits
        "segment a = x within " + "9" * 5000 + "d",
        "journey j { on a day " + "9" * 500 + ".5 at 10:00: dm x }",  # float overflow
        "journey j { on a split { " + "9" * 400 + ".5%: dm x } }",  # read as inf: fmt cannot print it back
        "segment a = x > " + "9" * 400 + ".5",
        "segment a = " + "not " * 3000 + "x is set",  # recursion in everything downstream
        "journey j { on a " + "if x is set { " * 2000 + "}" * 2000 + " }",
    ]
    for text in crashers:
        with pytest.raises(PlaybookError):
            parse(text)


def test_limits_are_generous() -> None:
    parse("segment a = x > 999999999999999.5 and " + "not " * 49 + "y is set")
    parse("segment a = " + " or ".join(["x is set"] * 2000))
