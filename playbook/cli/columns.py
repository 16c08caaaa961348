"""`--columns COLUMN=FIELD,…` and the `[columns]` table of playbook.toml: which field each
column of a data file is, beyond the synonyms playbook knows (docs/data.md). Shared by
plan, import, check and event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from playbook.i18n import t

CONFIG_FILE = "playbook.toml"  # mirrors playbook.runtime.config (not imported: start-up time)

columns_option = click.option(
    "--columns",
    "columns",
    metavar="COLUMN=FIELD,…",
    help=t("Which field a column of the data files is, like {example} (also [columns] in playbook.toml).",
           example="客户编号=id,备注=name"),  # fmt: skip
)


def column_pairs(text: str | None, config: Path | None = None) -> tuple[tuple[str, str], ...]:
    """--columns (first: it wins), then `[columns]` of playbook.toml in the current folder."""
    import tomllib

    from playbook.data.columns import parse_columns
    from playbook.diagnostics import ERROR, Diagnostic, PlaybookError

    path = config or Path(CONFIG_FILE)
    table = None
    if path.is_file():
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise PlaybookError([Diagnostic(ERROR, "config", t("cannot read {file}: {reason}", file=str(path),
                                                               reason=exc), file=str(path))]) from None  # fmt: skip
        table = doc.get("columns")
        if table is not None and not isinstance(table, dict):
            raise PlaybookError([Diagnostic(ERROR, "config", t("[columns] must be a table of COLUMN = \"FIELD\""),
                                            file=str(path))])  # fmt: skip
    return parse_columns(text, table)


def say_column_notes(files: list[tuple[str | None, str]], pairs: tuple[tuple[str, str], ...]) -> None:
    """One note (on stderr) per file whose headers are read as other names."""
    from playbook.cli.common import print_diagnostics
    from playbook.data.columns import ColumnMap
    from playbook.data.fields import column_note

    notes = []
    for path, kind in files:
        if path:
            note = column_note(path, ColumnMap(kind, pairs))
            if note is not None:
                notes.append(note)
    print_diagnostics(notes, stderr=True)


def unheard_events(types: dict[str, int], listened: set[str], file: str) -> list[Any]:
    """A warning for each event type in a file (type -> how many) that no playbook listens
    to and that is not built in (a built-in one still changes its contact): nothing will
    happen on it. With the nearest name a playbook knows."""
    from playbook.diagnostics import WARNING, Diagnostic, nearest
    from playbook.eventnames import BUILTIN_EVENTS, EVENT_ALIASES
    from playbook.i18n import tn

    out = []
    for kind, count in sorted(types.items()):
        if kind in BUILTIN_EVENTS or kind in listened:
            continue
        near = nearest(kind, [*BUILTIN_EVENTS, *EVENT_ALIASES, *listened])
        hint = t("did you mean '{name}'?", name=near) if near else t(
            "a playbook reacts to it with a journey like: {example}", example=f"on {kind}")  # fmt: skip
        message = tn("{n} event of type '{type}': no playbook listens to it",
                     "{n} events of type '{type}': no playbook listens to them", count, type=kind)  # fmt: skip
        out.append(Diagnostic(WARNING, "unknown-event", message, file=file, hint=hint))
    return out
