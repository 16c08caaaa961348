"""playbook graph PATH… [--format mermaid|dot|svg|png] [--out FILE] — the whole playbook as a
picture: Mermaid or Graphviz dot source, or an SVG/PNG drawn by Graphviz's `dot` from the dot
source (Graphviz is a system package: apt-get install graphviz)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import click

from playbook.cli.common import paths_argument
from playbook.cli.compile import compile_or_exit
from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
from playbook.i18n import t

RENDERED = ("svg", "png")
DOT_TIMEOUT = 120  # seconds; a playbook's graph is drawn in well under one


def _error(message: str) -> PlaybookError:
    return PlaybookError([Diagnostic(ERROR, "graph", message)])


def render(source: str, fmt: str) -> bytes:
    """The dot `source` drawn as `fmt` (svg or png) by Graphviz's `dot`."""
    exe = shutil.which("dot")
    if exe is None:
        raise _error(t("Graphviz's dot is not installed: install Graphviz: apt-get install graphviz"))
    try:
        done = subprocess.run(
            [exe, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True, timeout=DOT_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _error(t("Graphviz's dot failed: {reason}", reason=exc)) from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _error(t("Graphviz's dot failed: {reason}", reason=reason[0] if reason else done.returncode))
    return done.stdout


@click.command(name="graph", help=t("Draw the playbook: Mermaid or dot source, or SVG/PNG via Graphviz."))
@paths_argument
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", *RENDERED]),
    default="mermaid",
    show_default=True,
    help=t("mermaid for Markdown and Feishu docs, dot for Graphviz; svg, png drawn by Graphviz."),
)
@click.option(
    "--out", type=click.Path(dir_okay=False), help=t("Write the output to this file instead of the terminal.")
)
def command(paths: tuple[str, ...], fmt: str, out: str | None) -> None:
    """Draw the playbook: Mermaid or dot source, or SVG/PNG via Graphviz."""
    from playbook.compiler import graph

    if fmt in RENDERED and len(paths) > 1:
        raise click.UsageError(t("--format {fmt} draws one playbook: give one PATH", fmt=fmt))
    if fmt == "png" and out is None and sys.stdout.isatty():
        raise click.UsageError(t("--format png writes an image: give --out FILE"))
    playbooks = compile_or_exit(paths)
    if fmt in RENDERED:
        data = render(graph.dot(playbooks[0]), fmt)
    else:
        data = "".join(graph.mermaid(pb) if fmt == "mermaid" else graph.dot(pb) for pb in playbooks).encode("utf-8")
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        Path(out).write_bytes(data)
    except OSError as exc:
        raise _error(t("cannot write {path}: {reason}", path=out, reason=exc.strerror or exc)) from None
