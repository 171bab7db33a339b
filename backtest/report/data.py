"""Reading a run folder (the files `backtest run` writes) for the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from backtest.errors import BacktestError

COLUMNS: dict[str, list[str]] = {
    "daily": ["date", "value", "cash", "invested", "net_flow", "twr_index"],
    "trades": ["date", "window", "ticker", "side", "shares", "price", "amount"],
    "allocations": ["date", "slice", "ticker", "shares", "amount", "reason"],
    "holdings": ["date", "slice", "ticker", "shares"],
    "drift": ["date", "slice", "target", "actual"],
    "events": ["date", "kind", "detail"],
    "lots": ["slice", "ticker", "open_date", "shares", "cost", "value"],
}
REQUIRED = ("daily",)


@dataclass
class RunData:
    """A run's outputs as frames (empty frames with the spec's columns when absent)."""

    run_dir: Path
    summary: dict[str, Any]
    daily: pd.DataFrame
    trades: pd.DataFrame = field(default_factory=pd.DataFrame)
    allocations: pd.DataFrame = field(default_factory=pd.DataFrame)
    holdings: pd.DataFrame = field(default_factory=pd.DataFrame)
    drift: pd.DataFrame = field(default_factory=pd.DataFrame)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    lots: pd.DataFrame | None = None  # None when the folder has no lots.parquet (older runs)

    @property
    def name(self) -> str:
        return str(self.summary.get("name") or self.run_dir.name)


def _read_table(path: Path, name: str) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise BacktestError(f"cannot read the Parquet file ({type(exc).__name__})",
                            source=path) from None
    missing = [c for c in COLUMNS[name] if c not in df.columns]
    if missing:
        raise BacktestError(f"missing column(s) {', '.join(missing)}", source=path)
    if "date" not in df.columns:
        return df
    if "date" in df.columns:
        try:
            df["date"] = pd.to_datetime(df["date"])
        except (ValueError, TypeError):
            raise BacktestError("the date column holds values that are not dates",
                                source=path) from None
    return df.sort_values("date", kind="stable").reset_index(drop=True)


def load_run(run_dir: str | Path) -> RunData:
    """Read a run folder; `BacktestError` (one line) when it is missing or invalid.

    ``daily.parquet`` is required; ``summary.json`` and the other tables are
    read when present.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise BacktestError("no such run folder", source=run_dir)
    summary: dict[str, Any] = {}
    sp = run_dir / "summary.json"
    if sp.exists():
        from backtest.io.run_checks import read_summary_file

        summary = read_summary_file(sp)
    frames: dict[str, Any] = {}
    for name in COLUMNS:
        path = run_dir / f"{name}.parquet"
        if path.exists():
            frames[name] = _read_table(path, name)
        elif name in REQUIRED:
            raise BacktestError(f"not a run folder: {name}.parquet is missing", source=run_dir)
        elif name == "lots":
            frames[name] = None
        else:
            frames[name] = pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "date"
                                                      else object) for c in COLUMNS[name]})
    if len(frames["daily"]) == 0:
        raise BacktestError("daily.parquet has no sessions", source=run_dir / "daily.parquet")
    return RunData(run_dir=run_dir, summary=summary, **frames)
