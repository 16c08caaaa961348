"""Helpers shared by the process-level runtime tests: waiting, free ports, reading the
jsonl outbox, and starting/stopping a `playbook run` daemon as a subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def wait(check: Callable[[], T], timeout: float = 60.0, interval: float = 0.05) -> T:
    """Poll `check` until it returns something true (returned) or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(interval)
    raise AssertionError("timed out")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_jsonl(path: Path, *, skip_torn: bool = False, skip_blank: bool = False) -> list[dict]:
    """The records of a jsonl file ([] if it does not exist yet). `skip_torn`: lines that do
    not parse (torn by a kill, or still being written) are left out; `skip_blank`: blank lines are."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if skip_blank and not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            if not skip_torn:
                raise
    return out


def start_run(playbook: Path, config: Path, *extra: str, lang: str | None = None,
              env: dict[str, str] | None = None) -> subprocess.Popen:  # fmt: skip
    """`python -m playbook [--lang LANG] run PLAYBOOK --config CONFIG EXTRA…`, stderr piped."""
    options = ["--lang", lang] if lang else []
    return subprocess.Popen(
        [sys.executable, "-m", "playbook", *options, "run", str(playbook), "--config", str(config), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def stop(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str]:
    """SIGTERM (unless it already exited), then its exit code and stderr."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err.decode()


def write_jsonl_config(path: Path, url: str, outbox: Path, *, port: int = 0, **daemon: object) -> Path:
    """A playbook.toml at `path`: the store at `url`, the jsonl adapter writing to `outbox`, the
    intake on `port`, and `daemon`'s settings (tick, batch, lease, approve …) under [daemon]."""
    lines = [
        "[store]", f'url = "{url}"',
        "[adapter]", 'name = "jsonl"',
        "[adapter.options]", f'path = "{outbox}"',
        "[intake]", f"port = {port}",
        "[daemon]", *(f"{key} = {json.dumps(value)}" for key, value in daemon.items()),
    ]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
