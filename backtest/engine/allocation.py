"""The allocation rules (trading-model.md, "Dynamic rebalancing"), pure.

Each rule splits a dollar amount among the slices of a pie, given the
slices' current values and target fractions. The rules work on many pies
at once ("segments": the children of every pie at one depth of the tree,
grouped by parent), so a deep tree costs a few array operations per level
rather than a Python call per pie; recursion is `backtest.engine.book`'s job.

Waterfill levels are solved exactly: within a pie the total is piecewise
linear in the level, so sorting the fill ratios finds the segment of the
line that holds the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

# rule(values, targets, segment of each child, amount per segment) -> child amounts
SegmentRule = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
# rule(values, targets, amount) -> child amounts, for one pie
PieRule = Callable[[Sequence[float], Sequence[float], float], list[float]]

INF = float("inf")


def _segments(seg: np.ndarray, n_seg: int) -> tuple[np.ndarray, np.ndarray]:
    """Totals helper: (start index of each segment in a seg-sorted array, sizes)."""
    sizes = np.bincount(seg, minlength=n_seg)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return starts, sizes


def _segment_cumsum(x: np.ndarray, seg: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at each segment (x sorted by segment)."""
    total = np.cumsum(x)
    before = np.where(starts > 0, total[np.maximum(starts - 1, 0)], 0.0)
    return total - before[seg]


def waterfill_deposits(values: np.ndarray, targets: np.ndarray, seg: np.ndarray,
                       amounts: np.ndarray) -> np.ndarray:
    """Raise the lowest fill ratios of each pie together to one level L (0 < L <= 1).

    For each pie, finds L with sum_i max(0, L t_i T - v_i) = A for T = V + A and
    gives each slice max(0, L t_i T - v_i). An empty pie (V == 0) gets L = 1.
    """
    n_seg = len(amounts)
    held = np.bincount(seg, weights=values, minlength=n_seg)
    total = held + amounts
    cap = targets * total[seg]  # each slice at its target after the flow
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(cap > 0, values / cap, np.inf)
    order = np.lexsort((ratio, seg))
    s_seg, s_cap, s_val, s_ratio = seg[order], cap[order], values[order], ratio[order]
    starts, sizes = _segments(s_seg, n_seg)
    cum_cap = _segment_cumsum(s_cap, s_seg, starts)
    cum_val = _segment_cumsum(s_val, s_seg, starts)
    # With the k lowest slices filling, f(L) = L * cum_cap - cum_val, valid up
    # to the next slice's fill ratio: the first k whose segment reaches A holds L.
    upper = np.append(s_ratio[1:], np.inf)
    ends = starts + sizes - 1
    upper[ends[sizes > 0]] = np.inf
    reach = np.minimum(upper, 1.0) * cum_cap - cum_val
    ok = reach >= (amounts - 1e-12 * total)[s_seg]
    first = _first_true(ok, starts, sizes, ends)
    with np.errstate(divide="ignore", invalid="ignore"):
        level = np.minimum((amounts + cum_val[first]) / cum_cap[first], 1.0)
    level = np.where(held > 0, level, 1.0)
    out = np.maximum(0.0, level[seg] * cap - values)
    return np.where(amounts[seg] > 0, out, 0.0)


def waterfill_withdrawals(values: np.ndarray, targets: np.ndarray, seg: np.ndarray,
                          amounts: np.ndarray) -> np.ndarray:
    """Lower the highest fill ratios of each pie together to one level H (H >= 1).

    For each pie, finds H with sum_i max(0, v_i - H t_i T) = W for T = V - W and
    takes max(0, v_i - H t_i T) from each slice. W >= V takes everything.
    """
    n_seg = len(amounts)
    held = np.bincount(seg, weights=values, minlength=n_seg)
    total = held - amounts
    cap = targets * np.maximum(total, 0.0)[seg]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(cap > 0, values / cap, np.inf)
    order = np.lexsort((-ratio, seg))
    s_seg, s_cap, s_val, s_ratio = seg[order], cap[order], values[order], ratio[order]
    starts, sizes = _segments(s_seg, n_seg)
    cum_cap = _segment_cumsum(s_cap, s_seg, starts)
    cum_val = _segment_cumsum(s_val, s_seg, starts)
    # With the k highest slices giving, g(H) = cum_val - H * cum_cap, valid down
    # to the next slice's fill ratio.
    lower = np.append(s_ratio[1:], 0.0)
    ends = starts + sizes - 1
    lower[ends[sizes > 0]] = 0.0
    reach = cum_val - np.maximum(lower, 1.0) * cum_cap
    ok = reach >= (amounts - 1e-12 * (total + amounts))[s_seg]
    first = _first_true(ok, starts, sizes, ends)
    with np.errstate(divide="ignore", invalid="ignore"):
        level = np.maximum((cum_val[first] - amounts) / cum_cap[first], 1.0)
    out = np.maximum(0.0, values - level[seg] * cap)
    out = np.where((total <= 0)[seg], values, out)
    return np.where(amounts[seg] > 0, out, 0.0)


