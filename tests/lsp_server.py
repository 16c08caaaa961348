"""The pytest-lsp fixture the language-server tests share: `playbook lsp` started over stdio
as an editor starts it, one server per test module."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest_lsp
from lsprotocol import types as L
from pytest_lsp import ClientServerConfig, LanguageClient

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PLAYBOOK_LANG": "en"}


def server_fixture(name: str, *args: str, options: dict[str, Any] | None = None) -> Any:
    """A module-scoped fixture NAME: a client of `playbook ARGS… lsp`, initialized with OPTIONS
    (initializationOptions)."""

    async def session(lsp_client: LanguageClient) -> Any:
        await lsp_client.initialize_session(
            L.InitializeParams(capabilities=L.ClientCapabilities(), initialization_options=options)
        )
        yield
        await lsp_client.shutdown_session()

    config = ClientServerConfig(server_command=[sys.executable, "-m", "playbook", *args, "lsp"], server_env=ENV)
    return pytest_lsp.fixture(config=config, scope="module", name=name)(session)
