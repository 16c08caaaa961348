"""The daemon's configuration file, `playbook.toml`, and the secrets it points to.

    config = load_config(Path("playbook.toml"))     # None: every default, relative to the current folder
    adapter = registry.build(config.adapter.name, config.adapter.options, load_secrets(config))
    intake = intake_settings(config)               # None when [intake] port = 0

Every key has a default; unknown keys are errors (a typo must not silently become a
default), reported with the file, line and a did-you-mean. Relative paths — a SQLite store,
the adapter's `path` option, `secrets_file` — resolve against the config file's folder, so
the daemon behaves the same whatever folder it is started from.

Secrets never live in this file or in a playbook: they come from the secrets file (a TOML
table per adapter, `[webhook]` `secret = "…"`; keep it `chmod 600`) and from environment
variables `PLAYBOOK_<SECTION>_<KEY>`, which win (PLAYBOOK_WEBHOOK_SECRET,
PLAYBOOK_INTAKE_TOKEN). Errors about the secrets file never quote its lines.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from playbook.adapters.registry import adapter_class
from playbook.diagnostics import ERROR, Diagnostic, PlaybookError, did_you_mean
from playbook.i18n import t
from playbook.runtime.approvals import DEFAULT_POLICY, ApprovePolicy, parse_policy
from playbook.runtime.intake import (
    DEFAULT_BACKLOG,
    DEFAULT_HOST,
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_PER_CLIENT,
    DEFAULT_PORT,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_REMEMBER_IDS,
    IntakeConfig,
)
from playbook.runtime.store import DB_ENV, normalize_url
from playbook.timetext import span_seconds

CONFIG_FILE = "playbook.toml"
DEFAULT_DB = "playbook.db"


def parse_span(value: Any) -> float:
    """Seconds from "90s", "30m", "2h", "1h30m", "1d" or a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        spanned = span_seconds(value)
        if spanned is not None:
            seconds = spanned
        else:
            raise ValueError(t("'{value}' is not a duration: write 90s, 30m, 2h or a number of seconds", value=value))
    else:
        raise ValueError(t("a duration is text like 30m or a number of seconds"))
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(t("a duration cannot be negative"))
    return seconds


class _Section(BaseModel):
    # strict: a TOML string is not silently read as a number or a boolean
    model_config = ConfigDict(extra="forbid", strict=True)


class StoreSection(_Section):
    url: str | None = None  # load_config fills it in: never None on a loaded config

    def __repr_args__(self) -> Any:  # a database password never shows in a repr or a log
        url = self.url
        if url is not None:
            try:
                url = sa.make_url(url).render_as_string(hide_password=True)
            except sa.exc.ArgumentError:
                url = "<unparsable url>"
        yield "url", url


class AdapterSection(_Section):
    name: str = "console"
    at_least_once: bool = False  # re-send touches a crash left `sending` (idempotent adapters only)
    options: dict[str, Any] = Field(default_factory=dict)


class IntakeSection(_Section):
    host: str = DEFAULT_HOST
    port: int = Field(DEFAULT_PORT, ge=0, le=65535)  # 0: no HTTP intake
    max_body: int = Field(DEFAULT_MAX_BODY, gt=0)
    max_depth: int = Field(DEFAULT_MAX_DEPTH, gt=0)  # JSON nesting levels
    read_timeout: float = Field(DEFAULT_READ_TIMEOUT, gt=0)  # seconds to deliver one request, head and body
    max_connections: int = Field(DEFAULT_MAX_CONNECTIONS, gt=0)
    max_per_client: int = Field(DEFAULT_MAX_PER_CLIENT, gt=0)
    backlog: int = Field(DEFAULT_BACKLOG, gt=0)
    remember_ids: float = DEFAULT_REMEMBER_IDS  # seconds an event id is remembered (a repeat is not stored again)

    @field_validator("read_timeout", "remember_ids", mode="before")
    @classmethod
    def _span(cls, value: Any) -> float:
        return parse_span(value)

    def limits(self) -> dict[str, Any]:
        """The connection and body limits, as IntakeConfig takes them."""
        return {"host": self.host, "port": self.port, "max_body": self.max_body, "max_depth": self.max_depth,
                "read_timeout": self.read_timeout, "max_connections": self.max_connections,
                "max_per_client": self.max_per_client, "backlog": self.backlog}  # fmt: skip


