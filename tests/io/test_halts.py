"""load_halts: the halt calendar CSV, one error per rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from backtest.domain.halts import END_OF_DAY, MARKET
from backtest.errors import DataError
from backtest.io.halts import load_halts

ROOT = Path(__file__).resolve().parents[2]
HEADER = "date,start,end,scope,level,note\n"


def _csv(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "halts.csv"
    path.write_text(header + body)
    return path


def _error(path: Path) -> DataError:
    with pytest.raises(DataError) as info:
        load_halts(path)
    assert info.value.source == str(path)
    assert "\n" not in info.value.line()
    return info.value


def test_parses_times_as_minutes(tmp_path):
    halts = load_halts(_csv(tmp_path, "2020-03-09,09:34,09:49,market,1,first\n"
                                      "2020-03-10,13:00,,XYZ,LULD,\n"))
    a, b = halts
    assert (a.date, a.start, a.end, a.scope, a.level, a.note) == (
        dt.date(2020, 3, 9), 574, 589, MARKET, "1", "first")
    assert b.end is None and b.effective_end() == END_OF_DAY and b.level == "LULD"


def test_comments_blank_lines_and_quoted_notes(tmp_path):
    halts = load_halts(_csv(tmp_path, "# hypothetical\n\n"
                                      '2021-01-04,10:00,10:15,Market,2,"a, quoted note"\n'))
    assert halts[0].scope == MARKET and halts[0].note == "a, quoted note"


def test_sorted_by_date(tmp_path):
    halts = load_halts(_csv(tmp_path, "2021-01-05,10:00,10:15,market,1,\n"
                                      "2021-01-04,10:00,10:15,market,1,\n"))
    assert [h.date.day for h in halts] == [4, 5]


def test_bad_date(tmp_path):
    err = _error(_csv(tmp_path, "2020-03-09,09:34,09:49,market,1,\n2020-02-30,09:34,,market,1,\n"))
    assert err.where == "row 2 (line 3)" and "'2020-02-30' is not a date" in err.message


@pytest.mark.parametrize("bad", ["9.30", "25:00", "09:60", "", "noon"])
def test_bad_start_time(tmp_path, bad):
    err = _error(_csv(tmp_path, f"2020-03-09,{bad},09:49,market,1,\n"))
    assert err.where.startswith("row 1") and "start time" in err.message


def test_bad_end_time(tmp_path):
    err = _error(_csv(tmp_path, "2020-03-09,09:34,9h49,market,1,\n"))
    assert "end time '9h49'" in err.message


@pytest.mark.parametrize("end", ["09:34", "09:00"])
def test_end_not_after_start(tmp_path, end):
    err = _error(_csv(tmp_path, f"2020-03-09,09:34,{end},market,1,\n"))
    assert "is not after start 09:34" in err.message


def test_empty_scope(tmp_path):
    err = _error(_csv(tmp_path, "2020-03-09,09:34,09:49,,1,\n"))
    assert "scope is empty" in err.message


@pytest.mark.parametrize("level", ["4", "LULD", ""])
def test_market_scope_needs_level_1_2_3(tmp_path, level):
    err = _error(_csv(tmp_path, f"2020-03-09,09:34,09:49,market,{level},\n"))
    assert "needs level 1, 2 or 3" in err.message


def test_missing_columns(tmp_path):
    err = _error(_csv(tmp_path, "2020-03-09,09:34,market\n", header="date,start,scope\n"))
    assert "missing column(s) end, level" in err.message and err.where == "column end"


def test_empty_file(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("")
    assert "empty" in _error(path).message


def test_missing_file(tmp_path):
    assert "not found" in _error(tmp_path / "none.csv").message


def test_spec_example_halts_load():
    halts = load_halts(ROOT / "tests/fixtures/spec_examples/data/tiny_halts.csv")
    assert [(h.date.isoformat(), h.scope, h.level) for h in halts] == [
        ("2024-03-06", "market", "1"), ("2024-03-13", "CCC", "news")]


def test_bundled_us_market_wide_halts():
    halts = load_halts(ROOT / "data/halts/us_market_wide.csv")
    assert [h.date.isoformat() for h in halts] == [
        "1997-10-27", "1997-10-27", "2020-03-09", "2020-03-12", "2020-03-16", "2020-03-18"]
    assert all(h.is_market for h in halts)
    assert halts[1].start == 15 * 60 + 30 and halts[1].effective_end() == END_OF_DAY
    assert all(h.end - h.start == 15 for h in halts[2:])
