"""The language server end to end: a real LSP client (pytest-lsp) talks to `playbook lsp`
over stdio, as an editor would."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsp_server import server_fixture  # noqa: E402
from lsprotocol import types as L  # noqa: E402
from pytest_lsp import LanguageClient  # noqa: E402

from playbook.compiler import compile_text  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

GOOD = """playbook "测试"
timezone "Asia/Shanghai"
quiet 22:00-08:00

segment 老客 = orders >= 1
content 欢迎语 = "{name|亲}，欢迎～"

journey 新客 {
  on friend_added
  after 5m: dm 欢迎语
  day 2 at 20:00:
    if in 老客 { dm 欢迎语 }
}
"""

pytestmark = pytest.mark.asyncio(loop_scope="module")


client = server_fixture("client")


async def _diagnostics(client: LanguageClient, uri: str) -> list[L.Diagnostic]:
    """The diagnostics of the next publish for URI."""
    for _ in range(20):
        await asyncio.wait_for(client.wait_for_notification(L.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), 20)
        if uri in client.diagnostics:
            return list(client.diagnostics.pop(uri))
    raise AssertionError(f"no diagnostics for {uri}")


def _open(client: LanguageClient, uri: str, text: str) -> None:
    client.text_document_did_open(
        L.DidOpenTextDocumentParams(L.TextDocumentItem(uri=uri, language_id="playbook", version=1, text=text))
    )


def _replace(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(
        L.DidChangeTextDocumentParams(
            L.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [L.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def test_typo_gives_check_diagnostic_at_its_range_and_fix_clears_it(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "新客.pb"
    path.write_text(GOOD, encoding="utf-8")
    uri = path.as_uri()
    _open(client, uri, GOOD)
    assert await _diagnostics(client, uri) == []

    typo = GOOD.replace("if in 老客", "if in 老课")
    _replace(client, uri, 2, typo)
    [d] = await _diagnostics(client, uri)
    [expected] = compile_text(typo, str(path)).diagnostics  # what `check` says
    line = typo.split("\n").index("    if in 老课 { dm 欢迎语 }")
    assert d.range == L.Range(L.Position(line, 10), L.Position(line, 12))  # 老课, in UTF-16 units
    assert (expected.line, expected.column) == (line + 1, 11)
    assert d.severity == L.DiagnosticSeverity.Error
    assert d.code == expected.code
    assert d.message.startswith(expected.message) and "老客" in d.message  # with the did-you-mean

    _replace(client, uri, 3, GOOD)
    assert await _diagnostics(client, uri) == []


async def test_a_burst_of_edits_ends_with_the_last_ones_diagnostics(client: LanguageClient, tmp_path: Path):
    """Keystrokes sent back to back (a paste, an undo burst) are debounced; what the editor
    is left with are the diagnostics of the last text, with its version."""
    path = tmp_path / "burst.pb"
    uri = path.as_uri()
    _open(client, uri, GOOD)
    assert await _diagnostics(client, uri) == []
    for version in range(2, 12):  # 老客 → 老课 typed and untyped; the last text has the typo
        _replace(client, uri, version, GOOD.replace("if in 老客", "if in 老课") if version % 2 else GOOD)
    published: list[L.PublishDiagnosticsParams] = []
    while not published or published[-1].version != 11:
        published.append(
            await asyncio.wait_for(client.wait_for_notification(L.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), 20)
        )
    [d] = published[-1].diagnostics
    assert d.code == "unknown-name" and "老课" in d.message
    assert [p.version for p in published] == sorted(p.version for p in published)  # never an older text after a newer


async def test_warnings_and_ignore_comments_as_check(client: LanguageClient, tmp_path: Path):
    text = GOOD.replace('content 欢迎语 = "{name|亲}，欢迎～"', 'content 欢迎语 = "{name|亲}，欢迎～"\ncontent 没用 = "x"')
    path = tmp_path / "warn.pb"
    uri = path.as_uri()
    _open(client, uri, text)
    got = await _diagnostics(client, uri)
    expected = compile_text(text, str(path)).diagnostics
    assert expected and [d.code for d in got] == [d.code for d in expected]
    assert all(d.severity == L.DiagnosticSeverity.Warning for d in got)
    code = expected[0].code
    silenced = text.replace('content 没用 = "x"', f'content 没用 = "x"  # ignore: {code}')
    _replace(client, uri, 2, silenced)
    assert await _diagnostics(client, uri) == []


async def test_directory_playbook_resolved_across_files(client: LanguageClient, tmp_path: Path):
    shop = tmp_path / "shop"
    shop.mkdir()
    main, contents = shop / "main.pb", shop / "contents.pb"
    main.write_text(GOOD.replace('content 欢迎语 = "{name|亲}，欢迎～"\n', ""), encoding="utf-8")
    contents.write_text('content 欢迎语 = "{name|亲}，欢迎～"\n', encoding="utf-8")
    _open(client, main.as_uri(), main.read_text(encoding="utf-8"))
    assert await _diagnostics(client, main.as_uri()) == []  # 欢迎语 is found in contents.pb
    # Renaming the content in the other file's unsaved buffer breaks main.pb's references.
    _open(client, contents.as_uri(), 'content 欢迎词 = "{name|亲}，欢迎～"\n')
    for _ in range(4):
        await asyncio.wait_for(client.wait_for_notification(L.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), 20)
        if client.diagnostics.get(main.as_uri()):
            break
    errors = client.diagnostics[main.as_uri()]
    assert errors and all(d.severity == L.DiagnosticSeverity.Error for d in errors)
    assert any("欢迎词" in d.message for d in errors)  # did you mean the new name


def _path(uri: str) -> str:
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(uri).path)


def _at(text: str, needle: str, nth: int = 0, offset: int = 0) -> L.Position:
    """The position of the NTH occurrence of NEEDLE in TEXT (all BMP characters: UTF-16 = chars)."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    index += offset
    line = text.count("\n", 0, index)
    return L.Position(line, index - (text.rfind("\n", 0, index) + 1))


