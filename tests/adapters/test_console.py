"""The console adapter prints each delivery and reports it sent."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO

import pytest
from rich.console import Console

from playbook.adapters.base import SENT, Delivery, Result
from playbook.adapters.console import ConsoleAdapter
from playbook.diagnostics import PlaybookError

Make = Callable[..., Delivery]


def _adapter() -> tuple[ConsoleAdapter, StringIO]:
    out = StringIO()
    return ConsoleAdapter({"console": Console(file=out, width=100)}), out


def test_a_dm_shows_time_channel_account_contact_flow_step_and_text(make_delivery: Make) -> None:
    adapter, out = _adapter()
    results = adapter.send([make_delivery()])
    assert results == [Result("pb-1/新客培育/c1/n1/0", SENT)]
    lines = out.getvalue().splitlines()
    assert lines[0] == "2026-12-01 00:00:00+00:00  dm     a1 → c1  新客培育 · after 5m: dm 欢迎语"
    # Written as text, never as markup: the brackets in a message are shown as they are.
    assert lines[1] == "    你好 [bold]小王[/bold]，欢迎！"
    # In a daemon, the playbook's timezone with the offset (as the log lines).
    adapter.timezone = "Asia/Shanghai"
    adapter.send([make_delivery()])
    assert out.getvalue().splitlines()[2].startswith("2026-12-01 08:00:00+08:00  dm     a1 → c1")


def test_groups_moments_retries_and_multi_line_text(make_delivery: Make) -> None:
    adapter, out = _adapter()
    batch = [
        make_delivery("k1", channel="group", contact=None, group="g-7", text="第一行\n第二行"),
        make_delivery("k2", channel="moment", contact=None, audience=("c1", "c2", "c3"), attempt=3),
        make_delivery("k3", channel="moment", contact=None, audience=("c1",)),
        make_delivery("k4", channel="task", account=None),
    ]
    assert [r.status for r in adapter.send(batch)] == [SENT] * 4
    text = out.getvalue()
    assert "group  a1 → group g-7  新客培育" in text
    assert "    第一行\n    第二行\n" in text
    assert "moment a1 → 3 contacts can see it" in text and "attempt 3" in text
    assert "1 contact can see it" in text
    assert "task   - → c1" in text


def test_options_are_checked() -> None:
    assert ConsoleAdapter.capabilities.batch_size == 1
    with pytest.raises(PlaybookError, match="must be a rich Console"):
        ConsoleAdapter({"console": "stdout"})
    with pytest.raises(PlaybookError, match="has no option 'colour'"):
        ConsoleAdapter({"colour": True})
    assert isinstance(ConsoleAdapter().console, Console)
