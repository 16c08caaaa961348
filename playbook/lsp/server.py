"""The language server over stdio (pygls + lsprotocol)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote, urlparse

from lsprotocol import types as L
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path

from playbook.diagnostics import ERROR, Diagnostic
from playbook.lsp.model import compile_unit, unit_of, utf16_column

SOURCE = "playbook"


def uri_to_path(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


class PlaybookServer(LanguageServer):
    def __init__(self, known_fields: Iterable[str] | None = None, ignore: Iterable[str] = ()) -> None:
        super().__init__("playbook", "1")
        self.known_fields = set(known_fields) if known_fields is not None else None
        self.ignore = tuple(ignore)
        self.published: dict[str, set[str]] = {}  # playbook path -> uris given diagnostics

    def buffers(self) -> dict[str, str]:
        return {uri_to_path(uri): doc.source for uri, doc in self.workspace.text_documents.items()}

    def refresh(self, uri: str) -> None:
        """Compile the playbook URI belongs to and publish every one of its files' diagnostics
        (an empty list clears a file's old ones)."""
        buffers = self.buffers()
        path = uri_to_path(uri)
        unit = unit_of(path, buffers)
        result = compile_unit(unit, buffers, known_fields=self.known_fields, ignore=self.ignore)
        by_file: dict[str, list[L.Diagnostic]] = {f: [] for f in unit.files}
        texts = {f.path: f.source for f in result.files}
        for d in result.diagnostics:
            target = d.file if d.file in by_file else path
            lines = (texts.get(target) or buffers.get(target) or "").split("\n")
            by_file[target].append(to_lsp(d, lines))
        uris = set()
        for file, diags in by_file.items():
            file_uri = uri if file == path else (from_fs_path(file) or file)
            uris.add(file_uri)
            self.text_document_publish_diagnostics(L.PublishDiagnosticsParams(uri=file_uri, diagnostics=diags))
        for stale in self.published.get(unit.path, set()) - uris:
            self.text_document_publish_diagnostics(L.PublishDiagnosticsParams(uri=stale, diagnostics=[]))
        self.published[unit.path] = uris


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


def build(known_fields: Iterable[str] | None = None, ignore: Iterable[str] = ()) -> PlaybookServer:
    server = PlaybookServer(known_fields, ignore)

    @server.feature(L.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: PlaybookServer, params: L.DidOpenTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)

    @server.feature(L.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: PlaybookServer, params: L.DidChangeTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)

    @server.feature(L.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: PlaybookServer, params: L.DidSaveTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)

    @server.feature(L.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: PlaybookServer, params: L.DidCloseTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)  # the file on disk now stands for it

    return server
