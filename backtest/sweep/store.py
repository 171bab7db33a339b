"""Finished variants on disk: `<out>/variants/<hash>/`, each folder written atomically.

A variant's folder holds summary.json (what `backtest run` would write),
daily.parquet (its daily value, cash, flows and TWR index: the charts' lines)
and variant.json (what ran, extra measures, CPU seconds); with `--keep-runs`
also every other table of the run (trades, allocations, holdings, drift,
events, fills, lots, realized), and with `--variant-reports` its report.

A folder whose summary.json reads as a JSON object and whose Parquet files
have readable footers is a finished variant: a rerun of the same sweep skips
it, so an interrupted sweep resumes where it stopped. A damaged folder (a
truncated table, an edited summary) is not finished: it is run again and
replaced; so is a compact folder when the sweep now keeps runs (or reports).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from backtest.io.run_output import atomic_folder
from backtest.sweep.runner import VARIANT_FILE

VARIANTS = "variants"
FULL_MARK = "trades.parquet"  # present in a whole run folder only
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def check_reportable(folder: str | Path) -> None:
    """Refuse a compare variant's compact folder (variant.json `tables: false`): its
    report would lack the trades, drift and holdings it is built from."""
    from backtest.errors import BacktestError

    meta = Path(folder) / VARIANT_FILE
    try:
        tables = json.loads(meta.read_text("utf-8")).get("tables", True) \
            if meta.is_file() else True
    except (OSError, ValueError, AttributeError):
        return  # not a variant.json this tool wrote: the run folder's own checks decide
    if tables is False:
        raise BacktestError("a compare variant kept compact (summary.json and "
                            "daily.parquet only): its report needs the run's tables; run "
                            "the compare again with --keep-runs or --variant-reports",
                            source=folder)


class ResultStore:
    """The variant folders under one sweep's output folder."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.root = self.out / VARIANTS

    def folder(self, digest: str) -> Path:
        return self.root / digest

    def done(self, digest: str, *, tables: bool = False, report: bool = False) -> bool:
        """Whether the variant's folder is complete and readable (else it is rerun);
        with `tables`, also whether it holds the whole run, with `report` its report."""
        folder = self.folder(digest)
        if tables and not (folder / FULL_MARK).is_file():
            return False
        if report and not (folder / "report.html").is_file():
            return False
        try:
            if folder.is_symlink() or not (folder / "summary.json").is_file():
                return False
            summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
            if not isinstance(summary, dict):
                return False
            for table in folder.glob("*.parquet"):
                pq.read_metadata(table)
            meta = folder / VARIANT_FILE
            if meta.exists() and not isinstance(json.loads(meta.read_text("utf-8")), dict):
                return False
        except (OSError, ValueError, pa.ArrowException):
            return False
        return (folder / "daily.parquet").is_file()

    def write(self, digest: str, files: dict[str, bytes]) -> Path:
        """Write a variant's files; the folder appears only when all are written."""
        dest = self.folder(digest)
        with atomic_folder(dest) as tmp:
            os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes 0700; give the usual mode
            for name, data in files.items():
                if "/" in name or name.startswith("."):
                    raise ValueError(f"bad file name from a worker: {name!r}")
                (tmp / name).write_bytes(data)
        return dest

    def summary(self, digest: str) -> dict[str, Any]:
        return json.loads((self.folder(digest) / "summary.json").read_text())

    def meta(self, digest: str) -> dict[str, Any]:
        path = self.folder(digest) / VARIANT_FILE
        return json.loads(path.read_text()) if path.is_file() else {}

    def daily(self, digest: str, columns: list[str] | None = None) -> pd.DataFrame:
        return pd.read_parquet(self.folder(digest) / "daily.parquet", columns=columns)
