"""The language server over stdio (pygls + lsprotocol)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from lsprotocol import types as L
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path

from playbook.compiler import CompileResult, compile_files
from playbook.compiler.build import LoweringMemo
from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
from playbook.i18n import t
from playbook.lsp import assist, symbols
from playbook.lsp.counts import SegmentCounter
from playbook.lsp.incremental import ChunkCache
from playbook.lsp.model import char_column, compile_unit, parsed, text_of, unit_of, utf16_column
from playbook.syntax import ast as A
from playbook.syntax.fmt import format_source

SOURCE = "playbook"
# Edits that come closer together than this are compiled once, after the last of them
# (a paste, an undo burst, or keystrokes queued while a compile ran on a busy machine).
DEBOUNCE_S = 0.015


def uri_to_path(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


# Reads a contacts file: (its field names, its contacts as engine records). Given by the
# cli, which may import the data layer; raises PlaybookError on a bad file.
ContactsLoader = Callable[[str], tuple[set[str], list[dict[str, Any]]]]
# Reads a playbook.toml: (the fields it declares, the contacts of the store it names).
ProjectLoader = Callable[[str], tuple[set[str], list[dict[str, Any]]]]
PROJECT_FILE = "playbook.toml"


class PlaybookServer(LanguageServer):
    def __init__(
        self,
        known_fields: Iterable[str] | None = None,
        ignore: Iterable[str] = (),
        contacts: list[dict[str, Any]] | None = None,
        load_contacts: ContactsLoader | None = None,
        load_project: ProjectLoader | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__("playbook", "1")
        self.known_fields = known_fields  # a KnownFields keeps its column aliases for the compiler
        self.ignore = tuple(ignore)
        self.contacts = contacts  # sample data given (--contacts or initializationOptions)
        self.load_contacts = load_contacts
        self.load_project = load_project
        self.projects: dict[str, tuple[set[str], list[dict[str, Any]]]] = {}  # playbook.toml -> its data
        self.clock = clock
        self.counter = SegmentCounter()
        self.chunks = ChunkCache()
        self.memos: dict[str, LoweringMemo] = {}  # playbook path -> its declarations lowered last time
        self.results: dict[str, CompileResult] = {}  # playbook path -> its last compile
        self.published: dict[str, set[str]] = {}  # playbook path -> uris given diagnostics
        self.due: dict[str, float] = {}  # uri -> when its debounced refresh may run (loop time)
        self.timers: dict[str, asyncio.TimerHandle] = {}

    def data(self, path: str) -> tuple[set[str], list[dict[str, Any]]]:
        """The contact fields and sample contacts for the playbook at PATH: the contacts file
        the server was given, else what the nearest playbook.toml above PATH declares and
        names (read once). Only completion and hover use them: diagnostics stay `check`'s."""
        if self.contacts is not None:
            return set(self.known_fields or ()), self.contacts
        found = _project_file(path)
        if found is None or self.load_project is None:
            return set(), []
        if found not in self.projects:
            try:
                self.projects[found] = self.load_project(found)
            except PlaybookError as exc:
                self.projects[found] = (set(), [])
                self.window_show_message(
                    L.ShowMessageParams(L.MessageType.Warning, "\n".join(d.message for d in exc.diagnostics))
                )
        return self.projects[found]

    def schedule(self, uri: str) -> None:
        """Refresh URI once no edit of it has come for DEBOUNCE_S."""
        loop = asyncio.get_running_loop()
        self.due[uri] = loop.time() + DEBOUNCE_S
        if uri not in self.timers:
            self.timers[uri] = loop.call_later(DEBOUNCE_S, self._due, uri)

    def _due(self, uri: str) -> None:
        loop = asyncio.get_running_loop()
        left = self.due[uri] - loop.time()
        if left > 0:  # edited again meanwhile
            self.timers[uri] = loop.call_later(left, self._due, uri)
            return
        del self.timers[uri]
        try:
            self.refresh(uri)
        except Exception as exc:  # noqa: BLE001 — outside a request, the editor is told, the server goes on
            self.window_log_message(L.LogMessageParams(L.MessageType.Error, f"playbook lsp: {exc!r}"))

    def buffers(self) -> dict[str, str]:
        return {uri_to_path(uri): doc.source for uri, doc in self.workspace.text_documents.items()}

    def refresh(self, uri: str) -> None:
        """Compile the playbook URI belongs to and publish every one of its files' diagnostics
        (an empty list clears a file's old ones)."""
        buffers = self.buffers()
        path = uri_to_path(uri)
        unit = unit_of(path, buffers)
        result = compile_unit(
            unit,
            buffers,
            known_fields=self.known_fields,
            ignore=self.ignore,
            parse_text=self.chunks.parse,
            memo=self.memos.setdefault(unit.path, LoweringMemo()),
        )
        self.results[unit.path] = result
        by_file: dict[str, list[L.Diagnostic]] = {f: [] for f in unit.files}
        texts = {f.path: f.source for f in result.files}
        lines: dict[str, list[str]] = {}  # each file split once, not once per diagnostic
        for d in result.diagnostics:
            target = d.file if d.file in by_file else path
            if target not in lines:
                lines[target] = (texts.get(target) or buffers.get(target) or "").split("\n")
            by_file[target].append(to_lsp(d, lines[target]))
        uris = set()
        for file, diags in by_file.items():
            file_uri = uri if file == path else (from_fs_path(file) or file)
            uris.add(file_uri)
            doc = self.workspace.text_documents.get(file_uri)
            self.text_document_publish_diagnostics(
                L.PublishDiagnosticsParams(uri=file_uri, diagnostics=diags, version=doc.version if doc else None)
            )
        for stale in self.published.get(unit.path, set()) - uris:
            self.text_document_publish_diagnostics(L.PublishDiagnosticsParams(uri=stale, diagnostics=[]))
        self.published[unit.path] = uris

    def matches(self, uri: str, here: symbols.Occurrence, contacts: list[dict[str, Any]]) -> tuple[int, int] | None:
        """(matching, all) sample contacts now, for a segment of a playbook that compiles."""
        if here.kind != "segment" or not contacts:
            return None
        buffers = self.buffers()
        unit = unit_of(uri_to_path(uri), buffers)
        result = self.results.get(unit.path)
        if result is None or result.playbook is None:  # errors elsewhere: the segments alone
            kept = (A.Segment, A.Timezone)
            files = [A.File(f.path, [d for d in f.declarations if isinstance(d, kept)], [], f.source)
                     for f in parsed(unit, buffers)]  # fmt: skip
            result = compile_files(unit.path, files)
        if result.playbook is None or here.name.value not in result.playbook.segments:
            return None
        return self.counter.count(result.playbook, contacts, here.name.value, int(self.clock()))

    def text(self, path: str) -> str:
        return text_of(path, self.buffers())

    def files(self, uri: str) -> tuple[str, list[A.File]]:
        """URI's path and the parsed files of the playbook it belongs to."""
        buffers = self.buffers()
        path = uri_to_path(uri)
        return path, parsed(unit_of(path, buffers), buffers)

    def name_at(self, uri: str, pos: L.Position) -> tuple[list[A.File], symbols.Occurrence | None]:
        path, files = self.files(uri)
        lines = self.text(path).split("\n")
        line = lines[pos.line] if pos.line < len(lines) else ""
        return files, symbols.at(files, path, pos.line + 1, char_column(line, pos.character) + 1)

    def location(self, file: str, span: A.Span) -> L.Location:
        return L.Location(uri=self.uri(file), range=self.range(file, span))

    def uri(self, file: str) -> str:
        return from_fs_path(file) or file

    def range(self, file: str, span: A.Span) -> L.Range:
        lines = self.text(file).split("\n")

        def pos(line: int, column: int) -> L.Position:
            text = lines[line - 1] if 0 < line <= len(lines) else ""
            return L.Position(max(line - 1, 0), utf16_column(text, max(column - 1, 0)))

        return L.Range(pos(span.line, span.column), pos(span.end_line, span.end_column))


