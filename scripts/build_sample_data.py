#!/usr/bin/env python
"""Rebuild the bundled sample data in data/sample/ from three wheels on PyPI.

Each wheel is a zip: the script reads the data files out of it and never
imports or installs the package (none of them is a dependency of this project).

skfolio 1.12.2 (BSD-3-Clause), adjusted closes, long form `date, ticker, close`:

    sp500_dataset.csv.gz   -> data/sample/sp500_stocks.parquet
    factors_dataset.csv.gz -> data/sample/factors.parquet
    sp500_index.csv.gz     -> data/sample/sp500_index.parquet   (ticker SP500)
    dist-info LICENSE      -> data/sample/LICENSE.skfolio.txt

arch 8.0.0 (NCSA-style licence; the data files are the same in every wheel):

    arch/data/sp500, nasdaq -> data/sample/index_funds.parquet  (SPX, IXIC: open, close)
    arch/data/core_cpi      -> data/sample/cpi.parquet          (date, cpi)
    arch/data/frenchdata    -> data/sample/ff_monthly.parquet   (date, mkt, rf)
    dist-info LICENSE.md    -> data/sample/LICENSE.arch.txt

bokeh_sampledata 2026.1 (the stock prices are Quandl WIKI, public domain):

    _data/stocks.csv.gz     -> data/sample/stocks_dividends.parquet
                               (AAPL, GOOG, IBM, MSFT: split-adjusted open and close,
                               cash dividends on ex-dates; see backtest/io/corporate_actions.py)

Usage:

    python scripts/build_sample_data.py              # downloads the wheels with pip
    python scripts/build_sample_data.py --only arch --arch-wheel /tmp/x/arch-8.0.0-....whl
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the derivation lives in the package (pure pandas, no wheel)

from backtest.io.corporate_actions import split_adjust  # noqa: E402

VERSIONS = {"skfolio": "1.12.2", "arch": "8.0.0", "bokeh_sampledata": "2026.1"}
VERSION = VERSIONS["skfolio"]
MEMBER = "skfolio/datasets/data/{}.csv.gz"
OUTPUTS = {
    "sp500_dataset": "sp500_stocks.parquet",
    "factors_dataset": "factors.parquet",
    "sp500_index": "sp500_index.parquet",
}
# arch's two index files -> the tickers of the "index funds"
INDEX_FUNDS = {"arch/data/sp500/sp500.csv.gz": "SPX", "arch/data/nasdaq/nasdaq.csv.gz": "IXIC"}
STOCKS = ("AAPL", "GOOG", "IBM", "MSFT")  # FB (2012-13, no dividends) is left out


def download_wheel(dest: Path, version: str = VERSION, package: str = "skfolio") -> Path:
    """`pip download --no-deps PACKAGE==VERSION` into dest; returns the wheel's path."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         f"{package}=={version}", "-d", str(dest)],
        check=True,
    )
    wheels = sorted(dest.glob(f"{package}-{version}-*.whl"))
    if not wheels:
        raise SystemExit(f"pip did not produce a {package} {version} wheel in {dest}")
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
    """Long-form prices: date, ticker, then whichever of open, close, dividend it has."""
    cols = {
        "date": pa.array(pd.to_datetime(long["date"]).dt.date, type=pa.date32()),
        "ticker": pa.array(long["ticker"].tolist(), type=pa.string()),
    }
    for name in ("open", "close", "dividend"):
        if name in long.columns:
            cols[name] = pa.array(long[name].to_numpy(dtype="float64"), type=pa.float64())
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(cols), out, compression="zstd")


def write_monthly(frame: pd.DataFrame, out: Path) -> None:
    cols = {"date": pa.array(pd.to_datetime(frame["date"]).dt.date, type=pa.date32())}
    for name in frame.columns[1:]:
        cols[name] = pa.array(frame[name].to_numpy(dtype="float64"), type=pa.float64())
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(cols), out, compression="zstd")


def _describe(out: Path, long: pd.DataFrame) -> None:
    print(f"{out}: {long['ticker'].nunique()} tickers, {long['date'].min().date()} to "
          f"{long['date'].max().date()}, {long['date'].nunique()} dates, {len(long)} rows")


def _licence(z: zipfile.ZipFile, names: tuple[str, ...]) -> bytes | None:
    hits = [n for n in z.namelist() if any(n.endswith(".dist-info/" + x) for x in names)]
    return z.read(hits[0]) if hits else None


def build(wheel: Path, out_dir: Path) -> list[Path]:
    """skfolio's adjusted closes (see the module doc)."""
    written = []
    with zipfile.ZipFile(wheel) as z:
        for name, out_name in OUTPUTS.items():
            raw = z.read(MEMBER.format(name))
            wide = pd.read_csv(io.BytesIO(raw), compression="gzip")
            long = wide_to_long(wide)
            out = out_dir / out_name
            write_long(long, out)
            _describe(out, long)
            written.append(out)
        licence = _licence(z, ("licenses/LICENSE", "LICENSE"))
        if licence:  # BSD-3-Clause: redistributions keep the notice
            out = out_dir / "LICENSE.skfolio.txt"
            out.write_bytes(licence)
            written.append(out)
    return written


