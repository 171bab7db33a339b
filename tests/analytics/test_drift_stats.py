"""Drift statistics on a hand-made drift frame."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtest.analytics import drift as D

D1, D2 = pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-04")


def _frame() -> pd.DataFrame:
    # Root pie: A 60%, P 40%; P holds x and y at 50% each.
    # Day 2: P is empty, so its slices' actual weights are NaN.
    rows = [
        (D1, "A", 0.6, 0.7), (D1, "P", 0.4, 0.3), (D1, "P/x", 0.5, 0.4), (D1, "P/y", 0.5, 0.6),
        (D2, "A", 0.6, 1.0), (D2, "P", 0.4, 0.0), (D2, "P/x", 0.5, np.nan),
        (D2, "P/y", 0.5, np.nan),
    ]
    return pd.DataFrame(rows, columns=["date", "slice", "target", "actual"])


def test_summary_per_slice():
    t = D.drift_summary(_frame(), band=0.05).set_index("slice")
    assert list(t.index) == ["A", "P", "P/x", "P/y"]
    assert t.loc["A", "mean_abs_drift"] == pytest.approx((0.1 + 0.4) / 2)
    assert t.loc["A", "max_abs_drift"] == pytest.approx(0.4)
    assert t.loc["A", "max_drift_date"] == D2
    assert t.loc["A", "share_beyond_band"] == 1.0
    assert t.loc["P", "max_abs_drift"] == pytest.approx(0.4)
    # P/x: the NaN session is left out.
    assert t.loc["P/x", "sessions"] == 1
    assert t.loc["P/x", "mean_abs_drift"] == pytest.approx(0.1)
    assert t.loc["P/x", "depth"] == 1 and t.loc["P/x", "name"] == "x"
    assert t.loc["A", "depth"] == 0
    # a wider band: only A's 40-point session is beyond 15 points
    wide = D.drift_summary(_frame(), band=0.15).set_index("slice")
    assert wide.loc["A", "share_beyond_band"] == 0.5


def test_portfolio_weights_multiply_along_the_path():
    pw = D.portfolio_weights(_frame()).set_index(["date", "slice"])
    assert pw.loc[(D1, "P/x"), "portfolio_target"] == pytest.approx(0.4 * 0.5)
    assert pw.loc[(D1, "P/x"), "portfolio_actual"] == pytest.approx(0.3 * 0.4)
    assert pw.loc[(D1, "P/y"), "portfolio_actual"] == pytest.approx(0.3 * 0.6)
    assert pw.loc[(D2, "P/x"), "portfolio_actual"] == 0.0  # empty parent: nothing held
    assert pw.loc[(D1, "A"), "portfolio_actual"] == pytest.approx(0.7)
    leaves = pw.xs(D1)["leaf"].to_dict()
    assert leaves == {"A": True, "P": False, "P/x": True, "P/y": True}
    # the leaves' portfolio weights add up to the whole invested value
    assert pw.xs(D1)[pw.xs(D1)["leaf"]]["portfolio_actual"].sum() == pytest.approx(1.0)


def test_most_drifted_and_max():
    m = D.most_drifted(_frame())
    assert m["slice"] == "A" and m["drift"] == pytest.approx(0.4) and m["date"] == D2
    assert D.max_abs_drift(_frame()) == pytest.approx(0.4)
    assert D.most_drifted(_frame().iloc[:0]) is None
    assert math.isnan(D.max_abs_drift(_frame().iloc[:0]))


def test_names_with_a_slash_that_are_not_paths():
    names = ["<script>alert(1)</script>", "Core", "Core/AAA", "a/b"]
    assert D.parents(names) == {"<script>alert(1)</script>": None, "Core": None,
                                "Core/AAA": "Core", "a/b": None}
    assert D.top_level(names) == ["<script>alert(1)</script>", "Core", "a/b"]


def test_wide_tables_keep_the_frame_order():
    f = _frame()
    w = D.drift_wide(f)
    assert list(w.columns) == ["A", "P", "P/x", "P/y"]
    assert w.loc[D1, "A"] == pytest.approx(0.1)
    assert D.weights_wide(f, ["P", "A"]).loc[D2].tolist() == [0.0, 1.0]


def test_empty_frame():
    assert len(D.drift_summary(_frame().iloc[:0])) == 0
    assert len(D.portfolio_weights(_frame().iloc[:0])) == 0
