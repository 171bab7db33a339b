"""Finding a consumer price index for the report's real (inflation-adjusted) figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

NAME = "cpi.parquet"  # columns: date, cpi (a monthly index level)
DEFAULT_SEARCH = (Path("data/sample"), Path("data"))


def find_cpi(*folders: Path | str | None) -> pd.Series | None:
    """The first readable ``cpi.parquet`` in ``folders`` then data/sample and data
    (relative to the current folder), as a Series by date; None when there is none.

    A file that cannot be read or lacks the columns is passed over: the real
    figures are extra, never a reason for a run to fail."""
    for folder in (*[Path(f) for f in folders if f is not None], *DEFAULT_SEARCH):
        path = folder / NAME
        if not path.is_file():
            continue
        try:
            df = pd.read_parquet(path, columns=["date", "cpi"])
            s = pd.Series(pd.to_numeric(df["cpi"], errors="coerce").to_numpy(dtype=float),
                          index=pd.DatetimeIndex(pd.to_datetime(df["date"])), name="cpi")
        except Exception:  # noqa: BLE001 - an unreadable file is simply not used
            continue
        s = s.dropna()
        if len(s):
            return s.sort_index()
    return None