class DaemonSection(_Section):
    tick: float = Field(1.0, gt=0)  # seconds between due-timer ticks
    grace: float = 3600.0  # seconds: a missed schedule firing younger than this runs once, older is recorded missed
    batch: int | None = Field(None, ge=1)  # ledger rows claimed per round (default: workers × the adapter's batch size, ≤ max(500, it))
    max_attempts: int = Field(8, ge=1)
    backoff: float = Field(2.0, gt=0)  # first retry delay; doubles each attempt, full jitter
    backoff_cap: float = Field(3600.0, gt=0)
    workers: int = Field(4, ge=1)  # concurrent adapter calls
    receipts: float = Field(60.0, gt=0)  # seconds between asking the platform about sent touches (WeCom)
    receipt_horizon: float = 7 * 86400.0  # a touch with no report by then is recorded unconfirmed
    lease: float = Field(15.0, ge=1)  # seconds the writer's lease lasts unless renewed (renewed every third of it)
    store_retry_cap: float = Field(30.0, gt=0)  # longest wait between tries while the store is unavailable
    busy_timeout: float = Field(30.0, gt=0)  # SQLite: seconds a write waits for another process's lock before "database is locked"
    approve: ApprovePolicy = DEFAULT_POLICY  # which new versions wait for `playbook approve` (runtime/approvals.py)
    # scale-out (docs/daemon.md): the store's count of shards, spread over the live processes;
    # recorded in the store at the first start, never changed; more than 1 needs PostgreSQL
    shards: int = Field(1, ge=1, le=4096)

    @field_validator("approve", mode="before")
    @classmethod
    def _approve(cls, value: Any) -> ApprovePolicy:
        return parse_policy(value)

    @field_validator("receipt_horizon", mode="before")
    @classmethod
    def _horizon(cls, value: Any) -> float:
        return parse_span(value)

    @field_validator("grace", mode="before")
    @classmethod
    def _grace(cls, value: Any) -> float:
        return parse_span(value)

    @model_validator(mode="after")
    def _cap(self) -> DaemonSection:
        if self.backoff_cap < self.backoff:
            raise ValueError(t("backoff_cap must be at least backoff"))
        return self


class DaemonConfig(_Section):
    secrets_file: str | None = None  # top-level key: before the first [table]
    store: StoreSection = Field(default_factory=StoreSection)
    adapter: AdapterSection = Field(default_factory=AdapterSection)
    intake: IntakeSection = Field(default_factory=IntakeSection)
    daemon: DaemonSection = Field(default_factory=DaemonSection)
    columns: dict[str, str] = Field(default_factory=dict)  # data files' COLUMN = "FIELD" (cli/columns.py, docs/data.md)
    _file: Path | None = PrivateAttr(default=None)
    _folder: Path = PrivateAttr(default_factory=Path.cwd)

    @property
    def file(self) -> Path | None:
        """The config file read (None: defaults only)."""
        return self._file

    @property
    def folder(self) -> Path:
        """What relative paths resolve against: the config file's folder, else the current one."""
        return self._folder

    @property
    def secrets_path(self) -> Path | None:
        return None if self.secrets_file is None else self._folder / self.secrets_file


_TABLES: dict[tuple[str, ...], type[BaseModel]] = {
    (): DaemonConfig,
    ("store",): StoreSection,
    ("adapter",): AdapterSection,
    ("intake",): IntakeSection,
    ("daemon",): DaemonSection,
}


def load_config(path: Path | None, environ: Mapping[str, str] | None = None) -> DaemonConfig:
    """The configuration in `path`, checked and with paths resolved; every default when `path` is None.

    The store is `[store] url`, else $PLAYBOOK_DB (as for `playbook import`), else playbook.db
    beside the config file.
    """
    env = os.environ if environ is None else environ
    text = ""
    doc: dict[str, Any] = {}
    if path is not None:
        text, doc = _read_toml(path, secrets=False)
    try:
        config = DaemonConfig.model_validate(doc)
    except ValidationError as exc:
        assert path is not None  # the defaults are valid
        raise PlaybookError(_validation_diagnostics(path, text, exc)) from None
    config._file = path
    config._folder = path.resolve().parent if path is not None else Path.cwd()
    config.store.url = _store_url(config.store.url or env.get(DB_ENV) or DEFAULT_DB, config.folder)
    options = config.adapter.options
    for key, value in options.items():  # files and folders an adapter keeps: path, state_file, media_dir …
        if isinstance(value, str) and (key == "path" or key.endswith(("_file", "_dir", "_path"))):
            options[key] = str(config.folder / value)  # an absolute path stays as it is
    _check_adapter(config, path, text)
    return config