@pytest.fixture
def shop(tmp_path: Path) -> tuple[Path, Path, str, str]:
    """A directory playbook: main.pb uses the content declared in contents.pb."""
    d = tmp_path / "shop"
    d.mkdir()
    main_text = GOOD.replace('content 欢迎语 = "{name|亲}，欢迎～"\n', "")
    contents_text = 'content 欢迎语 = "{name|亲}，欢迎～"\n'
    (d / "main.pb").write_text(main_text, encoding="utf-8")
    (d / "contents.pb").write_text(contents_text, encoding="utf-8")
    return d / "main.pb", d / "contents.pb", main_text, contents_text


async def test_definition_and_references_across_files(client: LanguageClient, shop):
    main, contents, main_text, contents_text = shop
    pos = _at(main_text, "dm 欢迎语", nth=1, offset=4)  # inside the second use
    found = await client.text_document_definition_async(
        L.DefinitionParams(L.TextDocumentIdentifier(main.as_uri()), pos)
    )
    assert _path(found.uri) == str(contents)
    assert found.range == L.Range(_at(contents_text, "欢迎语"), _at(contents_text, "欢迎语", offset=3))

    refs = await client.text_document_references_async(
        L.ReferenceParams(
            context=L.ReferenceContext(include_declaration=True),
            text_document=L.TextDocumentIdentifier(main.as_uri()),
            position=pos,
        )
    )
    got = sorted((_path(r.uri), r.range.start.line, r.range.start.character) for r in refs)
    uses = [_at(main_text, "dm 欢迎语", nth=i, offset=3) for i in range(2)]
    assert got == sorted([(str(contents), 0, 8)] + [(str(main), p.line, p.character) for p in uses])

    segment = await client.text_document_definition_async(
        L.DefinitionParams(L.TextDocumentIdentifier(main.as_uri()), _at(main_text, "in 老客", offset=4))
    )
    assert segment.range.start == _at(main_text, "老客")  # the segment's declaration

    nothing = await client.text_document_definition_async(
        L.DefinitionParams(L.TextDocumentIdentifier(main.as_uri()), _at(main_text, "timezone"))
    )
    assert nothing is None


async def test_rename_across_files_compiles(client: LanguageClient, shop):
    main, contents, main_text, contents_text = shop
    edit = await client.text_document_rename_async(
        L.RenameParams(text_document=L.TextDocumentIdentifier(contents.as_uri()), position=L.Position(0, 9), new_name="问候")
    )
    texts = {str(main): main_text, str(contents): contents_text}
    assert {_path(u) for u in edit.changes} == set(texts)
    for uri, edits in edit.changes.items():
        lines = texts[_path(uri)].split("\n")
        for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
            line = lines[e.range.start.line]
            lines[e.range.start.line] = line[: e.range.start.character] + e.new_text + line[e.range.end.character :]
        texts[_path(uri)] = "\n".join(lines)
    assert "欢迎语" not in "".join(texts.values())
    assert texts[str(main)].count("dm 问候") == 2
    from playbook.compiler import compile_sources

    assert compile_sources(str(main.parent), sorted(texts.items())).ok


async def test_document_symbols_outline(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "outline.pb"
    path.write_text(GOOD, encoding="utf-8")
    got = await client.text_document_document_symbol_async(
        L.DocumentSymbolParams(L.TextDocumentIdentifier(path.as_uri()))
    )
    assert [(s.name, s.detail) for s in got] == [("老客", "segment"), ("欢迎语", "content"), ("新客", "journey")]
    journey = got[2]
    assert journey.selection_range.start == _at(GOOD, "新客 {")
    assert journey.range.start.line == journey.selection_range.start.line and journey.range.end.line > journey.range.start.line


async def test_formatting_equals_fmt(client: LanguageClient, tmp_path: Path):
    from playbook.syntax.fmt import format_source

    messy = GOOD.replace("segment 老客 = orders >= 1", "segment   老客=orders>=1").replace("  after 5m: dm", "after 5m:  dm")
    path = tmp_path / "messy.pb"
    path.write_text(messy, encoding="utf-8")
    _open(client, path.as_uri(), messy)
    await _diagnostics(client, path.as_uri())
    [edit] = await client.text_document_formatting_async(
        L.DocumentFormattingParams(
            text_document=L.TextDocumentIdentifier(path.as_uri()), options=L.FormattingOptions(2, True)
        )
    )
    assert edit.range.start == L.Position(0, 0)
    assert edit.new_text == format_source(messy, str(path)) != messy
    broken = messy + "\njourney {\n"
    _replace(client, path.as_uri(), 2, broken)
    await _diagnostics(client, path.as_uri())
    assert not await client.text_document_formatting_async(
        L.DocumentFormattingParams(
            text_document=L.TextDocumentIdentifier(path.as_uri()), options=L.FormattingOptions(2, True)
        )
    )



zh_client = server_fixture("zh_client", "--lang", "zh")


async def test_messages_in_the_lang_language(zh_client: LanguageClient, tmp_path: Path):
    from playbook.i18n import set_language

    typo = GOOD.replace("if in 老客", "if in 老课")
    path = tmp_path / "zh.pb"
    _open(zh_client, path.as_uri(), typo)
    [d] = await _diagnostics(zh_client, path.as_uri())
    set_language("zh")
    try:
        [expected] = compile_text(typo, str(path)).diagnostics
    finally:
        set_language(None)
    assert d.message.startswith(expected.message) and "你是不是想写 '老客'" in d.message
