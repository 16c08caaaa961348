"""Touches an adapter holds back (`later` with a reason: WeCom blocked, trusted IP …) stay
pending with that reason, and `status` shows them grouped by reason — on SQLite and PostgreSQL."""

from __future__ import annotations

from playbook.adapters.base import LATER, Adapter, Delivery, Result
from playbook.runtime.dispatch import Dispatcher
from playbook.runtime.report import status
from playbook.runtime.rows import Journal, TouchRow
from playbook.runtime.store import Store

T0 = 1_796_000_000
REASON = "WeCom blocked: trusted IP (60020) — add this server's IP 1.2.3.4 to the app's 企业可信IP"


class Blocked(Adapter):
    name = "blocked"

    def send(self, batch: list[Delivery]) -> list[Result]:  # type: ignore[override]
        return [Result(d.key, LATER, REASON, retry_after=60) for d in batch]


def test_held_touches_keep_their_reason_and_status_groups_them(store: Store) -> None:
    store.save_version({"version": "pb-1", "name": "held"})
    rows = [TouchRow(key=f"pb-1/f/c{i}/s1/1", version="pb-1", flow="f", step="dm", channel="dm", due=T0,
                     state="pending", account="a1", contact=f"c{i}", at=T0, content="x", text="hi", outcome="ok",
                     next_attempt_at=T0) for i in range(3)]  # fmt: skip
    store.write(Journal(touches=rows))
    dispatcher = Dispatcher(store, Blocked(), owner="p", clock=lambda: float(T0))
    report = dispatcher.run_once(T0)
    dispatcher.close()
    assert report.later == 3
    touches = store.touches()
    assert {(r.state, r.error, r.attempts, r.next_attempt_at) for r in touches} == {("pending", REASON, 0, T0 + 60)}
    (held,) = status(store)["held"]
    assert held["reason"] == REASON and held["touches"] == 3


def test_status_prints_one_line_per_hold() -> None:
    from rich.console import Console

    from playbook.cli.status import render

    doc = {"versions": [], "timers": {"pending": 0, "next_due": None}, "contacts": {"total": 3, "deleted": 0},
           "accounts": 1, "touches": {"pending": 3}, "events": {}, "enrolments": {}, "dead": [], "errors": [],
           "held": [{"reason": REASON, "touches": 3, "next_try": None}]}  # fmt: skip
    console = Console(record=True, width=200)
    render(doc, console)
    assert f"⚠ 3 touches held: {REASON}" in console.export_text()
