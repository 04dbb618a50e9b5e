"""Entry point of the ``dtsen`` command; sub-apps live in modules named after their area."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from dtsen import __version__
from dtsen.config import CONFIG_ENV, get_settings, reset_settings
from dtsen.logs import configure_logging

app = typer.Typer(
    name="dtsen",
    help="DTSEN: Data Tunggal Sosial dan Ekonomi Nasional (synthesise, ingest, link, rank, publish).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dtsen {__version__}")
        raise typer.Exit()


@app.callback()
def main(
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
    reset_settings()
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)


def _register() -> None:
    from dtsen.cli import bench, db, ingest, reference, synth

    app.command("synth")(synth.synth)
    app.command("synth-feeds")(synth.synth_feeds)
    app.command("ingest")(ingest.ingest)
    app.add_typer(ingest.quarantine_app, name="quarantine")
    app.add_typer(bench.app, name="bench")
    app.add_typer(db.app, name="db")
    app.add_typer(reference.app, name="reference")
    from dtsen.cli import link

    app.add_typer(link.app, name="link")
    from dtsen.cli import programs, snapshot

    app.add_typer(snapshot.app, name="snapshot")
    app.add_typer(programs.app, name="programs")
    from dtsen.cli import cycle

    app.add_typer(cycle.app, name="cycle")
    from dtsen.cli import feeds

    app.add_typer(feeds.events_app, name="events")
    app.add_typer(feeds.corrections_app, name="corrections")
    from dtsen.cli import welfare

    app.add_typer(welfare.app, name="welfare")
    from dtsen.cli import clients, users

    app.add_typer(users.app, name="users")
    app.add_typer(clients.app, name="clients")
    from dtsen.cli import serve

    app.add_typer(serve.app, name="serve")
    from dtsen.cli import workflows

    app.add_typer(workflows.app, name="workflows")
    from dtsen.cli import sharing

    app.add_typer(sharing.app, name="sharing")
    from dtsen.cli import dci

    app.add_typer(dci.app, name="dci")


_register()


if __name__ == "__main__":
    app()
