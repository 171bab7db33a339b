"""The run page's new sections, on the spec's basic example and hand-made folders."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from test_report_build import EXPECTED, make_run

from backtest.analytics.drawdowns import worst_drawdowns
from backtest.analytics.lots import lots_frame, replay_fills
from backtest.analytics.periods import trailing_returns
from backtest.analytics.positions import holdings_at_end
from backtest.report import write_report
from backtest.report.build import fmt_compact, fmt_multiple
from backtest.report.charts import use_log


def _basic_index() -> pd.Series:
    d = pd.read_csv(EXPECTED / "basic" / "daily.csv", parse_dates=["date"])
    return pd.Series(d["twr_index"].to_numpy(), index=pd.DatetimeIndex(d["date"]))


def test_spec_example_drawdown_episode():
    # The index (expected/basic/daily.csv, exact TWR) peaks on its first session
    # (1.004199), falls to 0.880412 on 2024-03-25 and ends at 0.898040: one fall,
    # not recovered. 0.880412 / 1.004199 - 1 = -0.1232695...
    w = worst_drawdowns(_basic_index())
    assert len(w) == 1
    row = w.iloc[0]
    assert row["depth"] == pytest.approx(0.880412 / 1.004199 - 1)
    assert row["peak"] == pd.Timestamp("2024-03-01")
    assert row["trough"] == pd.Timestamp("2024-03-25")
    assert not row["recovered"] and row["days"] == 27 and row["sessions"] == 19


def test_spec_example_trailing_returns_are_the_whole_run_only():
    t = trailing_returns(_basic_index())
    # 20 sessions in March 2024: no 1-year figure; the whole run is the TWR
    assert list(t["period"]) == ["Whole run"]
    assert t["total"].iloc[0] == pytest.approx(0.898040 - 1)


def test_spec_example_cost_basis_from_its_fills():
    tr = pd.read_csv(EXPECTED / "basic" / "trades.csv", parse_dates=["date"])
    sign = tr["side"].map({"buy": 1.0, "sell": -1.0})
    fills = pd.DataFrame({"date": tr["date"], "slice": tr["ticker"], "ticker": tr["ticker"],
                          "shares": tr["shares"] * sign, "price": tr["price"], "reason": ""})
    lots = lots_frame(replay_fills(fills, "brokerage").open_lots(), close={"AAA": 8.12})
    h = holdings_at_end(lots).set_index("slice")
    # The sell of 10.90943 AAA at 8.65 on 03-20 closes the lot with the largest
    # loss a share: the 60 bought at 10.00 (-1.35). Left: 49.09057 @ 10.00
    # (490.9057) + 5.93957 @ 9.84 (58.445369) + 8.61592 @ 9.67 (83.315946)
    # + 8.40482 @ 8.12 (68.247138) = 700.914153 for 72.05088 shares.
    assert h.loc["AAA", "shares"] == pytest.approx(72.05088)
    assert h.loc["AAA", "cost_basis"] == pytest.approx(700.914153, abs=1e-6)
    assert h.loc["AAA", "value"] == pytest.approx(72.05088 * 8.12)


def test_compact_money_and_multiples():
    assert fmt_compact(15_966_485.61) == "$15.97M"
    assert fmt_compact(207_500) == "$207,500"
    assert fmt_compact(2_345_000_000) == "$2.35B"
    assert fmt_compact(-512.345) == "-$512.35"
    assert fmt_multiple(447.031) == "447.03x"


def test_log_scale_only_beyond_ten_times():
    assert use_log(pd.Series([1.0, 10.5]))
    assert not use_log(pd.Series([1.0, 9.9]))
    assert not use_log(pd.Series([0.0, 100.0]))  # a zero cannot sit on a log axis


def test_page_folds_routine_rows_and_links_sections(tmp_path):
    run = make_run(tmp_path, "basic")
    s = json.loads((run / "summary.json").read_text())
    zero = {"realized_short_term": 0.0, "realized_long_term": 0.0, "estimated_tax": 0.0}
    s.update({"realized_gain": 0.0, "after_tax_value": 900.0, "estimated_tax": 12.0,
              "tax_drag": 0.013,
              "tax_by_year": {"2020": zero, "2021": zero, "2022": zero,
                              "2024": {**zero, "realized_short_term": 80.0,
                                       "estimated_tax": 12.0}},
              "dividends_by_year": {}})
    (run / "summary.json").write_text(json.dumps(s))
    ev = pd.read_parquet(run / "events.parquet")
    extra = pd.DataFrame({"date": pd.to_datetime(["2024-03-05", "2024-03-12"]),
                          "kind": "window_skipped", "detail": "closes early at 13:00"})
    pd.concat([ev, extra], ignore_index=True).to_parquet(run / "events.parquet")
    write_report(run)
    html = (run / "report.html").read_text(encoding="utf-8")
    for sid in ("trailing-returns", "drawdowns", "holdings", "contributions",
                "rolling-returns"):
        assert f'id="{sid}"' in html
    # the three quiet tax years are one line, 2024 is a row
    assert "3 years with nothing realized" in html and "2020–2022" in html
    assert "<td>2024</td>" in html
    # early-close skips: a count, the list behind <details>
    assert "Trade window skipped (the session closed early): 2 (routine" in html
    assert html.index("<details class=\"routine\"") < html.index("2024-03-12")
    # the after-tax card, exact figure in the title
    assert 'title="$900.00"' in html


def test_real_value_card_when_a_price_index_covers_the_run(tmp_path):
    run = make_run(tmp_path, "basic")
    # prices flat until 2024-03-15, then 1% higher: the final $988.063798 is worth
    # 988.063798 / 1.01 = $978.28 in dollars of the first session (2024-03-01)
    cpi = pd.Series([100.0, 101.0], index=pd.to_datetime(["2024-02-01", "2024-03-15"]))
    write_report(run, cpi=cpi)
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "Real final value" in html and "$978.28" in html and "in 2024 dollars" in html
    # an index that stops in 2023 does not cover the run: no real figures
    write_report(run, cpi=cpi.set_axis(pd.to_datetime(["2023-01-01", "2023-06-01"])))
    assert "Real final value" not in (run / "report.html").read_text(encoding="utf-8")
