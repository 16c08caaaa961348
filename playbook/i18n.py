"""Messages in the operator's language: English or Simplified Chinese.

Every user-facing message is an English `str.format` template passed to `t`:

    t("unknown segment '{name}'", name=name)

In Chinese the template is looked up in `playbook.i18n_zh.ZH` (English template →
Chinese template, same placeholders); a template with no translation falls back to
English. The language is, in order: `set_language` (the `--lang` option), then the
first non-empty of `PLAYBOOK_LANG`, `LC_ALL`, `LC_MESSAGES`, `LANG` — a value starting
with `zh` means Chinese, anything else English — and English when none is set.

Plain dicts and no gettext: importing this module costs next to nothing, which keeps
`playbook check` quick to start.
"""

from __future__ import annotations

import os
from typing import Literal

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")
# Where the language comes from when set_language was not called, first non-empty wins.
ENV_VARS = ("PLAYBOOK_LANG", "LC_ALL", "LC_MESSAGES", "LANG")

_chosen: Language | None = None
_catalogue: dict[str, str] | None = None
# Templates asked for in Chinese that have no translation (tests read this).
_missing: set[str] = set()


def normalize(value: str) -> Language:
    """'zh', 'zh_CN.UTF-8', 'zh-Hans' → 'zh'; anything else → 'en'."""
    return "zh" if value.strip().lower().startswith("zh") else "en"


def set_language(lang: str | None) -> None:
    """Choose the language explicitly; None goes back to the environment."""
    global _chosen
    _chosen = None if lang is None else normalize(lang)


def language() -> Language:
    if _chosen is not None:
        return _chosen
    for var in ENV_VARS:
        value = os.environ.get(var)
        if value:
            return normalize(value)
    return "en"


def _zh() -> dict[str, str]:
    global _catalogue
    if _catalogue is None:
        from playbook.i18n_zh import ZH

        _catalogue = ZH
    return _catalogue


def t(template: str, /, **values: object) -> str:
    """The message `template` in the current language, formatted with `values`.

    Templates always go through `str.format`, so literal braces are written `{{` `}}`.
    """
    if language() == "zh":
        translated = _zh().get(template)
        if translated is None:
            _missing.add(template)
        else:
            template = translated
    return template.format(**values)


def t_in(lang: Language, template: str, /, **values: object) -> str:
    """The message `template` in `lang`, whatever the operator's language (a text that goes
    to staff on the platform, the same bytes in every run)."""
    if lang == "zh":
        template = _zh().get(template, template)
    return template.format(**values)


def tn(singular: str, plural: str, n: int, /, **values: object) -> str:
    """`t` for a count: the singular template when n == 1, else the plural; `{n}` is n."""
    return t(singular if n == 1 else plural, n=n, **values)


def N_(template: str) -> str:  # noqa: N802 — the usual name for "translate later"
    """Mark a template for translation where it is defined; `t(...)` it where it is shown."""
    return template


def missing() -> frozenset[str]:
    """Templates that were shown in Chinese without a translation, since start or `clear_missing`."""
    return frozenset(_missing)


def clear_missing() -> None:
    _missing.clear()
