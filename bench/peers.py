"""The peer: the same workloads expressed in bt (pmorissette/bt, optional `bench` extra).

bt models a portfolio as a tree of strategies whose capital is pushed down by
weight. Where the two models coincide (close fills, a full rebalance of the
whole tree on each month's first session, deposits that arrive on the same
session and are invested at target, no halts, dividends inside adjusted
prices, fractional shares, no fees) both must end within 0.1% of each other.
"""

from __future__ import annotations

import pandas as pd

from backtest.domain.pie import Pie


def _monthly_first(index: pd.DatetimeIndex) -> pd.Index:
    months = index.to_period("M")
    first = pd.Series(months).ne(pd.Series(months).shift()).to_numpy()
    return index[first]


def bt_backtest(pie: Pie, prices: pd.DataFrame, *, initial: float, monthly: float,
                rebalance: str = "month"):
    """A bt Backtest of `pie` (nested sub-pies become child strategies)."""
    import bt

    deposit_days = set(_monthly_first(prices.index)[1:])

    class AddCapital(bt.Algo):
        """Deposit `monthly` dollars on each month's first session (a flow, not a return)."""

        def __call__(self, target):
            if target.now in deposit_days:
                target.adjust(monthly, flow=True)
            return True

    run_algo = {"month": bt.algos.RunMonthly, "quarter": bt.algos.RunQuarterly}[rebalance]

    def build(name: str, p: Pie, root: bool):
        children = []
        weights = {}
        for s in p.slices:
            if s.pie is not None:
                children.append(build(s.name, s.pie, False))
                weights[s.name] = s.target / 100.0
            else:
                children.append(s.ticker)
                weights[s.ticker] = s.target / 100.0
        # Children run after their parent each day, so their own rebalance on
        # the same session spreads what the parent allocated to them.
        algos = ([AddCapital()] if root else []) + [
            run_algo(),
            bt.algos.WeighSpecified(**weights),
            bt.algos.Rebalance(),
        ]
        return bt.Strategy(name, algos, children=children)

    strategy = build("portfolio", pie, True)
    return bt.Backtest(strategy, prices, initial_capital=initial, integer_positions=False,
                       progress_bar=False)


def run_bt(backtest) -> float:
    """Run a bt Backtest; return its final value."""
    import bt

    result = bt.run(backtest)
    return float(result.backtests[backtest.name].strategy.values.iloc[-1])
