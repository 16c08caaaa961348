"""playbook explain --contact ID [--flow F] [--db URL] [--format text|json] — why a contact
got what it got: its journeys (entered or, if not, why not) and every touch with what the
engine and dispatch made of it."""

from __future__ import annotations

import time
from typing import Any

import click

from playbook.cli.status import format_option, show
from playbook.cli.store_options import db_option
from playbook.i18n import t


@click.command(name="explain", help=t("Why a contact got (or did not get) each journey and touch."))
@click.option("--contact", "contact", required=True, metavar="ID", help=t("The contact to explain."))
@click.option("--flow", metavar="NAME", help=t("Only this journey (or other flow)."))
@db_option
@format_option("text")
def command(contact: str, flow: str | None, db: str | None, fmt: str) -> None:
    from playbook.runtime.explain import explain

    show(db, fmt, lambda store: explain(store, contact, flow, now=int(time.time())), render)


def _enrolment_text(e: dict[str, Any]) -> str:
    from playbook.runtime.report import short_time
    from playbook.vocab.reasons import exited

    parts = [t("#{n} entered {at}", n=e["n"], at=short_time(e["entered_at"]))]
    if e["status"] == "active":
        parts.append(t("still inside"))
    elif e["exit_reason"] == "completed":
        parts.append(t("completed {at}", at=short_time(e["exited_at"])) if e["exited_at"] else t("completed"))
    else:
        why = exited(e["exit_reason"]).text() if e["exit_reason"] else t("exited")  # a Reason (runtime.explain)
        parts.append(f"{why} {short_time(e['exited_at'])}" if e["exited_at"] else why)
    if e["arms"]:
        parts.append(t("arm {arms}", arms=", ".join(e["arms"].values())))
    if e["goal_at"]:
        parts.append(t("goal {at} ({hours} h after entry)", at=short_time(e["goal_at"]), hours=e["hours_to_goal"]))
    return " · ".join(parts)


def render(doc: dict[str, Any], out: Any) -> None:
    """The explanation as a tree of journeys and a table of touches on a rich console."""
    from rich.table import Table
    from rich.text import Text
    from rich.tree import Tree

    from playbook.runtime.explain import touch_sentence, why_text
    from playbook.runtime.report import short_time
    from playbook.tables import print_table
    from playbook.words import channel_word

    c, account = doc["contact"], doc["account"] or {}
    who = t("{name} ({id}) · account {account}", name=c["name"] or c["id"], id=c["id"],
            account=" ".join(str(x) for x in (account.get("id"), account.get("name")) if x) or "—")  # fmt: skip
    out.print(Text(who, style="bold"))
    if c["deleted"]:
        out.print(Text(t("deleted"), style="red"))
    hidden = ("name", "account")
    fields = [f"{k}={', '.join(v) if isinstance(v, list) else v}" for k, v in c["fields"].items() if k not in hidden]
    if fields:
        out.print(Text("  " + " · ".join(fields), style="dim"))

    tree = Tree(Text(t("journeys of the playbooks"), style="bold"))
    for j in doc["journeys"]:
        node = tree.add(Text.assemble((j["journey"], "cyan"), f"  {j['entry']['text']}"))
        for e in j["enrolments"]:
            node.add(Text(_enrolment_text(e)))
        if not j["enrolments"]:
            missed = node.add(Text(t("never entered"), style="yellow"))
            for reason in j["why_not"]:
                missed.add(Text(why_text(reason)))
    if not doc["journeys"]:
        tree.add(Text(t("none"), style="dim"))
    out.print(tree, soft_wrap=False)  # a long line wraps under its guide (soft wrap would crop it unmarked)

    table = Table(title=t("touches"), title_justify="left")
    for header in (t("when"), t("channel"), t("flow · step"), t("what happened")):
        table.add_column(header, overflow="fold")
    for x in doc["touches"]:
        style = {"sent": "green", "skipped": "red", "dead": "red", "failed": "yellow", "unknown": "yellow"}
        table.add_row(short_time(x["at"] or x["due"]), channel_word(x["channel"]), f"{x['flow']} · {x['step']}",
                      Text(touch_sentence(x), style=style.get(x["state"], "")))  # fmt: skip
    if doc["touches"]:
        print_table(out, table)
    else:
        out.print(Text(t("no touches"), style="dim"))
