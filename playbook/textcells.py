"""Text laid out in terminal cells: Chinese characters take two cells, and a line of
Chinese may break between any two characters (there are no spaces to break at).

Used by the help screens (click's own wrapping counts characters, so a Chinese help line
came out twice as wide as the screen) and by the tables of plan, report, status and
explain, which must fit an 80-column terminal by wrapping rather than cutting.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WIDE = "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f"
# What may not break away from its neighbour: opening brackets stay with what follows,
# closing punctuation with what precedes.
_OPENING = "\\[(（「『【《“‘"
_CLOSING = "，。、；：？！）」』】》”’,.;:?!)\\]"
# A piece is a run of spaces, or one wide character or one run of other characters, with
# any opening brackets before it and closing punctuation after it.
_PIECES = rf"\s+|[{_OPENING}]*(?:[{_WIDE}]|[^\s{_WIDE}]+?(?=[\s{_WIDE}{_OPENING}]|$))[{_CLOSING}]*"


@lru_cache(maxsize=1)
def _pieces() -> re.Pattern[str]:  # compiled when first needed: `playbook check` starts without it
    return re.compile(_PIECES)


def cell_width(text: str) -> int:
    """Width on a terminal: East Asian wide and full-width characters take two cells."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def wrap_cells(text: str, width: int) -> list[str]:
    """`text` broken into lines of at most `width` cells: at spaces, or between two
    Chinese characters; a word longer than a line is split. Never returns an empty list."""
    width = max(width, 2)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line, used = "", 0
        for piece in _pieces().findall(paragraph):
            if piece.isspace():
                if line:
                    line, used = line + piece, used + len(piece)
                continue
            w = cell_width(piece)
            if used + w > width and line.strip():
                lines.append(line.rstrip())
                line, used = "", 0
            while w > width:  # a word longer than the line: split it
                cut, cells = 0, 0
                while cut < len(piece) and cells + cell_width(piece[cut]) <= width - used:
                    cells += cell_width(piece[cut])
                    cut += 1
                cut = max(cut, 1)
                lines.append(line + piece[:cut])
                piece, line, used = piece[cut:], "", 0
                w = cell_width(piece)
            line, used = line + piece, used + w
        lines.append(line.rstrip())
    return lines


def pad_cells(text: str, width: int) -> str:
    """`text` followed by spaces up to `width` cells."""
    return text + " " * max(width - cell_width(text), 0)