def _read_toml(path: Path, *, secrets: bool) -> tuple[str, dict[str, Any]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        missing = t("the secrets file does not exist") if secrets else t("the configuration file does not exist")
        raise _error(path, missing) from None
    except UnicodeDecodeError:
        undecodable = (
            t("the secrets file is not UTF-8 text") if secrets else t("the configuration file is not UTF-8 text")
        )
        raise _error(path, undecodable) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        unreadable = (
            t("cannot read the secrets file: {reason}", reason=reason)
            if secrets
            else t("cannot read the configuration file: {reason}", reason=reason)
        )
        raise _error(path, unreadable) from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # A secrets file's line would print a secret: its errors give the position only.
        raise _toml_error(path, exc, "" if secrets else text) from None


def _store_url(url: str, folder: Path) -> str:
    """A relative SQLite file resolves against the config's folder; other databases are as written."""
    url = normalize_url(url)
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return url  # the store reports a bad URL when it opens it
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or database in (None, "", ":memory:") or database.startswith("file:"):
        return url
    if Path(database).is_absolute():
        return url
    return parsed.set(database=str(folder / database)).render_as_string(hide_password=False)


def _check_adapter(config: DaemonConfig, path: Path | None, text: str) -> None:
    if path is None:  # the defaults: only the console adapter's entry point can be missing
        adapter_class(config.adapter.name)
        return
    try:
        cls = adapter_class(config.adapter.name)
    except PlaybookError as exc:
        line, column = _position(text, ("adapter", "name"))
        raise PlaybookError([_located(d, path, text, line, column, len("name")) for d in exc.diagnostics]) from None
    if config.adapter.at_least_once and not cls.idempotent:
        message = t(
            "at_least_once needs an adapter that deduplicates by key; '{name}' does not", name=config.adapter.name
        )
        hint = t("without it, touches a crash left unfinished are reported as unknown, never sent twice")
        raise _error(path, message, text, ("adapter", "at_least_once"), hint)


def with_overrides(config: DaemonConfig, *, db: str | None = None, adapter: str | None = None,
                   port: int | None = None) -> DaemonConfig:  # fmt: skip
    """The configuration with command-line choices in place, checked like the file's."""
    if db is not None:
        config.store.url = normalize_url(db)
    if port is not None:  # as if the file said it (an intake asked for explicitly needs its token)
        config.intake.port = port
    if adapter is not None:
        config.adapter.name = adapter
        cls = adapter_class(adapter)
        if config.adapter.at_least_once and not cls.idempotent:
            message = t("at_least_once needs an adapter that deduplicates by key; '{name}' does not", name=adapter)
            raise PlaybookError([Diagnostic(ERROR, "config", message)])
    return config


# ---- secrets --------------------------------------------------------------------------------------


def env_prefix(section: str) -> str:
    """PLAYBOOK_WEBHOOK_ for 'webhook': the environment variables that hold a section's secrets."""
    return "PLAYBOOK_" + re.sub(r"[^A-Z0-9]", "_", section.upper()) + "_"


def load_secrets(
    config: DaemonConfig, environ: Mapping[str, str] | None = None, *, section: str | None = None
) -> dict[str, str]:
    """The secrets of the configured adapter (or of `section`, e.g. "intake"): the secrets file's
    `[section]` table, overridden by PLAYBOOK_<SECTION>_<KEY> environment variables."""
    section = section or config.adapter.name
    env = os.environ if environ is None else environ
    found: dict[str, str] = {}
    path = config.secrets_path
    if path is not None:
        found.update(_secrets_table(path, section))
    prefix = env_prefix(section)
    for var, value in env.items():
        if var.startswith(prefix) and len(var) > len(prefix) and value:
            found[var[len(prefix) :].lower()] = value
    return found


def _secrets_table(path: Path, section: str) -> dict[str, str]:
    _, doc = _read_toml(path, secrets=True)
    table = doc.get(section, {})
    if not isinstance(table, dict):
        raise _error(path, t("'{section}' must be a table of secrets", section=section))
    for key, value in table.items():
        if not isinstance(value, str):
            raise _error(path, t("the secret '{section}.{key}' must be text", section=section, key=key))
    return dict(table)


def intake_settings(config: DaemonConfig, environ: Mapping[str, str] | None = None) -> IntakeConfig | None:
    """The HTTP intake's settings, or None when the config turns it off (`port = 0`).

    Its token and HMAC secret come from PLAYBOOK_INTAKE_TOKEN / PLAYBOOK_INTAKE_SECRET, as
    for `IntakeConfig.from_env`, or from the secrets file's `[intake]` table.
    """
    if config.intake.port == 0:
        return None
    secrets = load_secrets(config, environ, section="intake")
    token, secret = secrets.get("token"), secrets.get("secret")
    if not token and not secret:
        raise PlaybookError(
            [
                Diagnostic(
                    ERROR,
                    "config",
                    t("the event intake needs a token or a secret"),
                    str(config.file or ""),
                    hint=t(
                        "set {token} or {secret}, or token/secret under [intake] in the secrets file; "
                        "port = 0 under [intake] turns the endpoint off",
                        token=f"{env_prefix('intake')}TOKEN",
                        secret=f"{env_prefix('intake')}SECRET",
                    ),
                )
            ]
        )
    return IntakeConfig(token=token, secret=secret, **config.intake.limits())


# ---- errors with the file, line and column -----------------------------------------------------------


def _error(path: Path, message: str, text: str = "", loc: Sequence[str | int] = (), hint: str = "") -> PlaybookError:
    line, column = _position(text, loc) if text and loc else (0, 0)
    width = len(str(loc[-1])) if loc else 0
    return PlaybookError([_located(Diagnostic(ERROR, "config", message, hint=hint), path, text, line, column, width)])


def _located(d: Diagnostic, path: Path, text: str, line: int, column: int, width: int) -> Diagnostic:
    source = text.splitlines()[line - 1] if line and text else ""
    return Diagnostic(d.severity, d.code, d.message, str(path), line, column, column + width if column else 0, d.hint,
                      source)  # fmt: skip


_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def _toml_position(exc: tomllib.TOMLDecodeError) -> tuple[int, int]:
    found = _TOML_AT.search(str(exc))
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def _toml_reason(exc: tomllib.TOMLDecodeError) -> str:
    return _TOML_AT.sub("", str(exc))


def _toml_error(path: Path, exc: tomllib.TOMLDecodeError, text: str) -> PlaybookError:
    line, column = _toml_position(exc)
    d = Diagnostic(ERROR, "config", t("not valid TOML: {reason}", reason=_toml_reason(exc)))
    return PlaybookError([_located(d, path, text, line, column, 1)])


def _validation_diagnostics(path: Path, text: str, exc: ValidationError) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for e in exc.errors(include_url=False):
        loc = tuple(str(p) for p in e["loc"])
        key = ".".join(loc)
        hint = ""
        if e["type"] == "extra_forbidden":
            message = t("unknown key '{key}'", key=key)
            fields = _TABLES.get(loc[:-1])
            if fields is not None:
                names = sorted(fields.model_fields)
                hint = did_you_mean(loc[-1], names) or t("known keys here: {names}", names=", ".join(names))
        else:
            message = _message(e, key)
        line, column = _position(text, loc)
        width = len(loc[-1]) if loc else 0
        found.append(_located(Diagnostic(ERROR, "config", message, hint=hint), path, text, line, column, width))
    return sorted(found, key=Diagnostic.sort_key)


def _message(e: ErrorDetails, key: str) -> str:
    kind, ctx = e["type"], e.get("ctx") or {}
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return t("'{key}' must be a whole number", key=key)
    if kind in ("float_type", "float_parsing"):
        return t("'{key}' must be a number", key=key)
    if kind in ("bool_type", "bool_parsing"):
        return t("'{key}' must be true or false", key=key)
    if kind == "string_type":
        return t("'{key}' must be text in quotes", key=key)
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return t("'{key}' must be a table", key=key)
    if kind == "greater_than":
        return t("'{key}' must be more than {limit}", key=key, limit=_plain(ctx.get("gt")))
    if kind == "greater_than_equal":
        return t("'{key}' must be at least {limit}", key=key, limit=_plain(ctx.get("ge")))
    if kind == "less_than_equal":
        return t("'{key}' must be at most {limit}", key=key, limit=_plain(ctx.get("le")))
    if kind == "value_error" and "error" in ctx:
        return t("'{key}': {reason}", key=key, reason=ctx["error"]) if key else str(ctx["error"])
    return t("'{key}': {reason}", key=key, reason=e["msg"])


def _plain(number: Any) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]")


def _position(text: str, loc: Sequence[str | int]) -> tuple[int, int]:
    """Line and column of the key at `loc` (e.g. ("daemon", "tick")), else of its table's header; (0, 0)
    when neither is written (a default). Good enough for the flat tables this file has."""
    if not loc:
        return (0, 0)
    *table, key = (str(p) for p in loc)
    current: list[str] = []
    header_line = 0
    key_re = re.compile(rf"^(\s*)[\"']?{re.escape(key)}[\"']?\s*=")
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith("[["):
            current = [part.strip().strip("\"'") for part in header.group(1).split(".")]
            if current == [*table, key]:
                header_line = number
            continue
        found = key_re.match(line)
        if found and current == table:
            return (number, len(found.group(1)) + 1)
    if header_line:
        return (header_line, text.splitlines()[header_line - 1].index("[") + 2)
    return (0, 0)
