"""Random strategies, every result rebuilt independently from the trades.

The strategies are the random edit scenarios of test_model_revision (same-day
edits, additions, removals, orders, rebalances, a drift band, halts and missing
prices). From the netted trades alone, with the flows of the daily table:
cash is the flows minus what the buys cost plus what the sells raised; shares
per ticker are the bought minus the sold; the value at each close is that cash
plus the shares at the close (the last close where a ticker has none). The
engine's daily table must agree to the cent on every session.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from engine_kit import market, simulate, strategy
from hypothesis import HealthCheck, given, settings
from test_model_revision import edit_scenarios


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edit_scenarios())
def test_cash_shares_and_value_rebuilt_from_the_trades(case):
    text, closes, halts = case
    mkt = market(closes, halts=halts)
    r = simulate(strategy(text), mkt)
    daily, trades = r.daily, r.trades
    dates = pd.DatetimeIndex(daily["date"])
    sign = np.where(trades["side"] == "buy", 1.0, -1.0)
    spent = (trades["amount"] * sign).groupby(pd.DatetimeIndex(trades["date"])).sum()
    cash = daily["net_flow"].cumsum().to_numpy() - spent.reindex(dates, fill_value=0).cumsum()
    assert np.allclose(cash.to_numpy(), daily["cash"].to_numpy(), atol=0.01)
    moved = pd.DataFrame({"date": pd.DatetimeIndex(trades["date"]), "ticker": trades["ticker"],
                          "shares": trades["shares"] * sign})
    held = (moved.pivot_table(index="date", columns="ticker", values="shares", aggfunc="sum")
            .reindex(index=dates, columns=list(mkt.tickers), fill_value=0.0)
            .fillna(0.0).cumsum())
    assert (held.to_numpy() >= -1e-9).all()  # no ticker is ever sold short
    last_close = pd.DataFrame(mkt.close, index=dates, columns=list(mkt.tickers)).ffill()
    value = cash.to_numpy() + (held * last_close.fillna(0.0)).sum(axis=1).to_numpy()
    assert np.allclose(value, daily["value"].to_numpy(), atol=0.01)
