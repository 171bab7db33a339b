"""Property-based fuzzing of the price and halt loaders.

Whatever the input (random column names, types and values written to a real
Parquet file, damaged Parquet bytes, arbitrary halt-calendar text), the
loader either returns data that obeys its documented rules or raises
`DataError`: never another exception, never silently bad numbers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from backtest.domain.halts import END_OF_DAY, MARKET
from backtest.errors import BacktestError, DataError
from backtest.io.halts import load_halts
from backtest.io.prices import load_prices

FUZZ = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

NAMES = ["date", "ticker", "close", "open", "dividend", "Date", "CLOSE", "Ticker", "AAA",
         "BBB", "x", "", " close ", "date "]
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, -1.0, 1e-300, 1e300, float("nan"), float("inf"),
                     float("-inf"), 10.0, 10.5]),
)
DATES = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31))
TEXT = st.one_of(st.text(max_size=8), st.sampled_from(["AAA", "BBB", "", " ", "2024-01-02",
                                                        "2024-02-30", "12.5", "nan", "../x"]))


def column(n: int) -> st.SearchStrategy[pa.Array]:
    """One Parquet column of length n, of a random Arrow type."""
    def arr(values, typ):
        return pa.array(values, type=typ)
    opt = st.none()
    return st.one_of(
        st.lists(st.one_of(FLOATS, opt), min_size=n, max_size=n).map(
            lambda v: arr(v, pa.float64())),
        st.lists(st.one_of(st.integers(-10**6, 10**6), opt), min_size=n, max_size=n).map(
            lambda v: arr(v, pa.int64())),
        st.lists(st.one_of(TEXT, opt), min_size=n, max_size=n).map(
            lambda v: arr(v, pa.string())),
        st.lists(st.one_of(st.booleans(), opt), min_size=n, max_size=n).map(
            lambda v: arr(v, pa.bool_())),
        st.lists(st.one_of(DATES, opt), min_size=n, max_size=n).map(
            lambda v: arr(v, pa.date32())),
        st.lists(st.one_of(DATES.map(lambda d: dt.datetime(d.year, d.month, d.day, 9, 30)),
                           opt), min_size=n, max_size=n).map(
            lambda v: arr(v, pa.timestamp("ns", tz="UTC"))),
        st.lists(st.one_of(st.decimals(allow_nan=False, allow_infinity=False, places=2,
                                       min_value=-1000, max_value=1000), opt),
                 min_size=n, max_size=n).map(lambda v: arr(v, pa.decimal128(12, 2))),
    )


@st.composite
def tables(draw) -> pa.Table:
    n = draw(st.integers(0, 12))
    names = draw(st.lists(st.sampled_from(NAMES), min_size=0, max_size=6, unique=True))
    cols = {name: draw(column(n)) for name in names}
    return pa.table(cols) if cols else pa.table({})


@st.composite
def plausible_long(draw) -> pd.DataFrame:
    """Mostly-valid long frames, each value possibly broken: finds near misses."""
    n = draw(st.integers(1, 15))
    dates = draw(st.lists(st.dates(min_value=dt.date(2024, 1, 1),
                                   max_value=dt.date(2024, 1, 20)), min_size=n, max_size=n))
    tickers = draw(st.lists(st.sampled_from(["AAA", "BBB", "CCC"]), min_size=n, max_size=n))
    df = pd.DataFrame({"date": pd.to_datetime(dates), "ticker": tickers,
                       "close": draw(st.lists(FLOATS, min_size=n, max_size=n))})
    if draw(st.booleans()):
        df["open"] = draw(st.lists(st.one_of(FLOATS, st.none()), min_size=n, max_size=n))
        df["open"] = df["open"].astype("float64")
    if draw(st.booleans()):
        df["dividend"] = draw(st.lists(FLOATS, min_size=n, max_size=n))
    return df


def check_loaded(df: pd.DataFrame) -> None:
    """What `load_prices` promises about its result."""
    assert list(df.columns) == ["date", "ticker", "open", "close", "dividend"]
    assert len(df) > 0
    close, open_, div = (df[c].to_numpy(dtype="float64") for c in ("close", "open", "dividend"))
    assert np.isfinite(close).all() and (close > 0).all()
    assert (np.isnan(open_) | (np.isfinite(open_) & (open_ > 0))).all()
    assert np.isfinite(div).all() and (div >= 0).all()
    assert not df.duplicated(["ticker", "date"]).any()
    assert (df["ticker"].str.strip() != "").all()
    for _, g in df.groupby("ticker"):
        assert g["date"].is_monotonic_increasing
    assert (df["date"] == df["date"].dt.normalize()).all()


def load_or_data_error(path: Path) -> pd.DataFrame | None:
    try:
        df = load_prices(path)
    except DataError as exc:
        line = exc.line()
        assert "\n" not in line and line.startswith(str(path))
        return None
    check_loaded(df)
    return df


@FUZZ
@given(tables())
def test_random_parquet_tables(table: pa.Table) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.parquet"
        pq.write_table(table, path)
        loaded = load_or_data_error(path)
        event("loaded" if loaded is not None else "DataError")
        if loaded is not None:  # `close` and `Close` both there: never a guess between them
            folded = [n.lower() for n in table.column_names]
            assert len(set(folded)) == len(folded), table.column_names


@FUZZ
@given(plausible_long())
def test_near_valid_long_frames(df: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.parquet"
        df.to_parquet(path, index=False)
        out = load_or_data_error(path)
        event("loaded" if out is not None else "DataError")
        if out is not None:
            # nothing dropped, nothing invented
            assert len(out) == len(df)


@FUZZ
@given(st.data())
def test_wide_frames(data) -> None:
    n = data.draw(st.integers(1, 10))
    dates = pd.date_range("2024-01-02", periods=n)
    wide = pd.DataFrame({"date": dates})
    for name in data.draw(st.lists(st.sampled_from(["AAA", "BBB", "x", " "]), max_size=3,
                                   unique=True)):
        wide[name] = data.draw(st.lists(st.one_of(FLOATS, st.none()), min_size=n, max_size=n))
        wide[name] = wide[name].astype("float64")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.parquet"
        wide.to_parquet(path, index=False)
        load_or_data_error(path)


@pytest.fixture(scope="module")
def good_parquet() -> bytes:
    rng = np.random.default_rng(7)
    dates = pd.bdate_range("2024-01-02", periods=60)
    df = pd.DataFrame({"date": np.tile(dates, 3), "ticker": np.repeat(["AAA", "BBB", "CCC"], 60),
                       "open": rng.uniform(10, 20, 180), "close": rng.uniform(10, 20, 180),
                       "dividend": 0.0})
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.parquet"
        df.to_parquet(path, index=False)
        return path.read_bytes()


@FUZZ
@given(st.data())
def test_damaged_parquet_bytes(good_parquet: bytes, data) -> None:
    blob = bytearray(good_parquet)
    how = data.draw(st.sampled_from(["cut", "flip", "zero-run", "splice"]))
    if how == "cut":
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    elif how == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(blob) - 1))
            blob[i] ^= data.draw(st.integers(1, 255))
    elif how == "zero-run":
        i = data.draw(st.integers(0, len(blob) - 1))
        k = data.draw(st.integers(1, 64))
        blob[i:i + k] = bytes(len(blob[i:i + k]))
    else:
        i = data.draw(st.integers(0, len(blob)))
        blob[i:i] = data.draw(st.binary(min_size=1, max_size=32))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.parquet"
        path.write_bytes(bytes(blob))
        event(f"{how}: " + ("loaded" if load_or_data_error(path) is not None else "DataError"))


# --------------------------------------------------------------------------- halts
HEADER = "date,start,end,scope,level,note"
CELLS = {
    "date": st.one_of(DATES.map(str), st.sampled_from(["2024-02-30", "", "2024/01/02",
                                                       "20240102", "x"])),
    "time": st.one_of(
        st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 30), st.integers(0, 70)),
        st.sampled_from(["", "9h30", "25:00", "24:00", "9:30", "09:30:00", " 10:00", "-1:00",
                         "１０:００"])),
    "scope": st.one_of(st.sampled_from(["market", "MARKET", "Market", "markt", "", "AAA",
                                        "../x", "<b>"]), st.text(max_size=6)),
    "level": st.one_of(st.sampled_from(["1", "2", "3", "4", "0", "", "LULD", "news"]),
                       st.text(max_size=4)),
    "note": st.text(max_size=20),
}


@st.composite
def halt_rows(draw) -> str:
    cells = [draw(CELLS["date"]), draw(CELLS["time"]), draw(CELLS["time"]),
             draw(CELLS["scope"]), draw(CELLS["level"]), draw(CELLS["note"])]
    cells = [c.replace("\n", " ").replace("\r", " ") for c in cells]
    if draw(st.booleans()):
        cells = cells[: draw(st.integers(0, 6))]
    return ",".join(cells)


def load_halts_or_data_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "halts.csv"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            halts = load_halts(path)
        except DataError as exc:
            assert "\n" not in exc.line()
            return
    for h in halts:
        assert isinstance(h.date, dt.date)
        assert 0 <= h.start < END_OF_DAY
        assert h.end is None or h.start < h.end <= END_OF_DAY
        assert h.scope.strip() == h.scope and h.scope
        if h.scope == MARKET:
            assert h.level in ("1", "2", "3")
    assert [(h.date, h.start) for h in halts] == sorted((h.date, h.start) for h in halts)


@FUZZ
@given(st.lists(halt_rows(), max_size=6), st.booleans())
def test_halt_calendars_from_plausible_rows(rows: list[str], header: bool) -> None:
    lines = ([HEADER] if header else []) + rows
    load_halts_or_data_error("\n".join(lines) + "\n")


@FUZZ
@given(st.text(max_size=300))
def test_halt_calendars_from_any_text(text: str) -> None:
    load_halts_or_data_error(HEADER + "\n" + text)
    load_halts_or_data_error(text)


@FUZZ
@given(st.binary(max_size=200))
def test_halt_calendars_from_any_bytes(blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "halts.csv"
        path.write_bytes(blob)
        with contextlib.suppress(BacktestError):
            load_halts(path)


@FUZZ
@given(st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
       st.integers(0, 4), st.sampled_from(["date32", "timestamp", "text"]))
def test_dates_far_outside_the_usual_range_name_their_row(day: dt.date, row: int,
                                                          kind: str) -> None:
    days = [dt.date(2024, 1, 2 + i) for i in range(5)]
    days[row] = day
    values = {"date32": pa.array(days, pa.date32()),
              "timestamp": pa.array([dt.datetime(d.year, d.month, d.day) for d in days],
                                    pa.timestamp("us")),
              "text": pa.array([d.isoformat() for d in days])}[kind]
    table = pa.table({"date": values, "ticker": [f"T{i}" for i in range(5)],
                      "close": [10.0] * 5})
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.parquet"
        pq.write_table(table, path)
        try:
            df = load_prices(path)
        except DataError as exc:
            assert f"row {row + 1}" in exc.line(), exc.line()
            assert not pd.Timestamp.min.date() < day < pd.Timestamp.max.date()
            return
        assert day in set(df["date"].dt.date)


QUOTED = st.text(alphabet='ab",\' 1', max_size=10)


@FUZZ
@given(st.lists(st.tuples(QUOTED, QUOTED), min_size=1, max_size=4))
def test_halt_rows_with_quotes_anywhere(cells: list[tuple[str, str]]) -> None:
    """Unterminated and stray quotes in any cell: rows or one line naming the row."""
    lines = [HEADER] + [f"2024-02-06,09:30,{a},market,1,{b}" for a, b in cells]
    load_halts_or_data_error("\n".join(lines) + "\n")
