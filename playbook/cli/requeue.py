"""playbook requeue --state unknown [--before TIME] [--key KEY…] [--db URL] — put touches
the daemon could not settle (`unknown`: a crash during the adapter call, and the adapter
cannot tell whether it went out) or dead letters back to `pending`, by hand, after checking
on the platform that they did not go out. A running daemon sends them at its next round.
The action (who, when, what, which keys) is recorded in the store (`ledger_actions`)."""

from __future__ import annotations

import getpass
import json
import os
import socket
import time

import click

from playbook.cli.common import fail, say
from playbook.cli.store_options import db_option, timezone_option
from playbook.i18n import t


@click.command(name="requeue", help=t("Send unknown (or dead) touches again: back to pending, recorded."))
@click.option("--state", "state", type=click.Choice(["unknown", "dead"]), required=True,
              help=t("Which touches: unknown (a crash left them undecided) or dead (dead letters)."))  # fmt: skip
@click.option("--before", "before", metavar="TIME",
              help=t("Only touches meant to go out before this time, like 2026-12-01 09:00."))  # fmt: skip
@click.option("--key", "keys", metavar="KEY", multiple=True, help=t("Only this touch (repeatable)."))
@db_option
@timezone_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help=t("text for people, json for scripts."))  # fmt: skip
def command(state: str, before: str | None, keys: tuple[str, ...], db: str | None, timezone: str | None,
            fmt: str) -> None:  # fmt: skip
    from playbook.cli.store_options import reading_store, store_clock
    from playbook.data.values import DataValueError, parse_time
    from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
    from playbook.runtime.store import StoreError

    try:
        with reading_store(db) as store:
            when = None
            if before is not None:
                try:
                    when = int(parse_time(before, store_clock(store, timezone)))
                except DataValueError as exc:
                    raise PlaybookError([Diagnostic(ERROR, "option", t("--before: {reason}",
                                                                      reason=exc.message()))]) from None  # fmt: skip
            actor = f"{getpass.getuser()}@{socket.gethostname()} (pid {os.getpid()})"
            try:
                moved = store.requeue(state, before=when, keys=list(keys) if keys else None, actor=actor,
                                      now=int(time.time()))  # fmt: skip
            except StoreError as exc:
                raise PlaybookError([Diagnostic(ERROR, "store", t("cannot use the store: {reason}",
                                                                  reason=exc))]) from None  # fmt: skip
    except PlaybookError as exc:
        fail(exc)
        return
    if fmt == "json":
        click.echo(json.dumps({"requeued": len(moved), "keys": moved}, ensure_ascii=False, sort_keys=True))
        return
    say(t("{n} touches back to pending (recorded); a running daemon sends them at its next round", n=len(moved)))
