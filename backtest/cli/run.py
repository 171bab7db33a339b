"""`backtest run STRATEGY` (filled by the engine work)."""

from __future__ import annotations

import click


@click.command()
@click.argument("strategy", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default=None)
def run(strategy: str, out: str | None) -> None:
    """Run a strategy over its price data and write the run's files."""
    raise click.ClickException("not implemented yet")
