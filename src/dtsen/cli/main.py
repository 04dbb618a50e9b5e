"""Entry point of the ``dtsen`` command; sub-apps live in modules named after their area.

The command must start fast (``dtsen --version``/``--help`` well under half a second), so this module
imports only typer: every sub-command is declared here by name and one-line help, and its module (with
the heavy libraries behind it) is imported only when that command runs or its own help is shown.
Settings (pydantic-settings) are loaded in the callback, only when a real command is about to run.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandInfo, TyperInfo

from dtsen import __version__
from dtsen.logs import configure_logging

# the environment variable dtsen.config reads the TOML path from (kept equal there; importing it is slow)
CONFIG_ENV = "DTSEN_CONFIG"
# ctx.meta key: the arguments left for the sub-command, seen before the callback runs
_SUB_ARGS = "dtsen.sub_args"


class Lazy(NamedTuple):
    """Where a sub-command lives: ``attribute`` of ``dtsen.cli.<module>`` is a function or a Typer app."""

    module: str
    attribute: str
    help: str


# Listed in help in this order. `help` must equal the first paragraph of the real command's help:
# tests/test_cli_startup.py compares the two.
COMMANDS: dict[str, Lazy] = {
    "synth": Lazy(
        "synth",
        "synth",
        "Generate a synthetic population: sources/ as agencies ship them, truth/ for measuring, "
        "manifest.json.",
    ),
    "synth-feeds": Lazy(
        "synth",
        "synth_feeds",
        "Write the quarter's synthetic Dukcapil event feed and approved corrections where the cycle picks "
        "them up.",
    ),
    "ingest": Lazy(
        "ingest",
        "ingest",
        "Land files in an immutable batch, conform them to the canonical model, quarantine bad rows.",
    ),
    "backup": Lazy(
        "backup",
        "backup",
        "Back up the data directory and the serving database (pg_dump / SQLite backup API) with a SHA-256\n"
        "manifest; refused while a cycle runs. --verify re-reads a backup: exit 1 on any changed file.",
    ),
    "restore": Lazy(
        "backup",
        "restore",
        "Check every file of a backup against its checksums, then restore the data directory and the\n"
        "serving database into empty ones.",
    ),
    "quarantine": Lazy(
        "ingest", "quarantine_app", "Rows rejected at ingestion: list them, export them for correction."
    ),
    "bench": Lazy(
        "bench", "app", "Benchmarks: each prints one JSON line with stage, sizes, seconds and peak memory."
    ),
    "db": Lazy("db", "app", "Serving database: migrations, reference regions and the audit log."),
    "reference": Lazy(
        "reference", "app", "Reference data: the canonical data model, regions, code lists and NIK/KK checks."
    ),
    "link": Lazy("link", "app", "Linkage: one person, one family, stable IDs (see docs/linkage.md)."),
    "snapshot": Lazy(
        "snapshot", "app", "Published snapshots: list, show a manifest, verify checksums, diff two periods."
    ),
    "programs": Lazy(
        "programs", "app", "Program definitions (YAML): list them, check a new or changed file."
    ),
    "cycle": Lazy(
        "cycle",
        "app",
        "The quarterly cycle: ingest -> link -> apply_events -> score -> eligibility -> publish.",
    ),
    "events": Lazy(
        "feeds",
        "events_app",
        "Dukcapil civil-registration event feeds (births, deaths, moves, marriages, KK splits).",
    ),
    "corrections": Lazy(
        "feeds", "corrections_app", "Approved corrections (ground checks, verval, usulan, sanggahan)."
    ),
    "welfare": Lazy(
        "welfare",
        "app",
        "Welfare ranking: train on a survey, score and rank families, accuracy/fairness report.",
    ),
    "users": Lazy(
        "users", "app", "Staff accounts of the serving app (argon2id passwords, roles bound to regions)."
    ),
    "clients": Lazy(
        "clients", "app", "Machine clients of the API (OAuth2 client credentials -> short-lived JWT)."
    ),
    "serve": Lazy(
        "serve", "app", "Serve the registry: the web app (no sub-command), and the snapshots it serves."
    ),
    "workflows": Lazy(
        "workflows", "app", "Workflow cases: export approved changes, SLA report, outcomes after publish."
    ),
    "sharing": Lazy("sharing", "app", "Agency access requests: scheduled upkeep (expiry)."),
    "dci": Lazy("dci", "app", "DCI interoperability: deliver async answers and pushes, make a test keypair."),
}


class LazyGroup(TyperGroup):
    """The root group: lists COMMANDS from their declared help, imports a module only to run or show it."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._listing = False
        for name, lazy in COMMANDS.items():
            self.commands.setdefault(name, TyperCommand(name=name, help=lazy.help))
        self._loaded: set[str] = set()

    @contextmanager
    def _listing_only(self) -> Iterator[None]:
        """While help or completion lists the sub-commands, the declared stand-ins are enough."""
        self._listing = True
        try:
            yield
        finally:
            self._listing = False

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        if cmd_name in COMMANDS and cmd_name not in self._loaded and not self._listing:
            self.commands[cmd_name] = self.load(cmd_name)
            self._loaded.add(cmd_name)
        return super().get_command(ctx, cmd_name)

    def load(self, name: str) -> Any:
        """The real click command for ``name``, built the way ``app.command``/``app.add_typer`` would."""
        lazy = COMMANDS[name]
        target = getattr(importlib.import_module(f"dtsen.cli.{lazy.module}"), lazy.attribute)
        if isinstance(target, typer.Typer):
            return typer.main.get_group_from_info(
                TyperInfo(target, name=name),
                pretty_exceptions_short=app.pretty_exceptions_short,
                suggest_commands=self.suggest_commands,
                rich_markup_mode=self.rich_markup_mode,
            )
        return typer.main.get_command_from_info(
            CommandInfo(name=name, callback=target),
            pretty_exceptions_short=app.pretty_exceptions_short,
            rich_markup_mode=self.rich_markup_mode,
        )

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        with self._listing_only():
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: typer.Context, incomplete: str) -> Any:
        with self._listing_only():
            return super().shell_complete(ctx, incomplete)

    def resolve_command(self, ctx: typer.Context, args: list[str]) -> Any:
        cmd_name, cmd, rest = super().resolve_command(ctx, args)
        ctx.meta[_SUB_ARGS] = (cmd, rest)
        return cmd_name, cmd, rest


app = typer.Typer(
    name="dtsen",
    cls=LazyGroup,
    rich_markup_mode=None,
    help="DTSEN: Data Tunggal Sosial dan Ekonomi Nasional (synthesise, ingest, link, rank, publish).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dtsen {__version__}")
        raise typer.Exit()


def _help_only(ctx: typer.Context) -> bool:
    """True when the sub-command will only print its help: no settings or logging needed for that."""
    cmd, rest = ctx.meta.get(_SUB_ARGS, (None, []))
    if any(arg in ctx.help_option_names for arg in rest):
        return True
    return not rest and isinstance(cmd, TyperGroup) and cmd.no_args_is_help


@app.callback()
def main(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", help="TOML configuration file (else $DTSEN_CONFIG)."
    ),
    log_level: str | None = typer.Option(None, "--log-level", help="DEBUG, INFO, WARNING, ERROR."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Configure settings and logging once for every sub-command."""
    if config is not None:
        os.environ[CONFIG_ENV] = str(config)
    if log_level is not None:
        os.environ["DTSEN_LOG_LEVEL"] = log_level
    if _help_only(ctx):
        return
    from dtsen.config import get_settings, reset_settings

    reset_settings()
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)


if __name__ == "__main__":
    app()
