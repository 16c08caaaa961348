"""The language's reserved words, read off the grammar so the two never disagree."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def keywords() -> frozenset[str]:
    from playbook.syntax.parser import _parser

    words: set[str] = set()
    for terminal in _parser().terminals.values():
        pattern = terminal.pattern
        if pattern.type == "str" and str(pattern.value).isalpha():
            words.add(str(pattern.value))
        elif pattern.type == "re" and terminal.name in ("WEEKDAY", "ORDER_DIRECTION"):
            words.update(w.strip("()?:") for w in str(pattern.value).split("|"))
    return frozenset(words)
