"""Checking a run folder before `backtest report` rebuilds its page from it.

The folder's files may have been edited or damaged since `backtest run`
wrote them: text where numbers belong, a day twice, a folder where the page
goes. Each such problem is one line naming the file and the column or row,
found before anything is written, rather than a traceback or a page of
silently wrong numbers.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtest.errors import BacktestError
from backtest.io.files import kind_of

# Columns that hold numbers in the tables `backtest run` writes.
NUMERIC = {
    "daily": ("value", "cash", "invested", "net_flow", "twr_index"),
    "trades": ("shares", "price", "amount"),
    "allocations": ("shares", "amount"),
    "holdings": ("shares",),
    "drift": ("target", "actual"),
}
FINITE = ("value", "cash", "invested")  # of daily: never missing or infinite in a run
SUMMARY_NUMBERS = ("final_value", "total_deposits", "total_withdrawals", "total_dividends",
                   "twr", "mwr", "cagr", "volatility", "sharpe", "sortino", "max_drawdown",
                   "max_abs_drift", "calmar", "sessions", "trades")


class RunFolderError(BacktestError):
    """A run folder whose files are not what `backtest run` writes."""


def check_run_folder(run_dir: str | Path, outputs: tuple[str, ...] = ()) -> None:
    """Refuse a folder the report cannot be rebuilt from truthfully.

    `outputs`: the names the report writes (report.html, the charts): each must
    be a regular file if it exists."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError("no such run folder", source=run_dir)
    for name in outputs:
        path = run_dir / name
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            raise RunFolderError(f"is {kind_of(mode)}, where the report writes a file; "
                                 "nothing was touched: move it away", source=path)
    _check_summary(run_dir / "summary.json")
    for table, columns in NUMERIC.items():
        path = run_dir / f"{table}.parquet"
        if path.is_file():
            _check_columns(path, columns)
    daily = run_dir / "daily.parquet"
    if daily.is_file():
        _check_daily(daily)


def read_summary_file(path: Path) -> dict[str, Any]:
    """A run's summary.json as a dict, or one error line naming the file."""
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise RunFolderError(f"invalid JSON ({exc})".splitlines()[0], source=path) from None
    if not isinstance(summary, dict):
        raise RunFolderError("expected a JSON object", source=path)
    return summary


def _check_summary(path: Path) -> None:
    if not path.is_file():
        return
    summary = read_summary_file(path)
    for key in SUMMARY_NUMBERS:
        v = summary.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise RunFolderError(f"{key} is {str(v)[:40]!r}, not a number (was the file "
                                 "edited?)", source=path)


def _check_columns(path: Path, columns: tuple[str, ...]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise RunFolderError(f"cannot read the Parquet file ({type(exc).__name__})",
                             source=path) from None
    for name in columns:
        if name in schema.names:
            typ = schema.field(name).type
            if not (pa.types.is_integer(typ) or pa.types.is_floating(typ)
                    or pa.types.is_decimal(typ) or pa.types.is_null(typ)):
                raise RunFolderError(f"holds {typ} values, not numbers (was the file "
                                     "edited?)", source=path, where=f"column {name}")


def _check_daily(path: Path) -> None:
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise RunFolderError(f"cannot read the Parquet file ({type(exc).__name__})",
                             source=path) from None
    if "date" in df.columns and len(df):
        try:
            dates = pd.to_datetime(df["date"]).to_numpy()
        except (ValueError, TypeError, OverflowError):
            raise RunFolderError("the date column holds values that are not dates",
                                 source=path, where="column date") from None
        bad = np.flatnonzero(~(dates[1:] > dates[:-1]))
        if len(bad):
            i = int(bad[0]) + 1
            what = "the same date as" if dates[i] == dates[i - 1] else "a date before"
            raise RunFolderError(f"{what} row {i} ({str(dates[i])[:10]}): a run has one row "
                                 "per session, in order", source=path, where=f"row {i + 1}")
    for name in FINITE:
        if name in df.columns:
            x = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float)
            bad = np.flatnonzero(~np.isfinite(x))
            if len(bad):
                i = int(bad[0])
                v = df[name].iloc[i]
                shown = "missing" if v is None or (isinstance(v, float) and math.isnan(v)) \
                    else f"{v}, not a finite number"
                raise RunFolderError(f"{name} is {shown}", source=path, where=f"row {i + 1}")
