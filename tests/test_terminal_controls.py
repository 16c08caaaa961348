"""Control characters in data values are shown, never obeyed, on every terminal output
(issue 19, item 6): `plan --contact`, `explain`, `status`, `report`, the console adapter,
the daemon's log and the plain lines of `playbook event` — all through one function,
`textsafe.escape_controls`, where rich writes text (`SafeConsole`) and in `say`."""

from __future__ import annotations

import datetime as dt
import io
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.text import Text

from playbook.cli.main import cli
from playbook.compiler import compile_path, ir
from playbook.runtime.rows import Journal, Settlement, TouchRow
from playbook.runtime.store import Store
from playbook.textsafe import escape_controls, safe_console

ROOT = Path(__file__).resolve().parents[1]
CLEAR = "\x1b[2J"  # clear the screen
TITLE = "\x1b]0;pwned\x07"  # set the window title
CSI = "\x9b2J"  # the same, as a C1 control
RLO = "\u202e"  # right-to-left override
EVIL = f"Bob{CLEAR}{TITLE}{CSI}{RLO}gpj.exe"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def shown(text: str) -> None:
    """No raw control in `text`, and the data's escape sequence visible as written."""
    for raw in RAW:
        assert raw not in text, repr(text)
    # (rich drops BEL, backspace and carriage returns itself: with or without the \x07)
    assert "Bob\\x1b[2J\\x1b]0;pwned" in text and "\\x9b2J\\u202egpj.exe" in text, text


def test_escape_controls() -> None:
    assert escape_controls(EVIL) == "Bob\\x1b[2J\\x1b]0;pwned\\x07\\x9b2J\\u202egpj.exe"
    assert escape_controls("第一行\n\t第二行 ✓") == "第一行\n\t第二行 ✓"  # newlines, tabs and text stay
    assert escape_controls("\x00\x7f\r") == "\\x00\\x7f\\x0d"
    assert escape_controls(escape_controls(EVIL)) == escape_controls(EVIL)  # escaping twice changes nothing


def test_a_terminal_keeps_its_colours_and_loses_the_datas_controls() -> None:
    out = io.StringIO()
    console = safe_console(file=out, force_terminal=True, color_system="standard", width=200)
    console.print(Text.assemble(("name: ", "bold"), EVIL))
    text = out.getvalue()
    assert "\x1b[1m" in text  # rich's own styling still goes out
    assert CLEAR not in text and TITLE not in text and "\\x1b[2J" in text


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_plan_contact_timeline(tmp_path: Path) -> None:
    contacts = _write(tmp_path / "contacts.csv", f"id,name,account,added_at\nc1,{EVIL},a1,2026-12-01T09:00:00+08:00\n")
    events = _write(tmp_path / "events.jsonl", '{"type": "message", "contact": "c1", "at": "2026-12-01T10:00:00+08:00", '
                    f'"text": "{EVIL.encode("unicode_escape").decode()}"}}\n')  # fmt: skip
    result = CliRunner().invoke(cli, ["plan", str(ROOT / "playbooks" / "new_customer.pb"), "--contacts", str(contacts),
                                      "--events", str(events), "--start", "2026-12-01 00:00", "--days", "2",
                                      "--contact", "c1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    shown(result.stdout)  # the contact's name, at the head of the timeline
    for fmt in ("html", "text"):  # recorded and exported: --format html to stdout, --out FILE
        out = tmp_path / f"plan.{fmt}"
        extra = ["--format", "html"] if fmt == "html" else ["--out", str(out)]
        result = CliRunner().invoke(cli, ["plan", str(ROOT / "playbooks" / "new_customer.pb"), "--contacts",
                                          str(contacts), "--start", "2026-12-01 00:00", "--days", "2", "--contact",
                                          "c1", *extra])  # fmt: skip
        assert result.exit_code == 0, result.output
        shown(result.stdout if fmt == "html" else out.read_text(encoding="utf-8"))


@pytest.fixture
def filled(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    pb = compile_path(ROOT / "playbooks" / "new_customer.pb").playbook
    assert pb is not None
    t0 = 1796086800
    with Store(url, now=lambda: dt.datetime.fromtimestamp(t0 + 60, dt.UTC)) as store:
        store.migrate()
        store.save_version(ir.to_doc(pb))
        store.activate_version(pb.version)
        touch = TouchRow(key="k1", version=pb.version, flow="新客培育", step="after 5m: dm 欢迎语", channel="dm",
                         due=t0, state="pending", account="a1", contact="c1", at=t0, content="欢迎语", text=EVIL,
                         outcome="ok", reason="", next_attempt_at=t0)  # fmt: skip
        store.write(Journal(accounts=[{"id": "a1", "name": EVIL}], contacts=[{"id": "c1", "name": EVIL,
                            "account": "a1"}], touches=[touch]))  # fmt: skip
        assert store.transition(["k1"], "pending", "sending", owner="p1") == ["k1"]
        assert store.settle([Settlement("k1", "dead", f"the platform said {EVIL}", adapter="jsonl")], "p1") == []
    return url


@pytest.mark.parametrize(
    "args",
    [["explain", "--contact", "c1"], ["status"], ["report", "--since", "2026-11-01"]],
    ids=["explain", "status", "report"],
)
def test_store_commands(filled: str, args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, "--db", filled], env={"COLUMNS": "300"})  # no cell wrapped
    assert result.exit_code == 0, result.output
    shown(result.stdout)  # explain: the contact's name; status: the dead touch's error; report: the account's name


def test_the_console_adapter(capsys: pytest.CaptureFixture[str]) -> None:
    from playbook.adapters.base import Delivery
    from playbook.adapters.console import ConsoleAdapter

    adapter = ConsoleAdapter()
    delivery = Delivery(key="pb-1/新客培育/c1/n1/0", version="pb-1", flow="新客培育", step="after 5m: dm 欢迎语",
                        channel="dm", account="a1", contact=EVIL, group=None, audience=None, content="欢迎语",
                        text=EVIL, parts=None, at=1_796_083_200, due=1_796_083_200, attempt=1)  # fmt: skip
    adapter.send([delivery])
    shown(capsys.readouterr().out)


def test_playbook_event_and_the_daemon_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = str(tmp_path / "s.db")
    result = CliRunner().invoke(cli, ["event", "message", "--contact", EVIL, "--db", db])
    assert result.exit_code == 0, result.output
    shown(result.stdout)
    out = io.StringIO()
    from rich.logging import RichHandler

    from playbook.cli.common import console

    err = console(stderr=True)
    err.file = out
    logger = logging.getLogger("playbook.test-controls")
    logger.addHandler(RichHandler(console=err, show_path=False))
    logger.warning("event for contact %s refused", EVIL)
    shown(out.getvalue())
