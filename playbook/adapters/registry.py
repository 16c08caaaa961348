"""Finding adapters by name: classes registered under the entry point group `playbook.adapters`.

    [project.entry-points."playbook.adapters"]
    console = "playbook.adapters.console:ConsoleAdapter"

A third-party package registers its own adapter the same way; nothing here lists names by
hand, so an installed adapter is usable by `run`, `plan --adapter` and `check --adapter`
without changing this package. An entry point is loaded (its module imported) only when
its name is asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from playbook.adapters.base import Adapter
from playbook.adapters.capabilities import BUILTIN, Capabilities
from playbook.diagnostics import ERROR, Diagnostic, PlaybookError, did_you_mean
from playbook.i18n import t

GROUP = "playbook.adapters"


def adapter_error(message: str, hint: str = "") -> PlaybookError:
    """An adapter cannot be found, loaded or configured: an error the CLI renders, never a traceback."""
    return PlaybookError([Diagnostic(ERROR, "adapter", message, hint=hint)])


def _registered() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)  # the same name twice: the first installed wins
    return found


def available() -> list[str]:
    """The names of the installed adapters, sorted."""
    return sorted(_registered())


def unknown_adapter(name: str, known: Iterable[str]) -> PlaybookError:
    names = sorted(set(known))
    return PlaybookError(
        [
            Diagnostic(
                ERROR,
                "option",
                t("unknown adapter '{name}'", name=name),
                hint=did_you_mean(name, names) or t("known adapters: {names}", names=", ".join(names)),
            )
        ]
    )


def adapter_class(name: str) -> type[Adapter]:
    """The adapter class registered as `name`; a PlaybookError (with did-you-mean) otherwise."""
    registered = _registered()
    if name not in registered:
        raise unknown_adapter(name, registered)
    ep = registered[name]
    try:
        cls = ep.load()
    except Exception as exc:  # a broken third-party package must not crash the CLI
        raise adapter_error(
            t("cannot load adapter '{name}' ({target}): {reason}", name=name, target=ep.value, reason=exc)
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise adapter_error(t("adapter '{name}' ({target}) is not an Adapter class", name=name, target=ep.value))
    return cls


def build(name: str, options: Mapping[str, Any] | None = None, secrets: Mapping[str, str] | None = None) -> Adapter:
    """An adapter instance, built as `Adapter(options, secrets)`."""
    return adapter_class(name)(options, secrets)


def check_options(adapter: str, options: Mapping[str, Any], known: Iterable[str]) -> None:
    """Refuse option names an adapter does not take: a typo should not silently fall back to a default."""
    allowed = sorted(known)
    for key in sorted(options):
        if key not in allowed:
            raise adapter_error(
                t("adapter '{adapter}' has no option '{key}'", adapter=adapter, key=key),
                did_you_mean(key, allowed) or t("its options: {names}", names=", ".join(allowed) or "-"),
            )


def require_option(adapter: str, options: Mapping[str, Any], key: str) -> Any:
    value = options.get(key)
    if value is None or value == "":
        raise adapter_error(t("adapter '{adapter}' needs the option '{key}'", adapter=adapter, key=key))
    return value


def capabilities_of(name: str) -> Capabilities:
    """An installed adapter's own declaration, else `capabilities.BUILTIN` (adapters not written yet,
    so `plan --adapter wecom` works before the WeCom adapter does)."""
    installed = available()
    if name in installed:
        return adapter_class(name).capabilities
    if name in BUILTIN:
        return BUILTIN[name]
    raise unknown_adapter(name, [*installed, *BUILTIN])
