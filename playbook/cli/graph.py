"""playbook graph PATH… [--format mermaid|dot] — the schedule graph as picture source."""

from __future__ import annotations

import click

from playbook.cli.common import paths_argument
from playbook.cli.compile import compile_or_exit


@click.command(name="graph")
@paths_argument
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True)
def command(paths: tuple[str, ...], fmt: str) -> None:
    """Print the schedule graph as Mermaid or Graphviz dot source."""
    from playbook.compiler import graph

    for pb in compile_or_exit(paths):
        click.echo(graph.mermaid(pb) if fmt == "mermaid" else graph.dot(pb), nl=False)
