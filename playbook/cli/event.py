"""playbook event TYPE --contact ID [KEY=VALUE…] [--at TIME] [--db URL] — append one event
to the store's event log (source "cli"); the daemon processes it like any other. Values
are typed as in data files: 3000 and 99.5 are numbers, 2026-12-01 a date, true/false
booleans, anything else text. The event is checked by the same rules as `plan`'s events."""

from __future__ import annotations

import json

import click

from playbook.cli.store_options import db_option
from playbook.i18n import t

RESERVED = ("type", "contact", "at")


def _fields(pairs: tuple[str, ...]) -> dict[str, str]:
    """KEY=VALUE arguments as a record's raw fields; bad ones exit 1 like any bad input."""
    from playbook.diagnostics import ERROR, Diagnostic, PlaybookError

    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            message = t("'{pair}' is not KEY=VALUE", pair=pair)
        elif key in RESERVED:
            message = t("'{key}' is set by its own option, not as KEY=VALUE", key=key)
        else:
            out[key] = value
            continue
        raise PlaybookError([Diagnostic(ERROR, "event", t("bad event: {reason}", reason=message))])
    return out


@click.command(name="event", help=t("Append one event to the store; the daemon processes it."))
@click.argument("kind", metavar="TYPE")
@click.argument("pairs", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--contact", required=True, metavar="ID", help=t("The contact the event is about."))
@click.option("--at", "at", metavar="TIME", help=t("When it happened, like 2026-12-01T09:00:00+08:00 (default: now)."))
@db_option
@click.option(
    "--timezone",
    metavar="TZ",
    help=t("Timezone of times without an offset (default: the active playbook's, else {tz}).", tz="Asia/Shanghai"),
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help=t("text for people, json for scripts."),
)
def command(kind: str, pairs: tuple[str, ...], contact: str, at: str | None, db: str | None, timezone: str | None,
            fmt: str) -> None:  # fmt: skip
    import datetime as dt

    from playbook.data.files import event_from_record
    from playbook.data.values import DataValueError
    from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
    from playbook.engine.timeutil import LocalTime
    from playbook.runtime.importing import store_timezone
    from playbook.runtime.store import Store, StoreError, default_url

    def refuse(reason: str) -> PlaybookError:
        return PlaybookError([Diagnostic(ERROR, "event", t("bad event: {reason}", reason=reason))])

    record = {"type": kind, "contact": contact, "at": at or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              **_fields(pairs)}  # fmt: skip
    try:
        with Store(db or default_url()) as store:
            store.migrate()
            tz = timezone or store_timezone(store)
            try:
                clock = LocalTime(tz)
            except (KeyError, ValueError):  # zoneinfo: not found (a KeyError) or a malformed name
                raise PlaybookError([Diagnostic(ERROR, "option", t("unknown timezone '{tz}'", tz=tz))]) from None
            try:
                event = event_from_record(record, clock, 0)
            except DataValueError as exc:
                raise refuse(exc.message()) from None  # in the operator's language
            try:
                (seq,) = store.append_events([event], "cli")
            except ValueError as exc:  # an id the store cannot hold (a NUL character)
                raise refuse(str(exc)) from None
    except StoreError as exc:
        raise PlaybookError([Diagnostic(ERROR, "store", t("cannot use the store: {reason}", reason=exc))]) from None

    if fmt == "json":
        doc = {"seq": seq, "type": event.type, "contact": event.contact, "at": event.at}
        click.echo(json.dumps(doc, ensure_ascii=False, sort_keys=True))
    else:
        click.echo(t("event {seq} stored: {type} for contact {contact}", seq=seq, type=event.type,
                     contact=event.contact))  # fmt: skip