def _csv(z: zipfile.ZipFile, member: str) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(z.read(member)), compression="gzip")


def index_funds(z: zipfile.ZipFile) -> pd.DataFrame:
    """The S&P 500 and NASDAQ Composite levels as funds: open and close, no dividend."""
    parts = []
    for member, ticker in INDEX_FUNDS.items():
        raw = _csv(z, member)
        parts.append(pd.DataFrame({
            "date": pd.to_datetime(raw["Date"], format="%m/%d/%Y"),
            "ticker": ticker,
            "open": raw["Open"].astype(float),
            "close": raw["Close"].astype(float),
        }))
    long = pd.concat(parts, ignore_index=True)
    long = long[(long["close"] > 0) & (long["open"] > 0)]
    return long.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)


def core_cpi(z: zipfile.ZipFile) -> pd.DataFrame:
    """FRED CPILFESL (monthly, dated the first of the month) as `date, cpi`."""
    raw = _csv(z, "arch/data/core_cpi/core-cpi.csv.gz")
    return pd.DataFrame({"date": pd.to_datetime(raw["Date"], format="%m/%d/%Y"),
                         "cpi": raw["CPILFESL"].astype(float)})


def ff_monthly(z: zipfile.ZipFile) -> pd.DataFrame:
    """Fama-French monthly factors as `date` (the month's last day), `mkt` (the
    market's total return, Mkt-RF + RF) and `rf`, as fractions (1.5% = 0.015)."""
    raw = _csv(z, "arch/data/frenchdata/frenchdata.csv.gz")
    month = pd.to_datetime(raw["Date"].astype(str), format="%Y%m")
    rf = raw["RF"].astype(float) / 100.0
    # Mkt-RF and RF are percentages with two decimals: add them in percent, then scale,
    # so mkt is the source's total return exactly (no float residue of the sum).
    mkt = (raw["Mkt-RF"].astype(float) + raw["RF"].astype(float)).round(4) / 100.0
    return pd.DataFrame({"date": month + pd.offsets.MonthEnd(0), "mkt": mkt, "rf": rf})


def build_arch(wheel: Path, out_dir: Path) -> list[Path]:
    written = []
    with zipfile.ZipFile(wheel) as z:
        funds = index_funds(z)
        out = out_dir / "index_funds.parquet"
        write_long(funds, out)
        _describe(out, funds)
        written.append(out)
        for name, frame in (("cpi.parquet", core_cpi(z)), ("ff_monthly.parquet", ff_monthly(z))):
            out = out_dir / name
            write_monthly(frame, out)
            print(f"{out}: {frame['date'].min().date()} to {frame['date'].max().date()}, "
                  f"{len(frame)} months")
            written.append(out)
        licence = _licence(z, ("licenses/LICENSE.md", "LICENSE.md", "LICENSE"))
        if licence:  # the licence asks redistributions to keep the notice
            out = out_dir / "LICENSE.arch.txt"
            out.write_bytes(licence)
            written.append(out)
    return written


def stocks_dividends(raw: pd.DataFrame) -> pd.DataFrame:
    """Quoted OHLC + adjusted close (bokeh's stocks.csv) to split-adjusted open and
    close with cash dividends, for STOCKS."""
    parts = []
    for ticker in STOCKS:
        rows = raw[raw["Ticker"] == ticker].sort_values("Date")
        frame = pd.DataFrame({"date": pd.to_datetime(rows["Date"]),
                              "open": rows["Open"].to_numpy(dtype=float),
                              "close": rows["Close"].to_numpy(dtype=float),
                              "adj_close": rows["Adj Close"].to_numpy(dtype=float)})
        part = split_adjust(frame)
        part.insert(1, "ticker", ticker)
        part.loc[~(part["open"] > 0), "open"] = np.nan
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def build_bokeh(wheel: Path, out_dir: Path) -> list[Path]:
    with zipfile.ZipFile(wheel) as z:
        raw = _csv(z, "bokeh_sampledata/_data/stocks.csv.gz")
    long = stocks_dividends(raw)
    out = out_dir / "stocks_dividends.parquet"
    write_long(long, out)
    _describe(out, long)
    return [out]


BUILDERS = {"skfolio": build, "arch": build_arch, "bokeh_sampledata": build_bokeh}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path,
                        help="a downloaded skfolio wheel (else pip downloads it)")
    parser.add_argument("--arch-wheel", type=Path, help="a downloaded arch wheel")
    parser.add_argument("--bokeh-wheel", type=Path, help="a downloaded bokeh_sampledata wheel")
    parser.add_argument("--only", choices=sorted(BUILDERS), action="append",
                        help="build only this source (repeatable; default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "sample",
                        help="output folder (default data/sample)")
    args = parser.parse_args(argv)
    given = {"skfolio": args.wheel, "arch": args.arch_wheel,
             "bokeh_sampledata": args.bokeh_wheel}
    with tempfile.TemporaryDirectory() as tmp:
        for package in args.only or list(BUILDERS):
            wheel = given[package] or download_wheel(Path(tmp), VERSIONS[package], package)
            BUILDERS[package](wheel, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
