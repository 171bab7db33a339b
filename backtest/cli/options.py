"""Option groups shared by commands (as decorators)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def executor_options(fn: F) -> F:
    """--workers and --scheduler: where many runs (variants, paths) execute."""
    fn = click.option("--scheduler", metavar="ADDRESS", default=None,
                      help="Run on this Dask distributed scheduler (tcp://host:8786) "
                           "instead.")(fn)
    fn = click.option("--workers", type=click.IntRange(min=1), default=None,
                      help="Local worker processes [default: every core]; 1 runs in this "
                           "process.")(fn)
    return fn
