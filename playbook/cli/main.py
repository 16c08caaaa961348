"""The `playbook` command. Subcommands live one per module and are imported only when
run, so `playbook check` does not pay for the engine, the store or the adapters."""

from __future__ import annotations

import importlib

import click

# command name -> (module, help line)
COMMANDS = {
    "check": ("playbook.cli.check", "Parse, compile and lint playbooks; exit 1 on errors."),
    "fmt": ("playbook.cli.fmt", "Rewrite playbooks in the canonical layout."),
    "compile": ("playbook.cli.compile", "Print the schedule graph (a tree, or --json)."),
    "graph": ("playbook.cli.graph", "The schedule graph as Mermaid or Graphviz source."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[name][0])
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_line) for name, (_, help_line) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="playbook")
def cli() -> None:
    """Private-domain customer operations (私域运营) as code."""


def main() -> None:
    from playbook.diagnostics import PlaybookError

    try:
        cli(standalone_mode=True)
    except PlaybookError as exc:  # bad input anywhere below: diagnostics, exit 1, never a traceback
        from playbook.cli.common import fail

        fail(exc)
