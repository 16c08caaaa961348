"""Which fields a contacts file has: the CSV header, or the keys of its JSON Lines."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from playbook.data.encoding import text_encoding
from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
from playbook.i18n import t


def field_names(path: str | Path) -> set[str]:
    p = Path(path)
    try:
        with p.open(encoding=text_encoding(p), newline="") as fh:
            if p.suffix.lower() in (".jsonl", ".ndjson", ".json"):
                names: set[str] = set()
                for number, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise PlaybookError(
                            [
                                Diagnostic(
                                    ERROR,
                                    "data",
                                    t("line {number} is not JSON: {reason}", number=number, reason=exc.msg),
                                    file=str(path),
                                    line=number,
                                )
                            ]
                        ) from None
                    if isinstance(row, dict):
                        names.update(k for k, v in row.items() if v is not None)
                return names
            header = next(csv.reader(fh), [])
            return {h.strip() for h in header if h.strip()}
    except OSError as exc:
        raise PlaybookError(
            [Diagnostic(ERROR, "io", t("cannot read file: {reason}", reason=exc.strerror or exc), file=str(path))]
        ) from None
    except UnicodeDecodeError:
        raise PlaybookError([Diagnostic(ERROR, "encoding", t("this file is not UTF-8 text"), file=str(path))]) from None
