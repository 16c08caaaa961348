"""Completion at a dozen cursor positions, hover texts and quick fixes, through a real LSP
client over stdio, with sample contacts given as an initialization option."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsp_server import ENV, server_fixture  # noqa: E402
from lsprotocol import types as L  # noqa: E402
from pytest_lsp import LanguageClient  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONTACTS = ROOT / "playbooks" / "contacts.csv"

TEXT = """playbook "测试"
timezone "Asia/Shanghai"
quiet 22:00-08:00

segment 老客 = orders >= 1
segment 上海 = city == "上海"
content 欢迎语 = "{name|亲}，欢迎～来自{city|远方}的朋友"
group 福利群 {
  name "福利群"
  invite 欢迎语
}

journey 新客 {
  on friend_added
  after 5m: dm 欢迎语
  day 3 at 20:00:
    if in 老客 { dm 欢迎语 }
  wait for purchase up to 2d
  at 10:00: invite 福利群
}
"""

pytestmark = pytest.mark.asyncio(loop_scope="module")


client = server_fixture("client", options={"contacts": str(CONTACTS)})


@pytest.fixture(scope="module")
def doc(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("assist") / "新客.pb"
    path.write_text(TEXT, encoding="utf-8")
    return path


def _pos(text: str, needle: str, after: str = "") -> L.Position:
    """The position just after AFTER within the first line containing NEEDLE."""
    for n, line in enumerate(text.split("\n")):
        if needle in line:
            return L.Position(n, line.index(needle) + len(after) if after else line.index(needle))
    raise AssertionError(needle)


async def _complete(client: LanguageClient, path: Path, text: str, position: L.Position) -> set[str]:
    uri = path.as_uri()
    client.text_document_did_open(L.DidOpenTextDocumentParams(L.TextDocumentItem(uri, "playbook", 1, text)))
    got = await client.text_document_completion_async(
        L.CompletionParams(text_document=L.TextDocumentIdentifier(uri), position=position)
    )
    client.text_document_did_close(L.DidCloseTextDocumentParams(L.TextDocumentIdentifier(uri)))
    return {i.label for i in got.items}


async def _with_blank(client, tmp_path, line_from: str, line_to: str) -> set[str]:
    """Completion at the end of LINE_TO, written in place of LINE_FROM."""
    text = TEXT.replace(line_from, line_to, 1)
    return await _complete(client, tmp_path / "edit.pb", text, _pos(text, line_to, line_to))


async def test_names_after_their_keywords(client: LanguageClient, doc: Path):
    assert await _complete(client, doc, TEXT, _pos(TEXT, "dm 欢迎语", "dm ")) == {"欢迎语"}  # content
    # segments, and `group` for `in group G` (docs/language.md §7.2)
    assert await _complete(client, doc, TEXT, _pos(TEXT, "in 老客", "in ")) == {"老客", "上海", "group"}
    assert await _complete(client, doc, TEXT, _pos(TEXT, "invite 福利群", "invite ")) == {"福利群"}  # group
    assert await _complete(client, doc, TEXT, _pos(TEXT, "  invite 欢迎语", "  invite ")) == {"欢迎语"}  # in a group: content
    events = await _complete(client, doc, TEXT, _pos(TEXT, "on friend_added", "on "))
    assert {"friend_added", "purchase", "加好友", "enter"} <= events  # events and `on enter`
    waits = await _complete(client, doc, TEXT, _pos(TEXT, "wait for purchase", "wait for "))
    assert "purchase" in waits and "老客" not in waits


async def test_group_names_after_in_group(client: LanguageClient, tmp_path: Path):
    text = TEXT.replace("in 老客", "in group 福利群", 1)
    found = await _complete(client, tmp_path / "edit.pb", text, _pos(text, "in group 福利群", "in group "))
    assert found == {"福利群"}


async def test_keywords_from_the_parser(client: LanguageClient, doc: Path, tmp_path: Path):
    top = await _complete(client, doc, TEXT, L.Position(len(TEXT.split("\n")) - 1, 0))  # after the journey
    assert {"segment", "content", "journey", "group", "quiet", "limit"} <= top and "dm" not in top
    after_timing = await _with_blank(client, tmp_path, "  after 5m: dm 欢迎语", "  after 5m: ")
    assert {"dm", "task", "wait", "if", "split", "exit"} <= after_timing and "segment" not in after_timing
    condition = await _with_blank(client, tmp_path, "segment 老客 = orders >= 1", "segment 老客 = ")
    assert {"in", "not", "tag"} <= condition and {"orders", "city", "favourite"} <= condition  # sample fields
    assert "journey" not in condition
    text = TEXT.replace("  on friend_added", "  on friend_added\n  exi")
    partial = await _complete(client, tmp_path / "edit.pb", text, _pos(text, "  exi", "  exi"))
    assert "exit" in partial  # the word being typed is not part of what the parser reads


async def test_placeholders_inside_strings(client: LanguageClient, doc: Path, tmp_path: Path):
    fields = await _complete(client, doc, TEXT, _pos(TEXT, "{name|亲}", "{"))
    assert {"name", "city", "favourite", "spent"} <= fields and "dm" not in fields
    typed = await _with_blank(client, tmp_path, '  name "福利群"', '  name "欢迎{ci')
    assert "city" in typed
    zones = await _complete(client, doc, TEXT, _pos(TEXT, 'timezone "Asia', 'timezone "'))
    assert {"Asia/Shanghai", "Asia/Hong_Kong", "Europe/London"} <= zones and "name" not in zones


async def test_hover_content_segment_and_timing(client: LanguageClient, doc: Path):
    uri = doc.as_uri()

    async def hover(position: L.Position) -> str | None:
        got = await client.text_document_hover_async(L.HoverParams(L.TextDocumentIdentifier(uri), position))
        return got.contents.value if got else None

    content = await hover(_pos(TEXT, "dm 欢迎语", "dm 欢"))
    # The sample contact is the first of contacts.csv: 阿四 from 上海.
    assert "阿四，欢迎～来自上海的朋友" in content and "c01" in content
    segment = await hover(_pos(TEXT, "in 老客", "in 老"))
    assert "segment 老客 = orders >= 1" in segment
    # How many of the sample contacts match, counted here from the file itself.
    with CONTACTS.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    buyers = sum(1 for r in rows if r["orders"] and float(r["orders"]) >= 1)
    assert 0 < buyers < len(rows)
    assert segment.endswith(f"{buyers} of the {len(rows)} sample contacts match now")
    local = await hover(_pos(TEXT, "segment 上海", "segment 上"))
    assert local.endswith(f"{sum(r['city'] == '上海' for r in rows)} of the {len(rows)} sample contacts match now")
    assert await hover(_pos(TEXT, "day 3 at 20:00", "day")) == "3 days after the day of entry, 20:00 local"
    assert await hover(_pos(TEXT, "after 5m", "af")) == "5m after the previous step"
    assert await hover(_pos(TEXT, "timezone")) is None


async def test_quick_fixes_did_you_mean_and_full_width(client: LanguageClient, tmp_path: Path):
    text = TEXT.replace("if in 老客", "if in 老课").replace("after 5m: dm", "after 5m： dm")
    path = tmp_path / "fix.pb"
    uri = path.as_uri()
    client.text_document_did_open(L.DidOpenTextDocumentParams(L.TextDocumentItem(uri, "playbook", 1, text)))
    for _ in range(10):
        await client.wait_for_notification(L.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if client.diagnostics.get(uri):
            break
    [diagnostic] = [d for d in client.diagnostics[uri] if "老课" in d.message]
    actions = await client.text_document_code_action_async(
        L.CodeActionParams(
            text_document=L.TextDocumentIdentifier(uri),
            range=diagnostic.range,
            context=L.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    [fix] = [a for a in actions if a.diagnostics]
    [edit] = fix.edit.changes[uri]
    assert (edit.range, edit.new_text) == (diagnostic.range, "老客")

    line = _pos(text, "after 5m：").line
    actions = await client.text_document_code_action_async(
        L.CodeActionParams(
            text_document=L.TextDocumentIdentifier(uri),
            range=L.Range(L.Position(line, 0), L.Position(line, 0)),
            context=L.CodeActionContext(diagnostics=[]),
        )
    )
    [edit] = actions[0].edit.changes[uri]
    assert edit.new_text == ":" and edit.range.start == _pos(text, "：")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A folder as the daemon runs it: playbook.toml declaring a column's field and naming a
    store, the store filled by `playbook import` from the sample contacts."""
    import subprocess

    folder = tmp_path_factory.mktemp("project")
    (folder / "playbook.toml").write_text(
        '[store]\nurl = "sqlite:///shop.db"\n\n[columns]\n"会员等级" = "level"\n', encoding="utf-8"
    )
    done = subprocess.run(
        [sys.executable, "-m", "playbook", "import", str(CONTACTS), "--db", f"sqlite:///{folder / 'shop.db'}"],
        cwd=folder, env=ENV, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (folder / "shop.pb").write_text(TEXT, encoding="utf-8")
    return folder


# A server given no contacts: it finds playbook.toml above the file it is asked about.
plain_client = server_fixture("plain_client")


async def test_fields_and_counts_from_playbook_toml(plain_client: LanguageClient, project: Path):
    doc = project / "shop.pb"
    condition = await _complete(plain_client, doc, TEXT, _pos(TEXT, "segment 老客 = orders", "segment 老客 = "))
    assert "level" in condition  # declared by [columns]
    assert {"city", "favourite", "source"} <= condition  # the fields of the store's contacts
    got = await plain_client.text_document_hover_async(
        L.HoverParams(L.TextDocumentIdentifier(doc.as_uri()), _pos(TEXT, "segment 上海", "segment 上"))
    )
    with CONTACTS.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert got.contents.value.endswith(
        f"{sum(r['city'] == '上海' for r in rows)} of the {len(rows)} sample contacts match now"
    )


async def test_no_playbook_toml_no_sample_fields(plain_client: LanguageClient, tmp_path: Path):
    doc = tmp_path / "alone.pb"
    doc.write_text(TEXT, encoding="utf-8")
    condition = await _complete(plain_client, doc, TEXT, _pos(TEXT, "segment 老客 = orders", "segment 老客 = "))
    assert "orders" in condition and "city" not in condition  # built-in fields only
    got = await plain_client.text_document_hover_async(
        L.HoverParams(L.TextDocumentIdentifier(doc.as_uri()), _pos(TEXT, "segment 上海", "segment 上"))
    )
    assert "sample contacts" not in got.contents.value
