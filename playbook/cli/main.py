"""The `playbook` command. Subcommands live one per module and are imported only when
run, so `playbook check` does not pay for the engine, the store or the adapters."""

from __future__ import annotations

import importlib

import click

from playbook.cli.click_i18n import click_gettext
from playbook.cli.click_i18n import install as install_click_i18n
from playbook.i18n import LANGUAGES, N_, set_language, t

# command name -> (module, help line)
COMMANDS = {
    "check": ("playbook.cli.check", N_("Parse, compile and lint playbooks; exit 1 on errors.")),
    "fmt": ("playbook.cli.fmt", N_("Rewrite playbooks in the canonical layout.")),
    "compile": ("playbook.cli.compile", N_("Print the schedule graph (a tree, or --json).")),
    "graph": ("playbook.cli.graph", N_("The schedule graph as Mermaid or Graphviz source.")),
    "plan": ("playbook.cli.plan", N_("Dry-run: who gets what, when, from which account. Nothing is sent.")),
    "run": ("playbook.cli.run", N_("The daemon: decide, send through the adapter, take events; SIGTERM stops.")),
    "import": ("playbook.cli.importer", N_("Import contacts or accounts into the store (re-run to update).")),
    "event": ("playbook.cli.event", N_("Append events to the store: TYPE --contact ID key=value…, or --file.")),
    "status": ("playbook.cli.status", N_("What the store holds: pending timers, the ledger by state, dead letters.")),
    "report": ("playbook.cli.report", N_("The seed metrics from the store: service levels, conversion, execution.")),
    "explain": ("playbook.cli.explain", N_("Why a contact got (or did not get) each journey and touch.")),
    "diff": ("playbook.cli.diff", N_("The impact of a change before it is made: graph changes, touches added/removed.")),
    "requeue": ("playbook.cli.requeue", N_("Send unknown (or dead) touches again: back to pending, recorded.")),
    "approve": ("playbook.cli.approve", N_("Let a playbook version that waits for approval send.")),
    "reject": ("playbook.cli.reject", N_("Refuse a playbook version that waits for approval.")),
    "lsp": ("playbook.cli.lsp", N_("The language server for editors, over stdio.")),
}
HELP = N_("Private-domain customer operations (私域运营) as code.")


class TranslatedOption(click.Option):
    """An option made before --lang is read (the group's own): its help is translated
    when shown."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        template = getattr(self, "help_template", None)
        if template:
            self.help = t(template)
        return super().get_help_record(ctx)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[name][0])
        return module.command

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Translated when shown: --lang is read only after this module is imported.
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(t(HELP))

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        help_option = self.get_help_option(ctx)
        if help_option is not None:  # made by click before --lang was read
            help_option.help = click_gettext("Show this message and exit.")
        super().format_options(ctx, formatter)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, t(help_line)) for name, (_, help_line) in COMMANDS.items()]
        with formatter.section(t("Commands")):
            formatter.write_dl(rows)


def _choose_language(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    # Eager, so the language is set before subcommands are imported (their help texts)
    # and before anything runs; without --lang the locale decides (playbook.i18n).
    if value is not None:
        set_language(value)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--lang",
    cls=TranslatedOption,
    type=click.Choice(LANGUAGES),
    callback=_choose_language,
    expose_value=False,
    is_eager=True,
    help=N_("Language of messages: en or zh (default: PLAYBOOK_LANG, then the locale)."),
)
@click.version_option(package_name="playbook", help=N_("Show the version and exit."), cls=TranslatedOption)
def cli() -> None:
    """Private-domain customer operations (私域运营) as code."""


for _param in cli.params:  # translated when shown (TranslatedOption)
    if isinstance(_param, TranslatedOption) and _param.help:
        _param.help_template = _param.help  # type: ignore[attr-defined]
install_click_i18n()


def main() -> None:
    from playbook.diagnostics import PlaybookError

    try:
        cli(standalone_mode=True)
    except PlaybookError as exc:  # bad input anywhere below: diagnostics, exit 1, never a traceback
        from playbook.cli.common import fail

        fail(exc)
    except Exception as exc:  # caused by an optional dependency not installed: say which extra, in one line
        from playbook.extras import missing_extra

        hint = missing_extra(exc)
        if hint is None:
            raise
        from playbook.cli.common import fail
        from playbook.diagnostics import ERROR, Diagnostic

        fail(PlaybookError([Diagnostic(ERROR, "dependency", hint)]))
