"""Which fields a data file has: the CSV header read as data/columns.py says, or the keys
of its JSON Lines; and the one note a file in a shape of its own gets."""

from __future__ import annotations

import json
from pathlib import Path

from playbook.data.columns import CONTACTS, ColumnMap, Header
from playbook.data.encoding import open_text, text_shape
from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
from playbook.i18n import t

_JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


class KnownFields(set[str]):
    """A file's fields, and the headers it has under another name (header -> field): for
    `check --contacts`, which says "write spent" where a playbook uses the header 累计消费."""

    def __init__(self, names: set[str], aliases: dict[str, str]) -> None:
        super().__init__(names)
        self.aliases = aliases


def field_names(path: str | Path, columns: ColumnMap | None = None) -> KnownFields:
    columns = columns or ColumnMap(CONTACTS)
    p = Path(path)
    names: set[str] = set()
    aliases: dict[str, str] = {}
    if p.suffix.lower() in _JSON_SUFFIXES:
        for number, row in _json_objects(p):
            if isinstance(row, str):
                raise PlaybookError([Diagnostic(ERROR, "data", t("line {number} is not JSON: {reason}", number=number,
                                                                 reason=row), file=str(path), line=number)])  # fmt: skip
            found = columns.header([k for k, v in row.items() if v is not None])
            names.update(f for f in found.fields if f)
            aliases.update(found.mapped)
    else:
        found = _csv_header(p, columns)
        names.update(f for f in found.fields if f)
        aliases.update(found.mapped)
    return KnownFields(names, aliases)


def column_note(path: str | Path, columns: ColumnMap) -> Diagnostic | None:
    """What the reader makes of a file's headers, when it is not what they say (None
    otherwise, or when the file cannot be read: the reader says why)."""
    p = Path(path)
    try:
        if p.suffix.lower() in _JSON_SUFFIXES:
            keys: dict[str, None] = {}
            for _, row in _json_objects(p, limit=1000):
                if isinstance(row, dict):
                    keys.update(dict.fromkeys(row))
            found: Header = columns.header(list(keys))
        else:
            found = _csv_header(p, columns)
    except PlaybookError:
        return None
    return found.note(str(path))


def _csv_header(p: Path, columns: ColumnMap) -> Header:
    """The header as the reader finds it (separators, `sep=`, title rows above it)."""
    from playbook.data.files import _csv_rows

    found: list[Header] = []
    try:
        with open_text(p, text_shape(p)) as fh:
            try:
                _csv_rows(fh, None, columns, str(p), None, found)  # type: ignore[arg-type]
            except PlaybookError:
                if not found:
                    raise
            return found[0]
    except OSError as exc:
        raise PlaybookError(
            [Diagnostic(ERROR, "io", t("cannot read file: {reason}", reason=exc.strerror or exc), file=str(p))]
        ) from None


def _json_objects(p: Path, limit: int | None = None) -> list[tuple[int, dict | str]]:
    out: list[tuple[int, dict | str]] = []
    try:
        with open_text(p, text_shape(p)) as fh:
            for number, line in enumerate(fh, start=1):
                if limit is not None and number > limit:
                    break
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except (ValueError, RecursionError) as exc:
                    out.append((number, getattr(exc, "msg", str(exc))))
                    continue
                if isinstance(row, dict):
                    out.append((number, row))
    except OSError as exc:
        raise PlaybookError(
            [Diagnostic(ERROR, "io", t("cannot read file: {reason}", reason=exc.strerror or exc), file=str(p))]
        ) from None
    return out



