#!/usr/bin/env python
"""Rebuild the bundled sample price data in data/sample/ from skfolio's datasets.

skfolio (BSD-3-Clause) ships three small gzipped CSVs of adjusted close
prices in its wheel, under skfolio/datasets/data/. This script takes them out
of the wheel (a zip: skfolio is never imported or installed) and writes them as
long-form Parquet (`date, ticker, close`), dropping missing prices (nothing is
forward-filled):

    sp500_dataset.csv.gz   -> data/sample/sp500_stocks.parquet
    factors_dataset.csv.gz -> data/sample/factors.parquet
    sp500_index.csv.gz     -> data/sample/sp500_index.parquet   (ticker SP500)
    dist-info LICENSE      -> data/sample/LICENSE.skfolio.txt   (BSD-3-Clause notice)

Usage:

    python scripts/build_sample_data.py                       # downloads the wheel with pip
    python scripts/build_sample_data.py --wheel /tmp/skf/skfolio-1.12.2-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

VERSION = "1.12.2"
MEMBER = "skfolio/datasets/data/{}.csv.gz"
OUTPUTS = {
    "sp500_dataset": "sp500_stocks.parquet",
    "factors_dataset": "factors.parquet",
    "sp500_index": "sp500_index.parquet",
}
ROOT = Path(__file__).resolve().parent.parent


def download_wheel(dest: Path, version: str = VERSION) -> Path:
    """`pip download --no-deps skfolio==VERSION` into dest; returns the wheel's path."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         f"skfolio=={version}", "-d", str(dest)],
        check=True,
    )
    wheels = sorted(dest.glob(f"skfolio-{version}-*.whl"))
    if not wheels:
        raise SystemExit(f"pip did not produce a skfolio {version} wheel in {dest}")
    return wheels[0]


def wide_to_long(wide: pd.DataFrame) -> pd.DataFrame:
    """A wide CSV (Date + one column per ticker) to long form, missing prices dropped."""
    wide = wide.rename(columns={wide.columns[0]: "date"})
    wide["date"] = pd.to_datetime(wide["date"])
    long = wide.melt(id_vars="date", var_name="ticker", value_name="close")
    long = long.dropna(subset=["close"])
    long = long[long["close"] > 0]
    long["ticker"] = long["ticker"].astype(str)
    long["close"] = long["close"].astype("float64")
    return long.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)


def write_long(long: pd.DataFrame, out: Path) -> None:
    table = pa.table(
        {
            "date": pa.array(long["date"].dt.date, type=pa.date32()),
            "ticker": pa.array(long["ticker"].tolist(), type=pa.string()),
            "close": pa.array(long["close"].to_numpy(), type=pa.float64()),
        }
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out, compression="zstd")


def build(wheel: Path, out_dir: Path) -> list[Path]:
    written = []
    with zipfile.ZipFile(wheel) as z:
        for name, out_name in OUTPUTS.items():
            raw = z.read(MEMBER.format(name))
            wide = pd.read_csv(io.BytesIO(raw), compression="gzip")
            long = wide_to_long(wide)
            out = out_dir / out_name
            write_long(long, out)
            print(f"{out}: {long['ticker'].nunique()} tickers, {long['date'].min().date()} to "
                  f"{long['date'].max().date()}, {long['date'].nunique()} dates, "
                  f"{len(long)} rows")
            written.append(out)
        licence = [n for n in z.namelist() if n.endswith(".dist-info/licenses/LICENSE")
                   or n.endswith(".dist-info/LICENSE")]
        if licence:  # BSD-3-Clause: redistributions keep the notice
            out = out_dir / "LICENSE.skfolio.txt"
            out.write_bytes(z.read(licence[0]))
            written.append(out)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path,
                        help="a downloaded skfolio wheel (else pip downloads it)")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "sample",
                        help="output folder (default data/sample)")
    args = parser.parse_args(argv)
    if args.wheel:
        build(args.wheel, args.out)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            build(download_wheel(Path(tmp)), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
