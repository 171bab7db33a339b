"""load_prices: long and wide form, folders, and one error per validation rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.errors import DataError
from backtest.io.prices import load_prices, validate_prices

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests/fixtures/spec_examples/data/tiny_prices.parquet"
SAMPLE = ROOT / "data/sample"


def _long(**overrides) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-02", "2024-01-03"]),
            "ticker": ["AAA", "AAA", "BBB", "BBB"],
            "close": [10.0, 11.0, 20.0, 21.0],
        }
    )
    for k, v in overrides.items():
        df[k] = v
    return df


def _write(tmp_path: Path, df: pd.DataFrame, name: str = "p.parquet") -> Path:
    path = tmp_path / name
    df.to_parquet(path, index=False)
    return path


def _error(path: Path) -> DataError:
    with pytest.raises(DataError) as info:
        load_prices(path)
    err = info.value
    assert "\n" not in err.line()
    assert err.source == str(path)
    return err


def test_long_form_minimal(tmp_path):
    df = load_prices(_write(tmp_path, _long()))
    assert list(df.columns) == ["date", "ticker", "open", "close", "dividend"]
    assert df["date"].dtype == "datetime64[ns]"
    assert df.attrs["has_open"] is False and df.attrs["has_dividend"] is False
    assert df["open"].isna().all()
    assert (df["dividend"] == 0).all()
    assert df["close"].tolist() == [10.0, 11.0, 20.0, 21.0]


def test_long_form_with_open_and_dividend(tmp_path):
    df = load_prices(_write(tmp_path, _long(open=[9.9, np.nan, 19.9, 20.5],
                                            dividend=[0.0, np.nan, 0.25, 0.0])))
    assert df.attrs["has_open"] is True and df.attrs["has_dividend"] is True
    assert np.isnan(df["open"].iat[1])  # NaN open = no open price that day
    assert df["dividend"].tolist() == [0.0, 0.0, 0.25, 0.0]


def test_date32_and_string_dates(tmp_path):
    d = _long()
    d["date"] = d["date"].dt.strftime("%Y-%m-%d")
    df = load_prices(_write(tmp_path, d))
    assert df["date"].iat[0] == pd.Timestamp("2024-01-02")


def test_wide_form_equals_long_form(tmp_path):
    wide = pd.DataFrame({"date": pd.to_datetime(["2024-01-02", "2024-01-03"]),
                         "AAA": [10.0, 11.0], "BBB": [20.0, 21.0]})
    a = load_prices(_write(tmp_path, wide, "w.parquet"))
    b = load_prices(_write(tmp_path, _long(), "l.parquet"))
    pd.testing.assert_frame_equal(a, b, check_like=False)


def test_wide_form_empty_cell_is_no_price(tmp_path):
    wide = pd.DataFrame({"date": pd.to_datetime(["2024-01-02", "2024-01-03"]),
                         "AAA": [np.nan, 11.0], "BBB": [20.0, 21.0]})
    df = load_prices(_write(tmp_path, wide))
    assert df[df.ticker == "AAA"]["date"].tolist() == [pd.Timestamp("2024-01-03")]


def test_folder_is_concatenated(tmp_path):
    d = _long()
    _write(tmp_path, d.iloc[:2], "a.parquet")
    _write(tmp_path, d.iloc[2:], "b.parquet")
    (tmp_path / "notes.txt").write_text("ignored")
    df = load_prices(tmp_path)
    assert len(df) == 4 and sorted(df.ticker.unique()) == ["AAA", "BBB"]


def test_folder_duplicate_across_files(tmp_path):
    d = _long()
    _write(tmp_path, d.iloc[:3], "a.parquet")
    _write(tmp_path, d.iloc[2:], "b.parquet")
    match = r"duplicate row for BBB on 2024-01-02 \(in a.parquet and b.parquet\)"
    with pytest.raises(DataError, match=match):
        load_prices(tmp_path)


def test_missing_close_column(tmp_path):
    err = _error(_write(tmp_path, _long().drop(columns="close")))
    assert err.where == "column close" and "missing column 'close'" in err.message


def test_missing_date_column(tmp_path):
    err = _error(_write(tmp_path, _long().drop(columns="date")))
    assert err.where == "column date"


def test_string_price(tmp_path):
    err = _error(_write(tmp_path, _long(close=["10", "11", "abc", "21"])))
    assert err.where == "row 1" and "is not a number" in err.message


def test_nan_close_is_no_price_that_day(tmp_path):
    # A NaN close is no price that day, as a missing row is: AAA's 2024-01-03 row goes
    # (its open too); a NaN-close row that pays a dividend keeps the dividend, unpriced.
    df = load_prices(_write(tmp_path, _long(close=[10.0, np.nan, 20.0, 21.0])))
    assert df[["ticker", "close"]].values.tolist() == [["AAA", 10.0], ["BBB", 20.0],
                                                       ["BBB", 21.0]]
    paid = _long(close=[10.0, np.nan, 20.0, 21.0], open=[10.0, 11.0, 20.0, 21.0],
                 dividend=[0.0, 0.25, 0.0, 0.0])
    df = load_prices(_write(tmp_path, paid, "q.parquet"))
    row = df[(df["ticker"] == "AAA") & (df["date"] == pd.Timestamp("2024-01-03"))]
    assert row["dividend"].tolist() == [0.25]
    assert row["close"].isna().all() and row["open"].isna().all()


def test_inf_close(tmp_path):
    err = _error(_write(tmp_path, _long(close=[10.0, 11.0, np.inf, 21.0])))
    assert err.where == "row 3" and "infinite" in err.message


def test_inf_open(tmp_path):
    err = _error(_write(tmp_path, _long(open=[1.0, -np.inf, 1.0, 1.0])))
    assert err.where == "row 2" and "open is infinite" in err.message


@pytest.mark.parametrize("bad", [0.0, -5.0])
def test_non_positive_close(tmp_path, bad):
    err = _error(_write(tmp_path, _long(close=[10.0, 11.0, 20.0, bad])))
    assert err.where == "row 4" and "not positive" in err.message


def test_non_positive_open(tmp_path):
    err = _error(_write(tmp_path, _long(open=[1.0, 0.0, 1.0, 1.0])))
    assert err.where == "row 2" and "open 0 is not positive" in err.message


def test_negative_dividend(tmp_path):
    err = _error(_write(tmp_path, _long(dividend=[0.0, 0.0, -0.1, 0.0])))
    assert err.where == "row 3" and "dividend -0.1 is negative" in err.message


def test_duplicate_rows(tmp_path):
    d = _long()
    d.loc[3, "date"] = pd.Timestamp("2024-01-02")
    err = _error(_write(tmp_path, d))
    assert err.where == "row 4"
    assert "duplicate row for BBB on 2024-01-02 (also row 3)" in err.message


def test_unsorted_dates(tmp_path):
    d = _long(close=[11.0, 10.0, 20.0, 21.0])
    d["date"] = pd.to_datetime(["2024-01-03", "2024-01-02", "2024-01-02", "2024-01-03"])
    err = _error(_write(tmp_path, d))
    assert err.where == "row 2" and "dates not sorted for AAA" in err.message


def test_bad_date(tmp_path):
    d = _long()
    d["date"] = ["2024-01-02", "not a date", "2024-01-02", "2024-01-03"]
    err = _error(_write(tmp_path, d))
    assert err.where == "row 2" and "not a date" in err.message


def test_empty_ticker(tmp_path):
    err = _error(_write(tmp_path, _long(ticker=["AAA", "AAA", None, "BBB"])))
    assert err.where == "row 3" and "ticker is empty" in err.message


def test_truncated_parquet(tmp_path):
    good = _write(tmp_path, _long())
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(good.read_bytes()[:-40])
    err = _error(bad)
    assert "not a readable Parquet file" in err.message


def test_garbage_file(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_text("date,ticker,close\n2024-01-02,AAA,1\n")
    assert "not a readable Parquet file" in _error(bad).message


def test_empty_file(tmp_path):
    bad = tmp_path / "empty.parquet"
    bad.write_bytes(b"")
    assert _error(bad).message == "file is empty"


def test_parquet_without_rows(tmp_path):
    assert "no rows" in _error(_write(tmp_path, _long().iloc[:0])).message


def test_empty_folder(tmp_path):
    assert "no .parquet files" in _error(tmp_path).message


def test_missing_path(tmp_path):
    assert "not found" in _error(tmp_path / "nope.parquet").message


def test_validate_prices_in_memory():
    df = validate_prices(_long(open=[1.0, 1.0, 2.0, 2.0]))
    assert df.attrs["has_open"] is True
    with pytest.raises(DataError, match="not positive"):
        validate_prices(_long(close=[1.0, 0.0, 1.0, 1.0]))


def test_spec_example_prices_load():
    df = load_prices(TINY)
    assert sorted(df.ticker.unique()) == ["AAA", "BBB", "CCC"]
    assert df.attrs["has_open"] is True
    assert df["dividend"].sum() == pytest.approx(0.5)


def test_bundled_sp500_stocks():
    df = load_prices(SAMPLE / "sp500_stocks.parquet")
    assert df["ticker"].nunique() == 20
    assert df["date"].min() == pd.Timestamp("1990-01-02")
    assert df["date"].max() == pd.Timestamp("2022-12-28")
    assert df["date"].nunique() == 8313
    assert df.attrs["has_open"] is False and df.attrs["has_dividend"] is False


def test_bundled_factors_and_index():
    f = load_prices(SAMPLE / "factors.parquet")
    assert sorted(f.ticker.unique()) == ["MTUM", "QUAL", "SIZE", "USMV", "VLUE"]
    assert f["date"].min() == pd.Timestamp("2014-01-02")
    assert f["date"].max() == pd.Timestamp("2022-12-28")
    i = load_prices(SAMPLE / "sp500_index.parquet")
    assert i.ticker.unique().tolist() == ["SP500"] and len(i) == 8313


def test_decimal_prices_are_numbers(tmp_path):
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "dec.parquet"
    pq.write_table(pa.table({"date": pa.array([pd.Timestamp("2024-01-02").date()]),
                             "ticker": ["A"],
                             "close": pa.array([decimal.Decimal("1.25")],
                                               type=pa.decimal128(10, 2))}), path)
    assert load_prices(path)["close"].tolist() == [1.25]


def test_dates_in_the_index_and_time_zones(tmp_path):
    wide = pd.DataFrame({"SPY": [1.0, 2.0]},
                        index=pd.DatetimeIndex(["2024-01-02 00:00", "2024-01-03 00:00"],
                                               name="Date", tz="America/New_York"))
    df = load_prices(_write_indexed(tmp_path, wide))
    assert df["date"].tolist() == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03")]


def _write_indexed(tmp_path: Path, df: pd.DataFrame) -> Path:
    path = tmp_path / "indexed.parquet"
    df.to_parquet(path)
    return path
