"""Monte Carlo answers: success at 0% and 50%, the SWR and PWR of a constant-return
history against their closed forms, depletion years, the history-span warning."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from backtest.montecarlo import rates as RT
from backtest.montecarlo.api import prepare, simulate
from backtest.montecarlo.plan import rate_plan

FIRST = dt.date(2010, 1, 4)


def _files(tmp_path: Path, closes: np.ndarray, cashflows: list) -> Path:
    dates = pd.bdate_range(FIRST, periods=len(closes)).date
    pd.DataFrame({"date": dates, "ticker": "ONE", "close": closes,
                  "open": closes}).to_parquet(tmp_path / "p.parquet", index=False)
    doc = {"name": "answers", "data": {"prices": "p.parquet"},
           "account": {"window": "afternoon"}, "cashflows": cashflows,
           "portfolio": {"slices": {"ONE": 100}}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return tmp_path / "s.yaml"


DEPOSIT = [{"deposit": 100000, "date": FIRST}]
YEARLY = [*DEPOSIT, {"withdrawal": 1, "every": "year", "start": FIRST}]


def _noisy(days: int = 200, seed: int = 3) -> np.ndarray:
    r = np.random.default_rng(seed).normal(0.0003, 0.01, size=days)
    return 50.0 * np.cumprod(1 + r)


def test_withdrawing_nothing_lasts_on_every_path(tmp_path):
    s = _files(tmp_path, _noisy(), DEPOSIT)
    r = simulate(s, years=4, paths=12, workers=1, withdrawal="0", rate_paths=0)
    assert r.has_withdrawals and r.success_rate == 1.0
    assert r.headline()["depleted_paths"] == 0


def test_withdrawing_half_a_year_runs_out_on_every_path(tmp_path):
    # 50,000 a year (4,166.67 a month) from 100,000 on a market of about +8% a year:
    # gone within the third year on every path, so no path "lasts".
    s = _files(tmp_path, _noisy(), DEPOSIT)
    r = simulate(s, years=5, paths=12, workers=1, withdrawal=f"{50000 / 12:.2f}",
                 indexed="none", rate_paths=0)
    h = r.headline()
    assert r.success_rate == 0.0 and h["depleted_paths"] == 12
    assert r.paths["first_failure_year"].notna().all()
    assert 2 <= h["depletion_year_median"] <= 3
    assert h["median_final_value_lasting"] is None


def test_swr_and_pwr_of_a_constant_history_equal_their_closed_forms(tmp_path):
    # Every day is +0.04%: each path's close on synthetic session k is c0 * g**(k+1).
    # The deposit B buys B / c_0 shares; withdrawal j (yearly, from session 0, raised 3%
    # a year) of r * B * 1.03**j sells W_j / c_sj shares. The plan lasts while
    #   sum_j r * 1.03**j * c_0 / c_sj <= 1,  so  SWR = 1 / sum_j 1.03**j * g**-(s_j).
    # The real ending balance is (B/c_0 - sum_j W_j/c_sj) * c_end / 1.03**((n-1)/252);
    # setting it to B gives  PWR = (1 - 1.03**((n-1)/252) * g**-(n-1)) / sum_j (...).
    g, infl, years = 1.0004, 0.03, 4
    s = _files(tmp_path, 100.0 * g ** np.arange(80), YEARLY)
    setup = prepare(s, years, inflation=infl)
    sess = rate_plan(setup.plan, 0.01, infl, "year").withdrawal_sessions
    n = len(setup.plan.sessions)
    denom = sum(1.03**j * g ** -(int(k) - 0) for j, k in enumerate(sess))
    swr = 1.0 / denom
    pwr = (1.0 - (1 + infl) ** ((n - 1) / 252) * g ** -(n - 1)) / denom
    assert len(sess) == years and sess[0] == 0  # 1008 sessions: 4 anniversaries
    steps, high = 14, 0.5
    r = simulate(s, years=years, paths=3, workers=1, inflation=infl, rate_paths=3,
                 rate_steps=steps, rate_high=high)
    st = r.settings
    res = high / 2**steps
    assert st["rate_every"] == "year" and st["rate_resolution"] == pytest.approx(res)
    # Bisection keeps the largest rate that passed: within one step below the truth.
    assert swr - res - 1e-6 <= st["safe_withdrawal_rate"] <= swr + 1e-6
    assert pwr - res - 1e-6 <= st["perpetual_withdrawal_rate"] <= pwr + 1e-6
    assert not st["safe_at_least"] and not st["perpetual_at_least"]


def test_largest_bisects_to_the_resolution():
    found, top = RT.largest(lambda r: r <= 0.0371, 0.15, 7)
    assert not top and 0.0371 - 0.15 / 2**7 <= found <= 0.0371
    assert RT.largest(lambda r: True, 0.15, 7) == (0.15, True)


def test_a_short_history_warns_once_in_one_line_and_the_span_is_recorded(tmp_path):
    s = _files(tmp_path, _noisy(), DEPOSIT)
    r = simulate(s, years=1, paths=2, workers=1, rate_paths=0)
    short = [w for w in r.warnings if "under 15 years" in w]
    assert len(short) == 1 and "\n" not in short[0]
    # 200 business days from 2010-01-04 end on 2010-10-08: 277 days = 0.76 years.
    assert r.settings["history_start"] == "2010-01-04"
    assert r.settings["history_end"] == "2010-10-08"
    assert r.settings["history_years"] == pytest.approx(277 / 365.25, abs=0.005)


def test_an_item_that_ends_early_is_named(tmp_path):
    # Monthly from 2010-01-04 (the history's first day) to 2010-03-31: 3 paid in the
    # history. The history ends 2010-10-08, so the synthetic sessions run from 2010-10-11
    # to 2011-10-07 (252 NYSE sessions) and the schedule moves 9 months (Jan -> Oct): its
    # start, 2010-10-04, falls before the first session, so it starts on 2010-10-11
    # instead; its end moves to 2010-12-31: Oct 11, Nov 11, Dec 11, 3 paid. Without an
    # end it would pay from Oct 11 2010 to Sep 11 2011: 12.
    flows = [*DEPOSIT, {"withdrawal": 100, "every": "month", "start": FIRST,
                        "end": dt.date(2010, 3, 31)}]
    s = _files(tmp_path, _noisy(), flows)
    r = simulate(s, years=1, paths=2, workers=1, rate_paths=0)
    assert [x.split(" (")[0] for x in r.settings["withdrawal_schedule"]] == [
        "withdrawals: 3 of 12 months"]


def test_cpi_indexing_in_the_future_rises_by_inflation_and_says_so_once(tmp_path):
    # The future has no CPI: an `indexed: cpi` withdrawal rises by --inflation there.
    # 1,000 a year from the first session at 10%: 1,000 then 1,100 (2 years of paths).
    pd.DataFrame({"date": pd.to_datetime(["2009-01-01", "2010-01-01"]),
                  "cpi": [100.0, 102.0]}).to_parquet(tmp_path / "cpi.parquet")
    flows = [*DEPOSIT, {"withdrawal": 1000, "every": "year", "start": FIRST,
                        "indexed": "cpi"}]
    s = _files(tmp_path, _noisy(), flows)
    r = simulate(s, years=2, paths=2, workers=1, inflation=0.10, rate_paths=0)
    said = [w for w in r.warnings if "rise by --inflation" in w]
    assert len(said) == 1 and "\n" not in said[0] and "10.00% a year" in said[0]
    assert r.scheduled_withdrawals == pytest.approx(1000.0 + 1100.0)
    assert r.paths["withdrawals_paid"].tolist() == pytest.approx([2100.0, 2100.0])
