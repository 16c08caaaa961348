"""Which text encoding a data file is in."""

from __future__ import annotations

import codecs
from pathlib import Path

from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
from playbook.i18n import t


def text_encoding(path: Path) -> str:
    """UTF-8 (with or without a BOM), else GB18030 — what Excel on Chinese Windows writes
    when it saves a CSV. Checked by streaming the bytes through a decoder, so a large
    file is never held whole."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise PlaybookError(
        [
            Diagnostic(
                ERROR,
                "encoding",
                t("this file is neither UTF-8 nor GB18030 text"),
                file=str(path),
                hint=t("save it as UTF-8 (most editors: File → Save with Encoding → UTF-8)"),
            )
        ]  # fmt: skip
    )
