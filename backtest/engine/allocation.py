"""The allocation rules (trading-model.md, "Dynamic rebalancing"), pure.

Each rule splits a dollar amount among the slices of ONE pie, given the
slices' current values and target fractions. Recursion through sub-pies is
the caller's job (`backtest.engine.book`). Waterfill levels are solved
exactly: the total is piecewise linear in the level, so walking the sorted
fill ratios finds the segment that holds the answer.

Pies are small (a handful to a few hundred slices) and these run once per
pie per flow, so they work on plain lists: cheaper than numpy at that size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Rule = Callable[[Sequence[float], Sequence[float], float], list[float]]

INF = float("inf")


def waterfill_deposit(values: Sequence[float], targets: Sequence[float],
                      amount: float) -> list[float]:
    """Raise the lowest fill ratios together to one level L (0 < L <= 1).

    Finds L with sum_i max(0, L t_i T - v_i) = A for T = V + A and returns
    each slice's share max(0, L t_i T - v_i). An empty pie (V == 0) gets L = 1.
    """
    values = [float(v) for v in values]
    if amount <= 0:
        return [0.0] * len(values)
    held = sum(values)
    total = held + amount
    cap = [float(t) * total for t in targets]  # each slice at its target after the flow
    if held <= 0:
        return cap
    ratio = [v / c for v, c in zip(values, cap, strict=True)]
    order = sorted(range(len(values)), key=ratio.__getitem__)
    # With the k lowest slices filling, f(L) = L * sum(cap) - sum(values) over
    # them, valid for L between the k-th and the next fill ratio.
    level = 1.0
    cum_cap = cum_val = 0.0
    for j, i in enumerate(order):
        cum_cap += cap[i]
        cum_val += values[i]
        upper = min(ratio[order[j + 1]] if j + 1 < len(order) else INF, 1.0)
        if upper * cum_cap - cum_val >= amount - 1e-12 * total:
            level = min((amount + cum_val) / cum_cap, 1.0)
            break
    return [max(0.0, level * c - v) for c, v in zip(cap, values, strict=True)]


def waterfill_withdrawal(values: Sequence[float], targets: Sequence[float],
                         amount: float) -> list[float]:
    """Lower the highest fill ratios together to one level H (H >= 1).

    Finds H with sum_i max(0, v_i - H t_i T) = W for T = V - W and returns
    each slice's share max(0, v_i - H t_i T). W >= V takes everything.
    """
    values = [float(v) for v in values]
    if amount <= 0:
        return [0.0] * len(values)
    total = sum(values) - amount
    if total <= 0:
        return values
    cap = [float(t) * total for t in targets]
    ratio = [v / c if c > 0 else INF for v, c in zip(values, cap, strict=True)]
    order = sorted(range(len(values)), key=ratio.__getitem__, reverse=True)
    # With the k highest slices giving, g(H) = sum(values) - H * sum(cap) over
    # them, valid for H between the next and the k-th fill ratio.
    level = 1.0
    cum_cap = cum_val = 0.0
    for j, i in enumerate(order):
        cum_cap += cap[i]
        cum_val += values[i]
        lower = max(ratio[order[j + 1]] if j + 1 < len(order) else 0.0, 1.0)
        if cum_val - lower * cum_cap >= amount - 1e-12 * (total + amount):
            level = max((cum_val - amount) / cum_cap, 1.0)
            break
    return [max(0.0, v - level * c) for c, v in zip(cap, values, strict=True)]


def proportional_deposit(values: Sequence[float], targets: Sequence[float],
                         amount: float) -> list[float]:
    """Split A in proportion to each slice's shortfall max(0, t_i T - v_i), T = V + A."""
    values = [float(v) for v in values]
    if amount <= 0:
        return [0.0] * len(values)
    total = sum(values) + amount
    short = [max(0.0, float(t) * total - v) for t, v in zip(targets, values, strict=True)]
    if sum(short) <= 0:  # an amount lost in rounding against a large pie
        short = [float(t) for t in targets]
    scale = amount / sum(short)
    return [s * scale for s in short]


def proportional_withdrawal(values: Sequence[float], targets: Sequence[float],
                            amount: float) -> list[float]:
    """Take W in proportion to each slice's excess max(0, v_i - t_i T), T = V - W."""
    values = [float(v) for v in values]
    if amount <= 0:
        return [0.0] * len(values)
    if amount >= sum(values):
        return values
    total = sum(values) - amount
    excess = [max(0.0, v - float(t) * total) for t, v in zip(targets, values, strict=True)]
    if sum(excess) <= 0:  # an amount lost in rounding against a large pie
        excess = values
    scale = amount / sum(excess)
    return [e * scale for e in excess]


DEPOSIT_RULES: dict[str, Rule] = {
    "waterfill": waterfill_deposit,
    "proportional": proportional_deposit,
}
WITHDRAWAL_RULES: dict[str, Rule] = {
    "waterfill": waterfill_withdrawal,
    "proportional": proportional_withdrawal,
}
