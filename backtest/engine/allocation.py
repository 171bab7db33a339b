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


def _one_pie(rule: SegmentRule) -> Callable[[Sequence[float], Sequence[float], float],
                                              np.ndarray]:
    def apply(values: Sequence[float], targets: Sequence[float], amount: float) -> np.ndarray:
        v = np.asarray(values, dtype=float)
        return rule(v, np.asarray(targets, dtype=float), np.zeros(len(v), dtype=np.int64),
                    np.array([float(amount)]))

    apply.__doc__ = f"{rule.__name__} for a single pie."
    apply.__name__ = rule.__name__.rstrip("s")
    return apply


waterfill_deposit = _one_pie(waterfill_deposits)
waterfill_withdrawal = _one_pie(waterfill_withdrawals)
proportional_deposit = _one_pie(proportional_deposits)
proportional_withdrawal = _one_pie(proportional_withdrawals)
