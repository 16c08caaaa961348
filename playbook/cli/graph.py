"""playbook graph PATH… [--format mermaid|dot] — the schedule graph as picture source."""

from __future__ import annotations

import click

from playbook.cli.common import paths_argument
from playbook.cli.compile import compile_or_exit
from playbook.i18n import t


@click.command(name="graph", help=t("Print the schedule graph as Mermaid or Graphviz dot source."))
@paths_argument
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help=t("mermaid for Markdown and Feishu docs, dot for Graphviz."),
)
def command(paths: tuple[str, ...], fmt: str) -> None:
    """Print the schedule graph as Mermaid or Graphviz dot source."""
    from playbook.compiler import graph

    for pb in compile_or_exit(paths):
        click.echo(graph.mermaid(pb) if fmt == "mermaid" else graph.dot(pb), nl=False)
