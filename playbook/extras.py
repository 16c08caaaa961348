"""Optional dependencies: which `pip install playbook[EXTRA]` brings a module that only
some users need, and the one line to say when it is missing.

    playbook status --db postgresql+psycopg://…     (psycopg not installed)
    error: psycopg is not installed: install playbook[postgresql] (pip install 'playbook[postgresql]')

`OPTIONAL` lists every module the package imports that comes from an optional extra in
pyproject.toml and not from the core dependencies (tests/test_extras.py checks the list
against pyproject.toml and the imports in playbook/).
"""

from __future__ import annotations

from playbook.i18n import t

# importable top-level module -> the extra of pyproject.toml that installs it
OPTIONAL: dict[str, str] = {
    "psycopg": "postgresql",  # SQLAlchemy's postgresql+psycopg:// driver (the store on PostgreSQL)
    "pygls": "lsp",  # the language server (`playbook lsp`)
    "lsprotocol": "lsp",  # its protocol types
    "altair": "html",  # plan --format html: the charts (playbook/plan/html.py says so itself)
    "vl_convert": "html",  # … rendered to inline SVG
    "lark_cython": "fast",  # the parser's LALR loop compiled (syntax/parser.py falls back to Lark's own)
}


def missing_extra(exc: BaseException) -> str | None:
    """The one-line "install playbook[EXTRA]" message when `exc` (or what caused it) is an
    optional module failing to import; None for any other error."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, ImportError) and error.name:
            module = error.name.split(".")[0]
            if module in OPTIONAL:
                extra = OPTIONAL[module]
                return t(
                    "{module} is not installed: install playbook[{extra}] (pip install 'playbook[{extra}]')",
                    module=module,
                    extra=extra,
                )
        error = error.__cause__ or error.__context__
    return None
