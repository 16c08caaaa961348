"""playbook.toml: defaults, paths relative to the file, clear errors, and secrets from a file or the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from playbook.diagnostics import PlaybookError
from playbook.runtime.config import DaemonConfig, intake_settings, load_config, load_secrets, parse_span
from playbook.runtime.intake import IntakeConfig


def _write(folder: Path, text: str, name: str = "playbook.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path | None, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(PlaybookError) as err:
        load_config(path, environ or {})
    return str(err.value)


def test_no_file_means_every_default_in_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None, {})
    assert config.file is None and config.folder == tmp_path
    assert config.store.url == f"sqlite:///{tmp_path / 'playbook.db'}"
    assert (config.adapter.name, config.adapter.at_least_once, config.adapter.options) == ("console", False, {})
    assert (config.intake.host, config.intake.port, config.intake.max_body) == ("127.0.0.1", 8787, 1 << 20)
    d = config.daemon
    assert (d.tick, d.grace, d.batch, d.max_attempts, d.backoff, d.backoff_cap, d.workers) == (
        1.0, 3600.0, None, 8, 2.0, 3600.0, 4,  # batch None: the adapter's batch size (dispatch.py)
    )  # fmt: skip
    assert config.secrets_file is None and load_secrets(config, {}) == {}
    # $PLAYBOOK_DB names the store when the config does not, as for `playbook import`.
    assert load_config(None, {"PLAYBOOK_DB": "other.db"}).store.url == f"sqlite:///{tmp_path / 'other.db'}"


def test_an_empty_file_is_all_defaults_beside_it(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, ""), {"PLAYBOOK_DB": "ignored-when-given.db"})
    assert config.file == tmp_path / "playbook.toml" and config.folder == tmp_path
    assert config.model_dump(exclude={"store"}) == DaemonConfig().model_dump(exclude={"store"})
    config = load_config(_write(tmp_path, '[store]\nurl = "pb.db"\n'), {"PLAYBOOK_DB": "ignored.db"})
    assert config.store.url == f"sqlite:///{tmp_path / 'pb.db'}"


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "deploy"
    folder.mkdir()
    _write(
        folder,
        'secrets_file = "secrets.toml"\n'
        '[store]\nurl = "sqlite:///data/pb.db"\n'
        '[adapter]\nname = "jsonl"\n[adapter.options]\npath = "out/outbox.jsonl"\n'
        '[daemon]\ngrace = "30m"\nworkers = 8\n',
    )
    monkeypatch.chdir(tmp_path)  # started from elsewhere
    config = load_config(Path("deploy/playbook.toml"), {})
    assert config.folder == folder
    assert config.store.url == f"sqlite:///{folder / 'data' / 'pb.db'}"
    assert config.adapter.options == {"path": str(folder / "out" / "outbox.jsonl")}
    assert config.secrets_path == folder / "secrets.toml"
    assert (config.daemon.grace, config.daemon.workers) == (1800.0, 8)


def test_absolute_paths_and_other_databases_stay_as_written(tmp_path: Path) -> None:
    pg = "postgresql+psycopg://ops@db.internal:5432/playbook"
    path = _write(
        tmp_path, f'[store]\nurl = "{pg}"\n[adapter]\nname = "jsonl"\n[adapter.options]\npath = "/var/out.jsonl"\n'
    )
    config = load_config(path, {})
    assert config.store.url == pg and config.adapter.options["path"] == "/var/out.jsonl"
    for url in ("sqlite:////srv/pb.db", "sqlite://", "sqlite:///:memory:"):
        assert load_config(_write(tmp_path, f'[store]\nurl = "{url}"\n'), {}).store.url == url
    assert (
        load_config(_write(tmp_path, '[store]\nurl = "postgres://u@h/db"\n'), {}).store.url
        == "postgresql+psycopg://u@h/db"
    )


def test_unknown_keys_are_errors_with_the_file_line_and_a_suggestion(tmp_path: Path) -> None:
    path = _write(tmp_path, "[daemon]\ntick = 1.0\ntikc = 2\n\n[deamon]\nworkers = 2\n[intake]\nprot = 1\n")
    shown = _error(path)
    assert f"{path}:3:1: error: unknown key 'daemon.tikc'" in shown
    assert "did you mean 'tick'?" in shown
    assert f"{path}:5:2: error: unknown key 'deamon'" in shown and "did you mean 'daemon'?" in shown
    assert f"{path}:8:1: error: unknown key 'intake.prot'" in shown and "did you mean 'port'?" in shown
    assert "    3 | tikc = 2" in shown


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[daemon]\nworkers = "4"\n', "'daemon.workers' must be a whole number"),
        ("[daemon]\nworkers = 0\n", "'daemon.workers' must be at least 1"),
        ('[daemon]\ntick = "fast"\n', "'daemon.tick' must be a number"),
        ("[daemon]\nbackoff = 0\n", "'daemon.backoff' must be more than 0"),
        ("[daemon]\nbackoff = 10.0\nbackoff_cap = 5.0\n", "backoff_cap must be at least backoff"),
        ('[daemon]\ngrace = "soon"\n', "'soon' is not a duration"),
        ("[intake]\nport = 70000\n", "'intake.port' must be at most 65535"),
        ('[adapter]\nat_least_once = "yes"\n', "'adapter.at_least_once' must be true or false"),
        ("[store]\nurl = 5\n", "'store.url' must be text in quotes"),
        ('adapter = "console"\n', "'adapter' must be a table"),
        ("[daemon\n", "not valid TOML"),
    ],
)
def test_bad_values_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    shown = _error(path)
    assert message in shown and str(path) in shown and "Traceback" not in shown


def test_toml_errors_point_at_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "[daemon]\ntick = = 1\n")
    assert _error(path).startswith(f"{path}:2:")
    assert (
        _error(tmp_path / "missing.toml")
        == f"{tmp_path / 'missing.toml'}: error: the configuration file does not exist"
    )


def test_the_adapter_name_is_checked(tmp_path: Path) -> None:
    shown = _error(_write(tmp_path, '[adapter]\nname = "webhok"\n'))
    assert "playbook.toml:2:1: error: unknown adapter 'webhok'" in shown and "did you mean 'webhook'?" in shown


def test_at_least_once_only_for_idempotent_adapters(tmp_path: Path) -> None:
    shown = _error(_write(tmp_path, '[adapter]\nname = "jsonl"\nat_least_once = true\n'))
    assert (
        "playbook.toml:3:1: error: at_least_once needs an adapter that deduplicates by key; 'jsonl' does not" in shown
    )
    config = load_config(_write(tmp_path, '[adapter]\nname = "webhook"\nat_least_once = true\n'), {})
    assert config.adapter.at_least_once


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("90s", 90), ("30m", 1800), ("2h", 7200), ("1h30m", 5400), ("1d", 86400), ("45", 45), (120, 120), (0.5, 0.5)],
)
def test_grace_spans(value: object, seconds: float) -> None:
    assert parse_span(value) == seconds


@pytest.mark.parametrize("value", ["", "h", "5 minutes", "-1h", -3, True, [1]])
def test_bad_grace_spans(value: object) -> None:
    with pytest.raises(ValueError):
        parse_span(value)


def test_secrets_from_the_file_overridden_by_the_environment(tmp_path: Path) -> None:
    _write(
        tmp_path, '[webhook]\nsecret = "from-file"\ntoken = "file-token"\n[intake]\ntoken = "intake-file"\n', "s.toml"
    )
    config = load_config(_write(tmp_path, 'secrets_file = "s.toml"\n[adapter]\nname = "webhook"\n'), {})
    assert load_secrets(config, {}) == {"secret": "from-file", "token": "file-token"}
    env = {"PLAYBOOK_WEBHOOK_SECRET": "from-env", "PLAYBOOK_WEBHOOK_": "x", "PLAYBOOK_WEBHOOKS_TOKEN": "other"}
    assert load_secrets(config, env) == {"secret": "from-env", "token": "file-token"}
    assert load_secrets(config, {"PLAYBOOK_WEBHOOK_TOKEN": ""}) == {"secret": "from-file", "token": "file-token"}
    assert load_secrets(config, {}, section="intake") == {"token": "intake-file"}


def test_a_named_secrets_file_must_exist_and_hold_text(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, 'secrets_file = "nowhere.toml"\n'), {})
    with pytest.raises(PlaybookError, match="the secrets file does not exist"):
        load_secrets(config, {})
    _write(tmp_path, "[console]\npin = 123456789\n", "nowhere.toml")
    with pytest.raises(PlaybookError) as err:
        load_secrets(config, {})
    assert "the secret 'console.pin' must be text" in str(err.value) and "123456789" not in str(err.value)
    _write(tmp_path, '[console]\npin = "hunter2\n', "nowhere.toml")
    with pytest.raises(PlaybookError) as err:
        load_secrets(config, {})
    assert "not valid TOML" in str(err.value) and "hunter2" not in str(err.value)  # never quote a secrets line


def test_intake_settings(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, '[intake]\nhost = "0.0.0.0"\nport = 9000\nmax_body = 2048\n'), {})
    intake = intake_settings(config, {"PLAYBOOK_INTAKE_TOKEN": "tok"})
    assert intake == IntakeConfig(token="tok", host="0.0.0.0", port=9000, max_body=2048)
    assert intake_settings(config, {"PLAYBOOK_INTAKE_SECRET": "key"}) == IntakeConfig(
        secret="key", host="0.0.0.0", port=9000, max_body=2048
    )
    with pytest.raises(PlaybookError, match="the event intake needs a token or a secret"):
        intake_settings(config, {})
    assert intake_settings(load_config(_write(tmp_path, "[intake]\nport = 0\n"), {}), {}) is None
    # IntakeConfig.from_env keeps working as before.
    assert IntakeConfig.from_env({"PLAYBOOK_INTAKE_TOKEN": "tok"}).token == "tok"
