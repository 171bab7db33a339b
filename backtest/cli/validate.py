"""`backtest validate STRATEGY` (filled by the strategy-parser work)."""

from __future__ import annotations

import click


@click.command()
@click.argument("strategy", type=click.Path(dir_okay=False))
def validate(strategy: str) -> None:
    """Check a strategy file (and its data) without running it."""
    raise click.ClickException("not implemented yet")
