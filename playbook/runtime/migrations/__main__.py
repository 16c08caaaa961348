"""`python -m playbook.runtime.migrations --db URL ALEMBIC-COMMAND …`: Alembic's own
commands (upgrade, downgrade, revision --autogenerate, history, current) on a store."""

from __future__ import annotations

import sys

from alembic.config import CommandLine


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[0] != "--db":
        sys.exit("usage: python -m playbook.runtime.migrations --db URL ALEMBIC-COMMAND …")
    from playbook.runtime.migrations import alembic_config
    from playbook.runtime.store import normalize_url

    cli = CommandLine(prog="python -m playbook.runtime.migrations --db URL")
    options = cli.parser.parse_args(argv[2:])
    cfg = alembic_config()
    cfg.set_main_option("sqlalchemy.url", normalize_url(argv[1]).replace("%", "%%"))
    cli.run_cmd(cfg, options)


if __name__ == "__main__":
    main(sys.argv[1:])
