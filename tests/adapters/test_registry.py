"""Adapters are found by entry point; capabilities come from the registered class."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from playbook.adapters import registry
from playbook.adapters.base import Adapter
from playbook.adapters.capabilities import BUILTIN
from playbook.adapters.console import ConsoleAdapter
from playbook.adapters.jsonl import JsonlAdapter
from playbook.adapters.registry import capabilities_of
from playbook.adapters.webhook import WebhookAdapter
from playbook.diagnostics import PlaybookError


def test_the_three_adapters_are_registered() -> None:
    assert {"console", "jsonl", "webhook"} <= set(registry.available())
    assert registry.available() == sorted(registry.available())
    assert registry.adapter_class("console") is ConsoleAdapter
    assert registry.adapter_class("jsonl") is JsonlAdapter
    assert registry.adapter_class("webhook") is WebhookAdapter
    for name in ("console", "jsonl", "webhook"):
        assert registry.adapter_class(name).name == name


def test_build_passes_options_and_secrets(tmp_path) -> None:
    adapter = registry.build("jsonl", {"path": str(tmp_path / "out.jsonl")}, {})
    assert isinstance(adapter, JsonlAdapter) and adapter.path == tmp_path / "out.jsonl"
    hook = registry.build("webhook", {"url": "http://127.0.0.1:9/x"}, {"token": "t"})
    assert isinstance(hook, WebhookAdapter) and hook.secrets == {"token": "t"}


def test_unknown_name_says_did_you_mean() -> None:
    with pytest.raises(PlaybookError) as err:
        registry.adapter_class("webhok")
    assert "unknown adapter 'webhok'" in str(err.value)
    assert "did you mean 'webhook'?" in str(err.value)
    with pytest.raises(PlaybookError) as err:
        registry.adapter_class("xyzzy")
    assert "known adapters: console, jsonl, webhook" in str(err.value)


def test_capabilities_come_from_the_registered_class() -> None:
    assert capabilities_of("webhook") is WebhookAdapter.capabilities
    assert capabilities_of("jsonl").batch_size == 10_000
    assert capabilities_of("wecom") is BUILTIN["wecom"]  # not written yet: the table stands in
    with pytest.raises(PlaybookError) as err:
        capabilities_of("wecon")
    assert "did you mean 'wecom'?" in str(err.value)
    with pytest.raises(PlaybookError) as err:
        capabilities_of("xyzzy")
    assert "known adapters: console, jsonl, webhook, wecom" in str(err.value)


class NotAnAdapter:
    pass


class Custom(Adapter):
    name = "custom"
    idempotent = True


def _with(monkeypatch: pytest.MonkeyPatch, *extra: EntryPoint) -> None:
    real = registry.entry_points

    def entry_points(*, group: str) -> list[EntryPoint]:
        return [*real(group=group), *extra]

    monkeypatch.setattr(registry, "entry_points", entry_points)


def test_a_third_party_adapter_is_found_by_its_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    _with(monkeypatch, EntryPoint("custom", f"{__name__}:Custom", registry.GROUP))
    assert "custom" in registry.available()
    assert registry.adapter_class("custom") is Custom
    assert capabilities_of("custom") is Custom.capabilities


def test_broken_entry_points_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    _with(
        monkeypatch,
        EntryPoint("missing", "no_such_module_here:Thing", registry.GROUP),
        EntryPoint("plain", f"{__name__}:NotAnAdapter", registry.GROUP),
    )
    with pytest.raises(PlaybookError, match="cannot load adapter 'missing' \\(no_such_module_here:Thing\\)"):
        registry.adapter_class("missing")
    with pytest.raises(PlaybookError, match="adapter 'plain' .* is not an Adapter class"):
        registry.adapter_class("plain")


def test_unknown_options_and_missing_required_ones(tmp_path) -> None:
    with pytest.raises(PlaybookError) as err:
        registry.build("jsonl", {"paht": "x"})
    assert "adapter 'jsonl' has no option 'paht'" in str(err.value) and "did you mean 'path'?" in str(err.value)
    with pytest.raises(PlaybookError, match="adapter 'jsonl' needs the option 'path'"):
        registry.build("jsonl", {})
    with pytest.raises(PlaybookError, match="adapter 'webhook' needs the option 'url'"):
        registry.build("webhook", {})
