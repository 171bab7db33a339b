"""`twr_index` with many paying windows, against a plain one-session-at-a-time loop.

The index splits each paying session at every window that paid (strategy-format.md,
"Definitions"): factor = V_w1 / (value_(t-1) + D_t) * V_w2 / (V_w1 - W_1) * ...
* value_t / (V_wk - W_k), a link with a base of at most EMPTY being 1. The loop
below is that definition written out session by session; the array form must give
the same bits, whatever the order of the payouts of different sessions.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.analytics.returns import EMPTY, twr_index


def loop_index(value, deposits, payouts, start_value=0.0):
    v = [float(x) for x in value]
    factor = []
    windows: dict[int, list[tuple[float, float]]] = {}
    for session, before, paid in payouts:
        windows.setdefault(int(session), []).append((float(before), float(paid)))
    for t in range(len(v)):
        b = (v[t - 1] if t else start_value) + float(deposits[t])
        f = 1.0
        for before, paid in windows.get(t, ()):
            f *= before / b if b > EMPTY else 1.0
            b = before - paid
        factor.append(f * (v[t] / b if b > EMPTY else 1.0))
    return np.cumprod(factor)


def test_two_windows_in_one_session_by_hand():
    # 100 at the close before; a window at 110 pays 10, another at 105 pays 5,
    # the session closes at 104: 110/100 * 105/100 * 104/100 = 1.20120
    index = twr_index([100.0, 104.0], [100.0, 0.0], [(1, 110.0, 10.0), (1, 105.0, 5.0)])
    assert index[0] == 1.0
    assert abs(index[1] - 1.1 * 1.05 * 1.04) < 1e-12


def test_everything_withdrawn_links_are_one():
    # the window pays all 50: the base after it is 0, so the rest of the session is 1
    index = twr_index([50.0, 0.0, 0.0], [50.0, 0.0, 0.0], [(1, 50.0, 50.0)])
    assert list(index) == [1.0, 1.0, 1.0]


amounts = st.sampled_from([0.0, 1e-7, 3.0, 50.0, 100.0, 1234.5])


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_array_form_equals_the_loop(data):
    n = data.draw(st.integers(1, 30))
    value = data.draw(st.lists(amounts, min_size=n, max_size=n))
    deposits = data.draw(st.lists(amounts, min_size=n, max_size=n))
    payouts = data.draw(st.lists(st.tuples(st.integers(0, n - 1), amounts, amounts),
                                 max_size=3 * n))
    got = twr_index(value, deposits, payouts)
    assert np.array_equal(got, loop_index(value, deposits, payouts), equal_nan=True)
    assert np.array_equal(twr_index(value, deposits, iter(payouts)), got, equal_nan=True)
    table = np.array(payouts, dtype=float).reshape(-1, 3)
    assert np.array_equal(twr_index(value, deposits, table), got, equal_nan=True)
