"""Which text encoding a data file is in, and its text.

UTF-8 (with or without a BOM); GB18030, what Excel on Chinese Windows writes when it saves
a CSV; UTF-16 with its BOM, what Excel writes as "Unicode text" (tab-separated). A file
mostly in one of UTF-8 and GB18030 with some lines in the other (rows pasted together
from two exports) is read in its main encoding, and its other lines are known by number,
so the reader reports those rows instead of storing 张三 as 寮犱笁. An Excel workbook or
any other binary file is one clear error.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
from playbook.i18n import t

_WORKBOOK = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")  # .xlsx (a zip), .xls (OLE2)


@dataclass(frozen=True)
class TextShape:
    encoding: str  # what Python calls it
    foreign: frozenset[int] = frozenset()  # line numbers (from 1) in another encoding, or in none
    other: str = ""  # the encoding those lines read in ("" for lines in none)

    @property
    def label(self) -> str:
        return {"utf-8-sig": "UTF-8", "gb18030": "GB18030", "utf-16": "UTF-16"}.get(self.encoding, self.encoding)


def text_encoding(path: Path) -> str:
    return text_shape(path).encoding


def text_shape(path: Path) -> TextShape:
    """How to read a file as text. Checked by streaming the bytes through a decoder, so a
    large file is never held whole; only a file that is not all UTF-8 is looked at line by
    line."""
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError:
        return TextShape("utf-8-sig")  # opening it again says what is wrong
    if head.startswith(_WORKBOOK):
        raise _error(path, t("this is an Excel workbook, not a CSV file"),
                     t("in Excel: File → Save As → CSV UTF-8 (comma delimited) (*.csv)"))  # fmt: skip
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        if _decodes(path, "utf-16"):
            return TextShape("utf-16")
    if _decodes(path, "utf-8-sig"):
        return TextShape("utf-8-sig")
    if len(head) >= 4 and head[1:4:2] == b"\x00\x00" and head[0] and head[2]:
        if _decodes(path, "utf-16-le"):
            return TextShape("utf-16-le")  # UTF-16 without its BOM
    return _line_by_line(path)


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _line_by_line(path: Path) -> TextShape:
    """A file that is not all UTF-8: each line with other than ASCII is UTF-8, GB18030 or
    neither. The encoding of most such lines is the file's; the others are foreign."""
    utf8: list[int] = []
    gb: list[int] = []
    neither: list[int] = []
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if line.isascii():
                continue
            try:
                text = line.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                text = None
            try:
                line.decode("gb18030")
                in_gb = True
            except UnicodeDecodeError:
                in_gb = False
            if text is not None and (not in_gb or _plausible(text)):
                utf8.append(number)
            elif in_gb:
                gb.append(number)
            else:
                neither.append(number)
    if not utf8 and not gb:
        raise _error(path, t("this file is neither UTF-8 nor GB18030 text"))
    if len(gb) >= len(utf8):
        return TextShape("gb18030", frozenset(utf8 + neither), "UTF-8" if utf8 else "")
    return TextShape("utf-8-sig", frozenset(gb + neither), "GB18030" if gb else "")


def _plausible(text: str) -> bool:
    """Whether text read as UTF-8 looks written rather than made of GB18030 bytes by chance
    (a GB18030 pair can be a UTF-8 character too: 帧 is D6 A1, which UTF-8 reads as U+05A1)."""
    return all(c.isascii() or any(lo <= ord(c) <= hi for lo, hi in _WRITTEN) for c in text)


# Where the characters of Chinese data files are: Latin-1 and Latin extended, punctuation
# and symbols, CJK (and its punctuation, compatibility and extension A), full-width forms,
# emoji.
_WRITTEN = ((0xA0, 0x24F), (0x2000, 0x27BF), (0x2E80, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),
            (0xFE30, 0xFFEF), (0x1F000, 0x1FAFF))  # fmt: skip


def _error(path: Path, message: str, hint: str = "") -> PlaybookError:
    return PlaybookError([Diagnostic(ERROR, "encoding", message, file=str(path),
                                     hint=hint or t("save it as UTF-8 (most editors: File → Save with Encoding → "
                                                    "UTF-8)"))])  # fmt: skip


def open_text(path: Path, shape: TextShape) -> IO[str] | MixedText:
    """The file as text lines (newlines kept as written)."""
    if not shape.foreign:
        return path.open(encoding=shape.encoding, newline="")
    return MixedText(path.open("rb"), shape)


class MixedText:
    """A file's lines decoded one by one: a foreign line (which the reader reports and
    leaves out) in the encoding it reads in, else with its bad bytes replaced."""

    def __init__(self, raw: IO[bytes], shape: TextShape) -> None:
        self.raw = raw
        self.shape = shape
        self.number = 0
        self.lines = iter(raw)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.number += 1
        if self.number in self.shape.foreign:
            other = "gb18030" if self.shape.encoding == "utf-8-sig" else "utf-8"
            return line.decode(other, errors="replace")
        return line.decode(self.shape.encoding, errors="replace")

    def __enter__(self) -> MixedText:
        return self

    def __exit__(self, *exc: object) -> None:
        self.raw.close()

    def close(self) -> None:
        self.raw.close()
