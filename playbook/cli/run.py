"""playbook run PATH… [--config playbook.toml] [--db URL] [--port PORT] [--migrate] [--once] [--standby] — the daemon."""

from __future__ import annotations

from pathlib import Path

import click

from playbook.i18n import t


@click.command(name="run", help=t("Run the playbooks as a daemon: decide, send through the adapter, take events."))
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help=t("The daemon's configuration (default: playbook.toml in the current folder, if there is one)."),
)
@click.option("--db", metavar="URL", help=t("The store, overriding the configuration's [store] url."))
@click.option("--adapter", "adapter_name", metavar="NAME", help=t("The adapter, overriding [adapter] name."))
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help=t("The HTTP intake's port, overriding [intake] port (0: off); several daemons on one machine need one each."),
)
@click.option(
    "--migrate", is_flag=True, help=t("Move contacts mid-journey in older versions onto the current version.")
)
@click.option("--once", is_flag=True, help=t("Decide and send what is due now, then stop (no intake, no loop)."))
@click.option(
    "--standby",
    is_flag=True,
    help=t("When another process holds the store, wait and take over when its lease ends (default: refuse)."),
)
@click.option("-v", "--verbose", is_flag=True, help=t("Log every decision and dispatch round."))
@click.option("--yes", is_flag=True, help=t("Approve at the start what waits for approval (for scripts)."))
def command(paths: tuple[str, ...], config_path: Path | None, db: str | None, adapter_name: str | None,
            port: int | None, migrate: bool, once: bool, standby: bool, verbose: bool, yes: bool) -> None:  # fmt: skip
    import logging
    import sys

    from playbook.runtime.config import CONFIG_FILE, load_config, with_overrides
    from playbook.runtime.daemon import Daemon, RunOptions
    from playbook.runtime.logs import PlaybookTimeFormatter

    if config_path is None and Path(CONFIG_FILE).is_file():
        config_path = Path(CONFIG_FILE)
    config = with_overrides(load_config(config_path), db=db, adapter=adapter_name, port=port)
    daemon = Daemon(config, RunOptions(list(paths), migrate=migrate, once=once, standby=standby, yes=yes))
    # Plain lines on stderr, stamped in the playbook's timezone with the offset; a message of
    # several lines (a refused reload's diagnostics) kept as it is, carets in place.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PlaybookTimeFormatter(lambda: daemon.timezone))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.getLogger("playbook").setLevel(logging.DEBUG if verbose else logging.INFO)
    code = daemon.run()
    raise SystemExit(code)
