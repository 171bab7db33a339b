"""The allocation rules (trading-model.md, "Dynamic rebalancing"), pure.

Each rule splits a dollar amount among the slices of ONE pie, given the
slices' current values and target fractions. Recursion through sub-pies is
the caller's job (`backtest.engine.book`). Waterfill levels are solved
exactly: the total is piecewise linear in the level, so sorting the fill
ratios finds the segment that holds the answer.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Rule = Callable[[np.ndarray, np.ndarray, float], np.ndarray]


def waterfill_deposit(values: np.ndarray, targets: np.ndarray, amount: float) -> np.ndarray:
    """Raise the lowest fill ratios together to one level L (0 < L <= 1).

    Finds L with sum_i max(0, L t_i T - v_i) = A for T = V + A and returns
    each slice's share max(0, L t_i T - v_i). An empty pie (V == 0) gets L = 1.
    """
    values = np.asarray(values, dtype=float)
    targets = np.asarray(targets, dtype=float)
    if amount <= 0:
        return np.zeros_like(values)
    total = values.sum() + amount
    cap = targets * total  # value of each slice at its target after the flow
    if values.sum() <= 0:
        return cap.copy()
    ratios = values / cap
    order = np.argsort(ratios, kind="stable")
    r_sorted = ratios[order]
    cum_cap = np.cumsum(cap[order])
    cum_val = np.cumsum(values[order])
    # With the k lowest slices filling, f(L) = L * cum_cap[k-1] - cum_val[k-1],
    # valid for L in [r_sorted[k-1], r_sorted[k]]. Find the first k whose
    # segment reaches A at its upper end.
    upper = np.append(r_sorted[1:], np.inf)
    reach = np.minimum(upper, 1.0) * cum_cap - cum_val
    k = int(np.searchsorted(reach >= amount - 1e-12 * total, True))
    k = min(k, len(values) - 1)
    level = min((amount + cum_val[k]) / cum_cap[k], 1.0)
    return np.maximum(0.0, level * cap - values)


def waterfill_withdrawal(values: np.ndarray, targets: np.ndarray, amount: float) -> np.ndarray:
    """Lower the highest fill ratios together to one level H (H >= 1).

    Finds H with sum_i max(0, v_i - H t_i T) = W for T = V - W and returns
    each slice's share max(0, v_i - H t_i T). W >= V takes everything.
    """
    values = np.asarray(values, dtype=float)
    targets = np.asarray(targets, dtype=float)
    if amount <= 0:
        return np.zeros_like(values)
    total = values.sum() - amount
    if total <= 0:
        return values.copy()
    cap = targets * total
    with np.errstate(divide="ignore"):
        ratios = np.where(cap > 0, values / cap, np.inf)
    order = np.argsort(-ratios, kind="stable")
    r_sorted = ratios[order]
    cum_cap = np.cumsum(cap[order])
    cum_val = np.cumsum(values[order])
    # With the k highest slices giving, g(H) = cum_val[k-1] - H * cum_cap[k-1],
    # valid for H in [r_sorted[k], r_sorted[k-1]] (decreasing in H).
    lower = np.append(r_sorted[1:], 0.0)
    reach = cum_val - np.maximum(lower, 1.0) * cum_cap
    k = int(np.searchsorted(reach >= amount - 1e-12 * (total + amount), True))
    k = min(k, len(values) - 1)
    level = max((cum_val[k] - amount) / cum_cap[k], 1.0)
    return np.maximum(0.0, values - level * cap)


def proportional_deposit(values: np.ndarray, targets: np.ndarray, amount: float) -> np.ndarray:
    """Split A in proportion to each slice's shortfall max(0, t_i T - v_i), T = V + A."""
    values = np.asarray(values, dtype=float)
    targets = np.asarray(targets, dtype=float)
    if amount <= 0:
        return np.zeros_like(values)
    short = np.maximum(0.0, targets * (values.sum() + amount) - values)
    if short.sum() <= 0:  # an amount lost in rounding against a large pie
        short = targets
    return amount * short / short.sum()


def proportional_withdrawal(values: np.ndarray, targets: np.ndarray, amount: float) -> np.ndarray:
    """Take W in proportion to each slice's excess max(0, v_i - t_i T), T = V - W."""
    values = np.asarray(values, dtype=float)
    targets = np.asarray(targets, dtype=float)
    if amount <= 0:
        return np.zeros_like(values)
    if amount >= values.sum():
        return values.copy()
    excess = np.maximum(0.0, values - targets * (values.sum() - amount))
    if excess.sum() <= 0:  # an amount lost in rounding against a large pie
        excess = values
    return amount * excess / excess.sum()


DEPOSIT_RULES: dict[str, Rule] = {
    "waterfill": waterfill_deposit,
    "proportional": proportional_deposit,
}
WITHDRAWAL_RULES: dict[str, Rule] = {
    "waterfill": waterfill_withdrawal,
    "proportional": proportional_withdrawal,
}
