"""The store's schema migrations (Alembic), shipped with the package and run by
`Store.migrate()`: users need no alembic.ini.

For developers changing the schema: edit schema.py, then let Alembic write the next
revision from the difference with a database at the current head:

    python -m playbook.runtime.migrations --db sqlite:///dev.db upgrade head
    python -m playbook.runtime.migrations --db sqlite:///dev.db revision --autogenerate -m "what changed"

and read what it wrote (tests/runtime/test_migrations.py checks both backends end at schema.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.config import Config

HERE = Path(__file__).resolve().parent


def alembic_config(connection: Any = None) -> Config:
    """An Alembic configuration for our scripts; with `connection`, migrations run on it
    (inside the caller's transaction)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg
