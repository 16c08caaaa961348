"""The deployment examples under deploy/ (docs/daemon.md, "Scale-out"): the compose file is
YAML naming N daemons on one PostgreSQL, the systemd template unit's ExecStart is a
`playbook run` command line the CLI accepts, the configuration they share loads, and its
playbooks check; `playbook run --port` (what the unit passes) binds the intake there."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from playbook.cli.run import command as run_command
from playbook.runtime.config import load_config, with_overrides
from tests.cli_run import run_cli
from tests.runtime.processes import free_port, wait

DEPLOY = Path(__file__).parents[1] / "deploy"


def _accepted(argv: list[str]) -> dict:
    """The options `playbook run` parses from argv (click raises on anything it refuses)."""
    assert argv[0] == "run", argv
    with run_command.make_context("run", list(argv[1:])) as ctx:
        return dict(ctx.params)


def _substituted(value: str) -> str:
    """Compose's ${NAME:-default} / ${NAME:?message} as a shell would give them (unset)."""
    return re.sub(r"\$\{(\w+)(?::-([^}]*)|:\?[^}]*)?\}", lambda m: m.group(2) or f"<{m.group(1)}>", value)


def test_the_compose_file_runs_n_daemons_on_one_postgresql() -> None:
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = doc["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    daemon = services["playbook"]
    assert daemon["deploy"]["replicas"] >= 2
    assert daemon["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert daemon["stop_signal"] == "SIGTERM"
    argv = [_substituted(str(a)) for a in daemon["command"]]
    params = _accepted(argv)
    assert params["db"].startswith("postgresql+psycopg://") and "@postgres:5432/" in params["db"]
    assert params["port"] == 8787 and not params["standby"] and not params["once"]
    assert str(params["config_path"]) == "/etc/playbook/playbook.toml"
    assert "./playbook:/etc/playbook:ro" in daemon["volumes"]  # the shared configuration below
    assert "PLAYBOOK_INTAKE_TOKEN" in daemon["environment"]


def test_the_systemd_template_unit_starts_playbook_run_with_its_port() -> None:
    unit = DEPLOY / "systemd" / "playbook@.service"
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(unit.read_text(encoding="utf-8"))
    service = parser["Service"]
    argv = shlex.split(service["ExecStart"].replace("%i", "8788"))
    assert Path(argv[0]).name == "playbook"
    params = _accepted(argv[1:])
    assert params["port"] == 8788 and params["paths"] == ("/etc/playbook/playbooks",)
    assert str(params["config_path"]) == "/etc/playbook/playbook.toml"
    assert service["KillSignal"] == "SIGTERM" and service["Restart"] == "always"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert parser["Install"]["WantedBy"] == "multi-user.target"


def test_the_shared_configuration_loads_and_its_playbooks_check() -> None:
    config = with_overrides(load_config(DEPLOY / "playbook" / "playbook.toml"), port=8787)
    assert config.store.url.startswith("postgresql+psycopg://")
    assert config.daemon.shards == 64
    assert config.adapter.name == "jsonl"
    done = subprocess.run([sys.executable, "-m", "playbook", "check", str(DEPLOY / "playbook" / "playbooks")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_run_port_overrides_the_intake_port(tmp_path: Path) -> None:
    (tmp_path / "p.pb").write_text((DEPLOY / "playbook" / "playbooks" / "new_customer.pb").read_text("utf-8"), "utf-8")
    (tmp_path / "playbook.toml").write_text(f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n[intake]\nport = 0\n')
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "playbook", "run", str(tmp_path / "p.pb"), "--config", str(tmp_path / "playbook.toml"),
         "--adapter", "console", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PLAYBOOK_INTAKE_TOKEN": "t0k"},
    )  # fmt: skip
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5).status_code == 200
            except httpx.HTTPError:
                return False

        wait(healthy, timeout=60)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()


@pytest.mark.parametrize("port", ["-1", "65536", "http"])
def test_a_bad_port_is_a_usage_error(port: str) -> None:
    done = run_cli("run", "p.pb", "--port", port)
    assert done.returncode == 2 and "Invalid value for '--port'" in done.stderr and "Traceback" not in done.stderr
