"""CSV copies of a folder's Parquet tables (`--csv`), for spreadsheets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from backtest.report.build import atomic_write


def write_csv_copies(folder: Path) -> list[Path]:
    """Write ``NAME.csv`` beside every ``NAME.parquet`` in ``folder`` (atomically each);
    return the CSV paths. Dates are written as ISO text, floats in full."""
    written = []
    for pq in sorted(Path(folder).glob("*.parquet")):
        frame = pd.read_parquet(pq)
        data = frame.to_csv(index=False, date_format="%Y-%m-%d").encode("utf-8")
        written.append(atomic_write(pq.with_suffix(".csv"), data))
    return written
