"""Reuse the parse of declarations that did not change between edits.

A file is split where a line starts a top-level declaration in column 1 — the split the
parser itself uses to report one syntax error per broken declaration (parser._chunks).
Each piece is parsed on its own, padded with newlines so its lines keep their numbers, and
remembered by (file, first line, text): an edit re-parses only the declarations it touched
(and those whose first line moved). When any piece does not parse, the whole file is parsed
as `check` parses it, so errors are exactly `check`'s.
"""

from __future__ import annotations

from playbook.diagnostics import PlaybookError
from playbook.syntax import ast as A
from playbook.syntax.parser import _chunks, parse


class ChunkCache:
    def __init__(self, limit: int = 20_000) -> None:
        self.limit = limit
        self.pieces: dict[tuple[str, int, str], A.File] = {}

    def parse(self, text: str, path: str) -> A.File:
        text_lf = text.replace("\r\n", "\n").replace("\r", "\n")
        if text_lf.startswith("\ufeff"):
            return parse(text, path)  # rare: keep the one path that knows the BOM
        seen: dict[tuple[str, int, str], A.File] = {}
        declarations: list[A.Declaration] = []
        comments: list[A.Comment] = []
        for start, chunk in _chunks(text_lf):
            key = (path, start, chunk)
            piece = self.pieces.get(key)
            if piece is None:
                try:
                    piece = parse("\n" * (start - 1) + chunk, path)
                except PlaybookError:
                    return parse(text, path)  # errors: exactly as check reports them
            seen[key] = piece
            declarations.extend(piece.declarations)
            comments.extend(piece.comments)
        if len(self.pieces) + len(seen) > self.limit:
            self.pieces.clear()
        self.pieces.update(seen)
        return A.File(path, declarations, comments, text)
