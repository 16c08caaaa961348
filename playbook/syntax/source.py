"""Reading playbook source text: decoding, line endings, and full-width punctuation.

Operators type with Chinese input methods, so outside strings and comments the
full-width twins of the language's punctuation (：，（）【】＝％ and full-width digits) are
read as ASCII. The mapping is one character for one character, so every line and column
stays where the operator sees it.
"""

from __future__ import annotations

import re
from pathlib import Path

from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
from playbook.i18n import N_, t

# Full-width character -> the ASCII character it stands for.
FULL_WIDTH = {
    "：": ":",
    "，": ",",
    "、": ",",
    "（": "(",
    "）": ")",
    "【": "[",
    "】": "]",
    "［": "[",
    "］": "]",
    "｛": "{",
    "｝": "}",
    "＝": "=",
    "％": "%",
    "＜": "<",
    "＞": ">",
    "！": "!",
    "－": "-",
    "．": ".",
    "＿": "_",
    "\u3000": " ",  # ideographic space
    **{chr(0xFF10 + i): str(i) for i in range(10)},
}

# What to suggest for characters that have no place outside strings at all (templates: `t()` them when shown).
STRAY_HINTS = {
    "；": N_("no ';' is needed — start a new line instead"),
    ";": N_("no ';' is needed — start a new line instead"),
    "。": N_("no '。' is needed outside quotes"),
    "‘": N_('use "…" or “…” for text'),
    "’": N_('use "…" or “…” for text'),
    "'": N_('use "…" or “…” for text'),
    "”": N_("this closing quote has no opening “"),
    "～": N_("'～' is only allowed inside quotes"),
}

_FULL_WIDTH_CLASS = "[" + "".join(re.escape(c) for c in FULL_WIDTH) + "]"
_ANY_FULL_WIDTH = re.compile(_FULL_WIDTH_CLASS)
# Strings and comments are matched first and left alone; group 1 is a character to map.
_SCAN = re.compile(
    r'"""(?:[^"\\]|\\[\s\S]|"(?!""))*"""'
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|“(?:[^”\\\n]|\\.)*”"
    r"|#[^\n]*"
    r"|(" + _FULL_WIDTH_CLASS + ")"
)


def _replace(match: re.Match[str]) -> str:
    ch = match.group(1)
    return FULL_WIDTH[ch] if ch else match.group(0)


def normalize(text: str) -> str:
    """Map full-width punctuation outside strings and comments to ASCII (same length)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("\ufeff"):
        text = " " + text[1:]  # keep columns: the BOM becomes a space
    if not _ANY_FULL_WIDTH.search(text):
        return text
    return _SCAN.sub(_replace, text)


def read_source(path: str | Path) -> str:
    """Read a playbook file as text; undecodable bytes are an error with a position."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise PlaybookError(
            [Diagnostic(ERROR, "io", t("cannot read file: {reason}", reason=exc.strerror or exc), file=str(path))]
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8", errors="replace")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        raise PlaybookError(
            [
                Diagnostic(
                    ERROR,
                    "encoding",
                    t("this file is not UTF-8 text"),
                    file=str(path),
                    line=line,
                    column=column,
                    hint=t("save it as UTF-8 (most editors: File → Save with Encoding → UTF-8)"),
                )
            ]
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")
