"""Compile playbooks: PATH (a .pb file, or a directory of them forming one playbook) → IR.

result = compile_path("playbooks/new_customer.pb")
result.playbook   # ir.Playbook, or None when there are errors
result.diagnostics
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
from playbook.i18n import t
from playbook.syntax import ast as A
from playbook.syntax.parser import parse, parse_file

if TYPE_CHECKING:
    from playbook.compiler.build import LoweringMemo

_IGNORE = re.compile(r"#\s*ignore\s*:\s*([\w\-, ]+)")


@dataclass
class CompileResult:
    path: str
    doc: dict[str, Any] | None  # the IR in its canonical plain-data form; None on errors
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: list[A.File] = field(default_factory=list)
    _typed: Any = field(default=None, repr=False)

    @property
    def version(self) -> str | None:
        return self.doc["version"] if self.doc else None

    @property
    def playbook(self) -> Any:  # ir.Playbook | None — imported lazily (pydantic is slow to import)
        if self.doc is None:
            return None
        if self._typed is None:
            from playbook.compiler.ir import load

            self._typed = load(self.doc)
        return self._typed

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


def playbook_files(path: str | Path) -> list[Path]:
    """The .pb files that make up the playbook at PATH (a file, or a directory's .pb files)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.pb"))
        if not files:
            raise PlaybookError([Diagnostic(ERROR, "io", t("this directory has no .pb files"), file=str(path))])
        return files
    if not p.exists():
        raise PlaybookError([Diagnostic(ERROR, "io", t("no such file or directory"), file=str(path))])
    return [p]


def load_playbooks(
    paths: Iterable[str | Path], *, with_warnings: bool = False,
    known_accounts: Iterable[Mapping[str, Any]] | None = None,
) -> list[CompileResult]:  # fmt: skip
    """Compile every playbook to plan or run it: the results, or a PlaybookError with the errors
    of those that do not compile (`with_warnings`: also their warnings, as the daemon reports a
    file it cannot load; `known_accounts`: the staff accounts their SLAs may escalate to)."""
    known = None if known_accounts is None else list(known_accounts)
    results = [compile_path(p, known_accounts=known) for p in paths]
    failed = [d for r in results if not r.ok for d in (r.diagnostics if with_warnings else r.errors)]
    if failed:
        raise PlaybookError(failed)
    return results


def compile_path(
    path: str | Path, *, known_fields: Iterable[str] | None = None, ignore: Iterable[str] = (),
    known_accounts: Iterable[Mapping[str, Any]] | None = None,
) -> CompileResult:
    try:
        paths = playbook_files(path)
    except PlaybookError as exc:
        return CompileResult(str(path), None, exc.diagnostics)
    files: list[A.File] = []
    diagnostics: list[Diagnostic] = []
    for p in paths:
        try:
            files.append(parse_file(p))
        except PlaybookError as exc:
            diagnostics.extend(exc.diagnostics)
    name = Path(path).stem if Path(path).is_file() else Path(path).resolve().name
    return _compile(str(path), name, files, diagnostics, known_fields, ignore, known_accounts)


def compile_text(
    text: str, path: str = "<input>", *, known_fields: Iterable[str] | None = None, ignore: Iterable[str] = (),
    known_accounts: Iterable[Mapping[str, Any]] | None = None,
) -> CompileResult:
    """Compile one file's text (tests, benchmarks, editors)."""
    try:
        files = [parse(text, path)]
        diagnostics: list[Diagnostic] = []
    except PlaybookError as exc:
        files, diagnostics = [], exc.diagnostics
    return _compile(path, Path(path).stem, files, diagnostics, known_fields, ignore, known_accounts)


def compile_sources(
    path: str,
    sources: list[tuple[str, str]],
    *,
    known_fields: Iterable[str] | None = None,
    ignore: Iterable[str] = (),
    parse_text: Callable[[str, str], A.File] = parse,
    memo: LoweringMemo | None = None,
) -> CompileResult:
    """Compile one playbook given as (file path, text) pairs — a directory's files with some
    of them taken from an editor's unsaved buffers (the language server, which passes a
    `parse_text` that reuses unchanged declarations and a `memo` that reuses their lowering)."""
    files: list[A.File] = []
    diagnostics: list[Diagnostic] = []
    for file_path, text in sources:
        try:
            files.append(parse_text(text, file_path))
        except PlaybookError as exc:
            diagnostics.extend(exc.diagnostics)
    p = Path(path)
    name = p.resolve().name if len(sources) > 1 or p.is_dir() else p.stem
    return _compile(path, name, files, diagnostics, known_fields, ignore, memo=memo)


def compile_files(path: str, files: list[A.File], *, known_fields: Iterable[str] | None = None) -> CompileResult:
    """Compile syntax trees already parsed (the language server compiles a playbook's segments
    alone this way, to count who matches one while the rest has errors)."""
    return _compile(path, Path(path).stem, files, [], known_fields, ())


def _compile(
    path: str,
    name: str,
    files: list[A.File],
    diagnostics: list[Diagnostic],
    known_fields: Iterable[str] | None,
    ignore: Iterable[str],
    known_accounts: Iterable[Mapping[str, Any]] | None = None,
    memo: LoweringMemo | None = None,
) -> CompileResult:
    from playbook.compiler.build import build

    if diagnostics:  # syntax errors: checking the rest would only add noise
        return CompileResult(path, None, sorted(diagnostics, key=Diagnostic.sort_key), files)
    pb, found = build(name, files, known_fields, known_accounts, memo)
    kept = suppress(found, files, set(ignore))
    return CompileResult(path, pb, sorted(kept, key=Diagnostic.sort_key), files)


def suppress(diagnostics: list[Diagnostic], files: list[A.File], ignore: set[str]) -> list[Diagnostic]:
    """Drop warnings silenced by --ignore or by `# ignore: CODE` on their line or their
    declaration's first line."""
    silenced: dict[tuple[str, int], set[str]] = {}
    decl_line: dict[str, list[tuple[int, int]]] = {}
    for f in files:
        for c in f.comments:
            m = _IGNORE.search(c.text)
            if m:
                codes = {x.strip() for x in m.group(1).replace(",", " ").split()}
                silenced.setdefault((f.path, c.line), set()).update(codes)
        spans = []
        for i, d in enumerate(f.declarations):
            end = f.declarations[i + 1].span.line - 1 if i + 1 < len(f.declarations) else 10**9
            spans.append((_first_line(d), end))
        decl_line[f.path] = spans
    kept = []
    for d in diagnostics:
        if not d.is_error:
            if d.code in ignore:
                continue
            lines = {d.line}
            for start, end in decl_line.get(d.file, []):
                if start <= d.line <= end:
                    lines.add(start)
            if any(d.code in silenced.get((d.file, line), ()) for line in lines):
                continue
        kept.append(d)
    return kept


def _first_line(d: A.Declaration) -> int:
    return d.span.line
