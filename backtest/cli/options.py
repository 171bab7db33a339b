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


def force_option(fn: F) -> F:
    """--force: replace an --out folder this tool did not write (see docs/errors.md)."""
    return click.option("--force", is_flag=True,
                        help="Replace (or write into) an --out folder even when it is not "
                             "empty and was not written by this tool.")(fn)


def check_risk_free(rate: float | None) -> None:
    """--risk-free is an annual fraction: finite and within (-1, 1), for every command
    (None: not given, the command's default applies)."""
    from backtest.errors import BacktestError

    if rate is not None and not -1.0 < rate < 1.0:  # also refuses nan
        raise BacktestError(f"--risk-free is a fraction (0.02 = 2%) between -1 and 1, "
                            f"got {rate:g}")


MAX_YEARS = 200  # 50,400 sessions per path: far past any plan, far below what overflows dates
MAX_SEED = 2**63 - 1  # the seed is stored in an int64 column of simulation.parquet


def check_simulate_options(years: float, seed: int, scheduler: str | None) -> None:
    """The options of `simulate` that its library checks leave open, refused up front."""
    from backtest.errors import BacktestError

    if years > MAX_YEARS:
        raise BacktestError(f"--years {years:g} is more than {MAX_YEARS} years")
    if not 0 <= seed <= MAX_SEED:
        raise BacktestError(f"--seed {seed} is not a whole number from 0 to 2^63-1")
    if scheduler is not None:
        check_scheduler(scheduler)


def check_scheduler(address: str) -> None:
    """--scheduler must look like a Dask address (tcp://host:8786) before anything runs."""
    from backtest.sweep.executors import check_address

    check_address(address)
