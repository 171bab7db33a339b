"""`backtest data fetch|info` (filled by the data-layer work)."""

from __future__ import annotations

import click


@click.group()
def data() -> None:
    """Get and inspect price data."""
