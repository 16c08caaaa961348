"""The PostgreSQL server the store benchmarks (`scaleout.py`, `idle.py`) create their
databases on: its admin URL, and one statement run outside a transaction."""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa


def admin_url(given: str | None, script: str) -> sa.URL:
    """`--db`, else $PLAYBOOK_BENCH_PG_URL, else $PLAYBOOK_TEST_PG_URL (`script` names the
    benchmark in the message when there is none)."""
    raw = given or os.environ.get("PLAYBOOK_BENCH_PG_URL") or os.environ.get("PLAYBOOK_TEST_PG_URL")
    if not raw:
        raise SystemExit(f"{script} needs PostgreSQL: --db URL, or PLAYBOOK_BENCH_PG_URL")
    from playbook.runtime.store import normalize_url

    return sa.make_url(normalize_url(raw))


def sql(url: sa.URL, statement: str) -> Any:
    """Run `statement` in autocommit (CREATE/DROP DATABASE need it); its first row, if any."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            result = conn.execute(sa.text(statement))
            return result.first() if result.returns_rows else None
    finally:
        engine.dispose()
