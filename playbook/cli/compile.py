"""playbook compile PATH… [--json] — the schedule graph, as a tree or as stable JSON."""

from __future__ import annotations

import sys

import click

from playbook.cli.common import EXIT_ERRORS, console, paths_argument, print_diagnostics
from playbook.i18n import t


def compile_or_exit(paths: tuple[str, ...]) -> list[dict]:
    """Compile every PATH to its IR document; on any error print the diagnostics and exit 1."""
    from playbook.compiler import compile_path

    results = [compile_path(p) for p in paths]
    if any(not r.ok for r in results):
        print_diagnostics([d for r in results for d in r.errors], stderr=True)
        sys.exit(EXIT_ERRORS)
    return [r.doc for r in results]


@click.command(name="compile", help=t("Print the schedule graph of each playbook."))
@paths_argument
@click.option("--json", "as_json", is_flag=True, help=t("Stable JSON (sorted keys, ir_version, version id)."))
def command(paths: tuple[str, ...], as_json: bool) -> None:
    """Print the schedule graph of each playbook."""
    from playbook.compiler.canonical import dumps

    playbooks = compile_or_exit(paths)
    if as_json:
        # One PATH: the playbook's IR object; several: a list of them.
        click.echo(dumps(playbooks[0] if len(playbooks) == 1 else playbooks))
        return
    from playbook.cli.tree import playbook_tree

    out = console()
    for pb in playbooks:
        # soft_wrap off: a line longer than the width wraps under its tree guide (the console's
        # soft wrap would let rich's Tree crop it at the width with no mark).
        out.print(playbook_tree(pb), soft_wrap=False)
