"""Reading a consumer price index (`date, cpi`, monthly) for CPI-indexed cash flows.

The series a strategy uses is `data.cpi`; without it, `cpi.parquet` beside
the strategy's prices, then the bundled `data/sample/cpi.parquet`.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd

from backtest.domain.strategy import PriceIndex
from backtest.errors import StrategyError

BUNDLED = Path(__file__).resolve().parents[2] / "data" / "sample" / "cpi.parquet"


def default_cpi_path(prices: Path) -> Path | None:
    """`cpi.parquet` beside the prices (a folder of prices: inside it), else the bundled one."""
    base = prices if prices.is_dir() else prices.parent
    for candidate in (base / "cpi.parquet", BUNDLED):
        if candidate.is_file():
            return candidate
    return None


def load_cpi(path: Path, *, source: Path | None, where: str) -> PriceIndex:
    """The series in `path`; a StrategyError (one line, naming `where`) when unusable."""
    def fail(message: str) -> StrategyError:
        return StrategyError(f"{path}: {message}", source=source, where=where)

    if not path.is_file():
        raise fail("no such CPI file (a Parquet or CSV file with columns date, cpi)")
    try:
        df = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 (pyarrow raises many types for a bad file)
        raise fail(f"cannot read the CPI file ({type(exc).__name__})") from None
    cols = {str(c).lower(): c for c in df.columns}
    if "date" not in cols or "cpi" not in cols:
        raise fail("the CPI file needs columns date and cpi")
    try:
        dates = pd.to_datetime(df[cols["date"]]).dt.date
        levels = pd.to_numeric(df[cols["cpi"]]).astype(float)
    except (ValueError, TypeError):
        raise fail("the CPI file's dates or levels are not readable") from None
    rows = sorted(zip(dates, levels, strict=True))
    if not rows:
        raise fail("the CPI file has no rows")
    for d, x in rows:
        if not (math.isfinite(x) and x > 0):
            raise fail(f"the CPI level on {d} is {x!r}, not a positive number")
    out_d: list[dt.date] = []
    out_x: list[float] = []
    for d, x in rows:
        if out_d and out_d[-1] == d:
            raise fail(f"the CPI file has two levels for {d}")
        out_d.append(d)
        out_x.append(float(x))
    return PriceIndex(tuple(out_d), tuple(out_x))
