"""Reading the bundled monthly factor files (data/sample/ff_monthly.parquet, cpi.parquet).

They are looked for in ``data/sample`` under the current folder, then beside
the package (a source checkout). A missing file is not an error for the
callers that only *use* the data when it is there (the default risk-free
rate); `load_monthly` raises a one-line DataError when it is asked for.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from backtest.errors import DataError

FF_MONTHLY = "ff_monthly.parquet"
CPI = "cpi.parquet"
SEARCH = (Path("data/sample"), Path(__file__).resolve().parents[2] / "data" / "sample")


def find_sample(name: str, search: tuple[Path, ...] = SEARCH) -> Path | None:
    """The first ``folder/name`` of ``search`` that is a file, else None."""
    for folder in search:
        path = folder / name
        if path.is_file():
            return path
    return None


def load_monthly(name: str, columns: tuple[str, ...],
                 search: tuple[Path, ...] = SEARCH) -> pd.DataFrame:
    """A monthly file's ``columns`` indexed by date (a DatetimeIndex), in date order."""
    path = find_sample(name, search)
    if path is None:
        where = ", ".join(str(f) for f in search)
        raise DataError(f"{name} not found in {where} (rebuild it with "
                        "scripts/build_sample_data.py)")
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
        raise DataError(f"cannot read the file ({type(exc).__name__})", source=path) from None
    missing = [c for c in ("date", *columns) if c not in frame.columns]
    if missing:
        raise DataError(f"no {', '.join(missing)} column", source=path)
    out = frame[list(columns)].astype(float)
    out.index = pd.DatetimeIndex(pd.to_datetime(frame["date"]), name="date")
    return out.sort_index()


def default_risk_free(dates, search: tuple[Path, ...] = SEARCH) -> float | None:
    """The Fama-French bill rate over a run's session ``dates`` (annual), or None
    when the file is absent or does not cover every month of the run."""
    from backtest.analytics.factors import risk_free_rate

    try:
        ff = load_monthly(FF_MONTHLY, ("rf",), search)
    except DataError:
        return None
    return risk_free_rate(ff["rf"], dates)


def resolve_risk_free(option: float | None, dates) -> float:
    """``--risk-free`` when given, else the default over ``dates`` (rounded to 0.01%),
    else 0."""
    if option is not None:
        return float(option)
    rate = default_risk_free(dates)
    return 0.0 if rate is None else round(rate, 4)  # to 0.01%: the report shows it
