"""The proportional rule over rows of accounts is the plain-list rule, row by row.

Bit for bit: each row of `proportional_rows` / `proportional_withdrawal_rows`
must be exactly what `allocation.proportional_deposit` / `_withdrawal` give
for that account's pie alone (the batch's array form relies on it).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.engine.allocation import proportional_deposit, proportional_withdrawal
from backtest.engine.batch_rules import proportional_rows, proportional_withdrawal_rows

VALUE = st.one_of(st.just(0.0), st.floats(0, 1e6), st.floats(1e9, 1e12))


@st.composite
def pies(draw):
    n = draw(st.integers(1, 10))
    raw = draw(st.lists(st.floats(0.5, 100), min_size=n, max_size=n))
    targets = [t / sum(raw) for t in raw]
    k = draw(st.integers(1, 6))
    values = draw(st.lists(st.lists(VALUE, min_size=n, max_size=n), min_size=k, max_size=k))
    amounts = draw(st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 1e-1), st.floats(0, 1e7)),
                            min_size=k, max_size=k))
    return targets, np.array(values), np.array(amounts)


@settings(max_examples=150, deadline=None)
@given(pies())
def test_proportional_rows_are_the_pie_rule_row_by_row(pie):
    targets, values, amounts = pie
    rows = proportional_rows(values, targets, amounts)
    for r in range(len(values)):
        want = proportional_deposit(values[r].tolist(), targets, float(amounts[r]))
        assert rows[r].tolist() == want


@settings(max_examples=150, deadline=None)
@given(pies())
def test_proportional_withdrawal_rows_are_the_pie_rule_row_by_row(pie):
    targets, values, amounts = pie
    # Withdrawals up to a little past the pie: the "take everything" edge included.
    amounts = np.minimum(amounts, values.sum(axis=1) * 1.1)
    rows = proportional_withdrawal_rows(values, targets, amounts)
    for r in range(len(values)):
        want = proportional_withdrawal(values[r].tolist(), targets, float(amounts[r]))
        assert rows[r].tolist() == want


def test_a_deposit_lost_against_a_large_pie_goes_by_target():
    # $0.00001 into a $1e12 pie at its targets 25/75: 1e12 + 1e-5 rounds back to
    # 1e12 (the float spacing there is 1.2e-4), so every shortfall is 0 and the
    # money is split by target: 0.25 x 1e-5 and 0.75 x 1e-5 (targets add to 1.0).
    targets = [0.25, 0.75]
    values = np.array([[0.25e12, 0.75e12], [0.0, 0.0]])
    rows = proportional_rows(values, targets, np.array([1e-5, 0.0]))
    assert rows.tolist() == [[0.25 * 1e-5, 0.75 * 1e-5], [0.0, 0.0]]
    assert rows[0].tolist() == proportional_deposit([0.25e12, 0.75e12], targets, 1e-5)
