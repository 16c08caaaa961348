"""What the server knows, without the protocol: which files form one playbook, and the
compiler's diagnostics for them (with unsaved editor text taking the place of the disk's)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from playbook.compiler import CompileResult, compile_sources
from playbook.compiler.build import LoweringMemo
from playbook.diagnostics import PlaybookError
from playbook.syntax import ast as A
from playbook.syntax.parser import parse
from playbook.syntax.source import read_source

_HEADER = re.compile(r'^playbook\s+["“]', re.MULTILINE)


@dataclass(frozen=True)
class Unit:
    """One playbook: its path as `check` would be given it, and its files."""

    path: str
    files: tuple[str, ...]


def unit_of(file: str, buffers: Mapping[str, str]) -> Unit:
    """The playbook FILE belongs to. A directory's .pb files are one playbook (LANGUAGE.md §2)
    unless more than one of them names itself with a `playbook "…"` header — then they are
    playbooks side by side (like playbooks/), each file its own."""
    p = Path(file)
    siblings = sorted({str(x) for x in p.parent.glob("*.pb")} | {file})
    if len(siblings) < 2:
        return Unit(file, (file,))
    headed = sum(1 for s in siblings if _HEADER.search(text_of(s, buffers)))
    if headed > 1:
        return Unit(file, (file,))
    return Unit(str(p.parent), tuple(siblings))


def text_of(path: str, buffers: Mapping[str, str]) -> str:
    """A file's text: the editor's unsaved buffer, else the file ("" if unreadable)."""
    if path in buffers:
        return buffers[path]
    try:
        return read_source(path)
    except PlaybookError:
        return ""


def compile_unit(
    unit: Unit,
    buffers: Mapping[str, str],
    *,
    known_fields: Iterable[str] | None = None,
    ignore: Iterable[str] = (),
    parse_text: Callable[[str, str], A.File] = parse,
    memo: LoweringMemo | None = None,
) -> CompileResult:
    """Compile UNIT with open buffers in place of their files."""
    sources = [(f, text_of(f, buffers)) for f in unit.files]
    return compile_sources(
        unit.path, sources, known_fields=known_fields, ignore=ignore, parse_text=parse_text, memo=memo
    )


def utf16_column(line: str, column: int) -> int:
    """A 0-based character index → LSP's default UTF-16 code units."""
    return len(line[:column].encode("utf-16-le")) // 2


def char_column(line: str, units: int) -> int:
    """LSP's UTF-16 code units → a 0-based character index."""
    count = 0
    for i, ch in enumerate(line):
        if count >= units:
            return i
        count += 2 if ord(ch) > 0xFFFF else 1
    return len(line)


def parsed(unit: Unit, buffers: Mapping[str, str]) -> list[A.File]:
    """The syntax trees of UNIT's files that parse (a file with a syntax error is left out)."""
    out = []
    for f in unit.files:
        try:
            out.append(parse(text_of(f, buffers), f))
        except PlaybookError:
            continue
    return out
