"""Sorting names the way WeChat's contact list does: by pinyin (阿四 a, 白一 bai, 丁二 ding),
whatever their code points. A name's key is its pinyin spelled out ("ceng2 xiao3 xian2";
Latin letters as themselves, lower-cased), so 曾小贤 sorts before Coco; names that start
with neither a Chinese character nor a letter come last, like WeChat's '#' section.

pypinyin is asked once per distinct character (cached), not once per name: a million
names share a few thousand characters.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=65536)
def _syllable(ch: str) -> str | None:
    from pypinyin import Style, lazy_pinyin

    syllable = lazy_pinyin(ch, style=Style.TONE3, errors=lambda x: [""])[0]
    return syllable or None


def name_key(name: str) -> tuple[int, str]:
    parts: list[str] = []
    word = ""
    for ch in name:
        if ch.isascii():
            word += ch.lower()
            continue
        if word:
            parts.append(word)
            word = ""
        syllable = _syllable(ch)
        parts.append(syllable if syllable else "\uffff" + ch)  # no pinyin: after every letter
    if word:
        parts.append(word)
    spelled = " ".join(parts)
    starts_with_letter = bool(spelled) and spelled[0].isalpha() and spelled[0] != "\uffff"
    return (0 if starts_with_letter else 1, spelled)