def _project_file(path: str) -> str | None:
    """The playbook.toml in PATH's folder or the nearest folder above it."""
    for folder in Path(path).resolve().parents:
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            return str(candidate)
    return None


def to_lsp(d: Diagnostic, lines: list[str]) -> L.Diagnostic:
    """`check`'s diagnostic as LSP's: 1-based line/column → 0-based, characters → UTF-16."""
    if d.line <= 0:
        start = end = L.Position(0, 0)
    else:
        text = lines[d.line - 1] if d.line <= len(lines) else ""
        col = max(d.column - 1, 0)
        end_col = d.end_column - 1 if d.end_column > d.column else col + 1
        end_col = min(end_col, max(len(text), col))
        start = L.Position(d.line - 1, utf16_column(text, col))
        end = L.Position(d.line - 1, utf16_column(text, end_col))
    message = d.message + (f"\n{d.hint}" if d.hint else "")
    return L.Diagnostic(
        range=L.Range(start, end),
        message=message,
        severity=L.DiagnosticSeverity.Error if d.severity == ERROR else L.DiagnosticSeverity.Warning,
        code=d.code or None,
        source=SOURCE,
    )


def build(
    known_fields: Iterable[str] | None = None,
    ignore: Iterable[str] = (),
    contacts: list[dict[str, Any]] | None = None,
    load_contacts: ContactsLoader | None = None,
    load_project: ProjectLoader | None = None,
    clock: Callable[[], float] = time.time,
) -> PlaybookServer:
    server = PlaybookServer(known_fields, ignore, contacts, load_contacts, load_project, clock)

    @server.feature(L.INITIALIZE)
    def initialize(ls: PlaybookServer, params: L.InitializeParams) -> None:
        """`initializationOptions: {"contacts": "data/contacts.csv"}` — sample data for
        completion, hover and unknown-field warnings (as `--contacts`)."""
        options = params.initialization_options if isinstance(params.initialization_options, dict) else {}
        contacts = options.get("contacts")
        if isinstance(contacts, str) and contacts and ls.load_contacts is not None:
            try:
                ls.known_fields, ls.contacts = ls.load_contacts(contacts)
            except PlaybookError as exc:
                ls.window_show_message(
                    L.ShowMessageParams(L.MessageType.Warning, "\n".join(d.message for d in exc.diagnostics))
                )

    @server.feature(L.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: PlaybookServer, params: L.DidOpenTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)

    @server.feature(L.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: PlaybookServer, params: L.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri)

    @server.feature(L.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: PlaybookServer, params: L.DidSaveTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)

    @server.feature(L.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: PlaybookServer, params: L.DidCloseTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)  # the file on disk now stands for it

    @server.feature(L.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: PlaybookServer, params: L.DefinitionParams) -> L.Location | None:
        files, here = ls.name_at(params.text_document.uri, params.position)
        if here is None:
            return None
        found = symbols.declaration(files, here.kind, here.name.value)
        return ls.location(found.file, found.name.span) if found else None

    @server.feature(L.TEXT_DOCUMENT_REFERENCES)
    def references(ls: PlaybookServer, params: L.ReferenceParams) -> list[L.Location]:
        files, here = ls.name_at(params.text_document.uri, params.position)
        if here is None:
            return []
        found = symbols.uses(files, here.kind, here.name.value)
        if not params.context.include_declaration:
            found = [o for o in found if o.declaration is None]
        return [ls.location(o.file, o.name.span) for o in found]

    @server.feature(L.TEXT_DOCUMENT_RENAME)
    def rename(ls: PlaybookServer, params: L.RenameParams) -> L.WorkspaceEdit | None:
        files, here = ls.name_at(params.text_document.uri, params.position)
        if here is None:
            return None
        changes: dict[str, list[L.TextEdit]] = {}
        for o in symbols.uses(files, here.kind, here.name.value):
            changes.setdefault(ls.uri(o.file), []).append(
                L.TextEdit(range=ls.range(o.file, o.name.span), new_text=params.new_name)
            )
        return L.WorkspaceEdit(changes=changes)

    @server.feature(L.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def document_symbols(ls: PlaybookServer, params: L.DocumentSymbolParams) -> list[L.DocumentSymbol]:
        path, files = ls.files(params.text_document.uri)
        lines = ls.text(path).split("\n")
        starts = sorted(d.span.line for f in files if f.path == path for d in f.declarations)
        out = []
        for o in symbols.occurrences(files):
            if o.declaration is None or o.file != path:
                continue
            # A declaration runs from its line to the last non-blank one before the next.
            first = o.declaration.span.line
            last = next((n - 1 for n in starts if n > first), len(lines))
            while last > first and not lines[last - 1].strip():
                last -= 1
            whole = A.Span(first, 1, last, len(lines[last - 1]) + 1 if last <= len(lines) else 1)
            out.append(
                L.DocumentSymbol(
                    name=o.name.value,
                    detail=o.kind,
                    kind=_SYMBOL_KINDS.get(o.kind, L.SymbolKind.Object),
                    range=ls.range(o.file, whole),
                    selection_range=ls.range(o.file, o.name.span),
                )
            )
        return out

    @server.feature(L.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: PlaybookServer, params: L.DocumentFormattingParams) -> list[L.TextEdit] | None:
        path = uri_to_path(params.text_document.uri)
        before = ls.text(path)
        try:
            after = format_source(before, path)  # what `playbook fmt` writes
        except PlaybookError:
            return None  # a file that does not parse is left as it is, as fmt does
        if after == before:
            return []
        lines = before.split("\n")
        end = L.Position(len(lines) - 1, utf16_column(lines[-1], len(lines[-1])))
        return [L.TextEdit(range=L.Range(L.Position(0, 0), end), new_text=after)]

    @server.feature(L.TEXT_DOCUMENT_COMPLETION, L.CompletionOptions(trigger_characters=["{", " "]))
    def completion(ls: PlaybookServer, params: L.CompletionParams) -> L.CompletionList:
        path, files = ls.files(params.text_document.uri)
        text = ls.text(path)
        lines = text.split("\n")
        line = lines[params.position.line] if params.position.line < len(lines) else ""
        column = char_column(line, params.position.character)
        items = assist.completions(text, params.position.line, column, files, ls.data(path)[0])
        return L.CompletionList(
            is_incomplete=False,
            items=[
                L.CompletionItem(label=i.label, kind=_COMPLETION_KINDS.get(i.kind), detail=i.detail or i.kind)
                for i in items
            ],
        )

    @server.feature(L.TEXT_DOCUMENT_HOVER)
    def hover(ls: PlaybookServer, params: L.HoverParams) -> L.Hover | None:
        files, here = ls.name_at(params.text_document.uri, params.position)
        if here is not None:
            _, contacts = ls.data(uri_to_path(params.text_document.uri))
            matches = ls.matches(params.text_document.uri, here, contacts)
            text = assist.hover(files, here, contacts[0] if contacts else None, matches)
            if text is None:
                return None
            return L.Hover(L.MarkupContent(L.MarkupKind.Markdown, text), ls.range(here.file, here.name.span))
        path = uri_to_path(params.text_document.uri)
        step = assist.step_at(files, path, params.position.line + 1)
        if step is None or step.timing is None:
            return None
        lines = ls.text(path).split("\n")
        label = assist.LABEL.match(lines[params.position.line])
        column = char_column(lines[params.position.line], params.position.character)
        if label is None or not label.start(1) <= column <= label.end(1):
            return None
        words = assist.timing_words(step.timing)
        line = params.position.line + 1
        return L.Hover(
            L.MarkupContent(L.MarkupKind.Markdown, words),
            ls.range(path, A.Span(line, label.start(1) + 1, line, label.end(1) + 1)),
        )

    @server.feature(
        L.TEXT_DOCUMENT_CODE_ACTION, L.CodeActionOptions(code_action_kinds=[L.CodeActionKind.QuickFix])
    )
    def code_actions(ls: PlaybookServer, params: L.CodeActionParams) -> list[L.CodeAction]:
        uri = params.text_document.uri
        path = uri_to_path(uri)
        out = []
        for d in params.context.diagnostics:
            name = assist.suggestion(d.message)
            if name:
                out.append(
                    L.CodeAction(
                        title=f"→ {name}",
                        kind=L.CodeActionKind.QuickFix,
                        diagnostics=[d],
                        is_preferred=True,
                        edit=L.WorkspaceEdit(changes={uri: [L.TextEdit(range=d.range, new_text=name)]}),
                    )
                )
        lines = ls.text(path).split("\n")
        for n in range(params.range.start.line, min(params.range.end.line, len(lines) - 1) + 1):
            edits = [
                L.TextEdit(
                    range=L.Range(
                        L.Position(n, utf16_column(lines[n], start)), L.Position(n, utf16_column(lines[n], end))
                    ),
                    new_text=new,
                )
                for start, end, new in assist.full_width(lines[n])
            ]
            if edits:
                out.append(
                    L.CodeAction(
                        title=t("Replace full-width punctuation with ASCII"),
                        kind=L.CodeActionKind.QuickFix,
                        edit=L.WorkspaceEdit(changes={uri: edits}),
                    )
                )
        return out

    return server


_COMPLETION_KINDS = {
    "keyword": L.CompletionItemKind.Keyword,
    "segment": L.CompletionItemKind.Class,
    "content": L.CompletionItemKind.Text,
    "group": L.CompletionItemKind.Module,
    "journey": L.CompletionItemKind.Function,
    "event": L.CompletionItemKind.Event,
    "field": L.CompletionItemKind.Field,
    "timezone": L.CompletionItemKind.Value,
}

_SYMBOL_KINDS = {
    "segment": L.SymbolKind.Class,
    "content": L.SymbolKind.String,
    "journey": L.SymbolKind.Function,
    "group": L.SymbolKind.Namespace,
    "moments": L.SymbolKind.Event,
    "rotate": L.SymbolKind.Method,
    "sla": L.SymbolKind.Property,
    "event": L.SymbolKind.Event,
}