def _first_true(ok: np.ndarray, starts: np.ndarray, sizes: np.ndarray,
                ends: np.ndarray) -> np.ndarray:
    """Per segment, the first index where `ok` holds (the segment's last if none)."""
    idx = np.where(ok, np.arange(len(ok)), len(ok))
    first = np.full(len(starts), len(ok))
    nonempty = sizes > 0
    if len(ok):
        first[nonempty] = np.minimum.reduceat(idx, starts[nonempty])
    return np.minimum(first, np.where(nonempty, ends, 0))


def proportional_deposits(values: np.ndarray, targets: np.ndarray, seg: np.ndarray,
                          amounts: np.ndarray) -> np.ndarray:
    """Split each pie's A in proportion to shortfalls max(0, t_i T - v_i), T = V + A."""
    n_seg = len(amounts)
    total = np.bincount(seg, weights=values, minlength=n_seg) + amounts
    short = np.maximum(0.0, targets * total[seg] - values)
    sums = np.bincount(seg, weights=short, minlength=n_seg)
    # An amount lost in rounding against a large pie: split by target instead.
    lost = sums <= 0
    short = np.where(lost[seg], targets, short)
    sums = np.where(lost, np.bincount(seg, weights=targets, minlength=n_seg), sums)
    return np.where(amounts[seg] > 0, amounts[seg] * short / sums[seg], 0.0)


def proportional_withdrawals(values: np.ndarray, targets: np.ndarray, seg: np.ndarray,
                             amounts: np.ndarray) -> np.ndarray:
    """Take each pie's W in proportion to excesses max(0, v_i - t_i T), T = V - W."""
    n_seg = len(amounts)
    held = np.bincount(seg, weights=values, minlength=n_seg)
    excess = np.maximum(0.0, values - targets * (held - amounts)[seg])
    sums = np.bincount(seg, weights=excess, minlength=n_seg)
    lost = sums <= 0
    excess = np.where(lost[seg], values, excess)
    sums = np.where(lost, held, sums)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(amounts[seg] > 0, amounts[seg] * excess / sums[seg], 0.0)
    return np.where((amounts >= held)[seg], values, out)


DEPOSIT_RULES: dict[str, SegmentRule] = {
    "waterfill": waterfill_deposits,
    "proportional": proportional_deposits,
}
WITHDRAWAL_RULES: dict[str, SegmentRule] = {
    "waterfill": waterfill_withdrawals,
    "proportional": proportional_withdrawals,
}


# ---- one pie at a time, on plain lists ---------------------------------------------
# The same rules for a single pie: cheaper than array work for the few slices
# of a typical pie, and the form the hand-worked tests read most easily. The
# engine uses these up to SMALL children per level and the segment versions
# above; a property test holds the two equal.

SMALL = 64  # children in one level's receiving pies

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
    # them, valid for L between the k-th and the next fill ratio. (min/max
    # written as conditionals: the same values, NaN included, without the calls.)
    level = 1.0
    cum_cap = cum_val = 0.0
    need = amount - 1e-12 * total
    last = len(order) - 1
    for j, i in enumerate(order):
        cum_cap += cap[i]
        cum_val += values[i]
        upper = ratio[order[j + 1]] if j < last else INF
        if upper > 1.0:
            upper = 1.0
        if upper * cum_cap - cum_val >= need:
            level = (amount + cum_val) / cum_cap
            if level > 1.0:
                level = 1.0
            break
    out = [level * c - v for c, v in zip(cap, values, strict=True)]
    return [x if x > 0.0 else 0.0 for x in out]


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


PIE_DEPOSIT_RULES: dict[str, PieRule] = {
    "waterfill": waterfill_deposit,
    "proportional": proportional_deposit,
}
PIE_WITHDRAWAL_RULES: dict[str, PieRule] = {
    "waterfill": waterfill_withdrawal,
    "proportional": proportional_withdrawal,
}
