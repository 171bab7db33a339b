"""The deposit and withdrawal rules, worked by hand, and their invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.engine.allocation import (
    proportional_deposit,
    proportional_deposits,
    proportional_withdrawal,
    proportional_withdrawals,
    waterfill_deposit,
    waterfill_deposits,
    waterfill_withdrawal,
    waterfill_withdrawals,
)


def test_waterfill_deposit_raises_the_lowest_fill_ratios_together():
    # values 80/10/10, targets 50/30/20, deposit 20: T = 120, target values 60/36/24.
    # Fill ratios: A 1.33 (over), B 10/36 = 0.278, C 10/24 = 0.417.
    # B alone reaches C's ratio at L = 0.417 (costs 0.417*36 - 10 = 5); then both:
    # L*(36 + 24) - 20 = 20 -> L = 2/3 -> B 24 - 10 = 14, C 16 - 10 = 6.
    got = waterfill_deposit(np.array([80.0, 10, 10]), np.array([0.5, 0.3, 0.2]), 20)
    np.testing.assert_allclose(got, [0, 14, 6])


def test_proportional_deposit_splits_by_shortfall():
    # Same pie: shortfalls 0, 26, 14 (sum 40) -> B 20*26/40 = 13, C 20*14/40 = 7.
    got = proportional_deposit(np.array([80.0, 10, 10]), np.array([0.5, 0.3, 0.2]), 20)
    np.testing.assert_allclose(got, [0, 13, 7])


def test_empty_pie_is_filled_by_target():
    got = waterfill_deposit(np.zeros(3), np.array([0.5, 0.3, 0.2]), 1000)
    np.testing.assert_allclose(got, [500, 300, 200])


def test_waterfill_withdrawal_lowers_the_highest_fill_ratios_together():
    # values 50/30/20 + A up: 70/30/20 (V 120), targets 50/30/20, withdraw 30: T = 90,
    # targets 45/27/18. Ratios A 1.556, B 1.111, C 1.111.
    # A alone down to 1.111 costs 70 - 1.111*45 = 20; then all three: 120 - H*90 = 30 -> H = 1.
    # -> A 70 - 45 = 25, B 30 - 27 = 3, C 20 - 18 = 2.
    got = waterfill_withdrawal(np.array([70.0, 30, 20]), np.array([0.5, 0.3, 0.2]), 30)
    np.testing.assert_allclose(got, [25, 3, 2])


def test_waterfill_withdrawal_takes_from_the_overweight_only_when_it_suffices():
    # 70/30/20, withdraw 10: T = 110, targets 55/33/22: only A is above 1;
    # 70 - H*55 = 10 -> H = 1.0909 (B at 30/33 < H takes nothing).
    got = waterfill_withdrawal(np.array([70.0, 30, 20]), np.array([0.5, 0.3, 0.2]), 10)
    np.testing.assert_allclose(got, [10, 0, 0])


def test_proportional_withdrawal_splits_by_excess():
    # 70/30/20, withdraw 10: T = 110, excess 15, 0, 0 -> all from A.
    # withdraw 30: T = 90, excesses 25, 3, 2 (sum 30) -> exactly those.
    values, t = np.array([70.0, 30, 20]), np.array([0.5, 0.3, 0.2])
    np.testing.assert_allclose(proportional_withdrawal(values, t, 10), [10, 0, 0])
    np.testing.assert_allclose(proportional_withdrawal(values, t, 30), [25, 3, 2])


def test_withdrawing_everything_empties_every_slice():
    values = np.array([70.0, 30, 20])
    np.testing.assert_allclose(waterfill_withdrawal(values, np.array([0.5, 0.3, 0.2]), 120),
                               values)


pies = st.integers(2, 6).flatmap(lambda n: st.tuples(
    st.lists(st.floats(0, 1e6), min_size=n, max_size=n),
    st.lists(st.floats(0.01, 1), min_size=n, max_size=n)))


@settings(max_examples=300, deadline=None)
@given(pies, st.floats(0.01, 1e6), st.sampled_from(["waterfill", "proportional"]))
def test_deposit_gives_exactly_the_amount_and_never_takes(pie, amount, rule):
    values, raw = np.array(pie[0]), np.array(pie[1])
    targets = raw / raw.sum()
    fn = waterfill_deposit if rule == "waterfill" else proportional_deposit
    got = np.asarray(fn(values, targets, amount))
    assert (got >= 0).all()
    # Float cancellation is relative to the pie's size, not to the amount.
    assert got.sum() == pytest.approx(amount, rel=1e-9, abs=1e-10 * (values.sum() + amount))


@settings(max_examples=300, deadline=None)
@given(pies, st.floats(0.0, 1.0), st.sampled_from(["waterfill", "proportional"]))
def test_withdrawal_takes_exactly_the_amount_and_never_more_than_a_slice_has(pie, share, rule):
    values, raw = np.array(pie[0]), np.array(pie[1])
    targets = raw / raw.sum()
    amount = share * values.sum()
    if amount <= 0:
        return
    fn = waterfill_withdrawal if rule == "waterfill" else proportional_withdrawal
    got = np.asarray(fn(values, targets, amount))
    assert (got >= -1e-9).all()
    assert (got <= values + 1e-6 * (1 + values)).all()
    # Float cancellation is relative to the pie's size, not to the amount.
    assert got.sum() == pytest.approx(amount, rel=1e-9, abs=1e-10 * (values.sum() + amount))


@settings(max_examples=200, deadline=None)
@given(pies, st.floats(1, 1e6), st.floats(1, 1e6))
def test_a_pie_at_its_targets_stays_at_its_targets(pie, total, amount):
    raw = np.array(pie[1])
    targets = raw / raw.sum()
    values = targets * total
    for rule in (waterfill_deposit, proportional_deposit):
        np.testing.assert_allclose(rule(values, targets, amount), targets * amount,
                                   rtol=1e-7, atol=1e-6 * (total + amount))
    out = min(amount, total)
    for rule in (waterfill_withdrawal, proportional_withdrawal):
        np.testing.assert_allclose(rule(values, targets, out), targets * out,
                                   rtol=1e-7, atol=1e-6 * total)


@settings(max_examples=200, deadline=None)
@given(pies, st.floats(0.01, 1e6))
def test_waterfill_deposit_fills_the_neediest_to_one_level(pie, amount):
    """Every slice that receives money ends at the same fill ratio, and no slice
    that receives nothing is below it."""
    values, raw = np.array(pie[0]), np.array(pie[1])
    targets = raw / raw.sum()
    got = np.asarray(waterfill_deposit(values, targets, amount))
    cap = targets * (values.sum() + amount)
    after = (values + got) / cap
    fed = got > 1e-9 * (1 + amount)
    if fed.any():
        level = after[fed].max()
        np.testing.assert_allclose(after[fed], level, rtol=1e-6, atol=1e-9)
        assert (after[~fed] >= level * (1 - 1e-6) - 1e-9).all()


# ---- the per-pie and the segment forms are the same rules ------------------------------

SEGMENT_FORMS = {
    waterfill_deposit: waterfill_deposits,
    waterfill_withdrawal: waterfill_withdrawals,
    proportional_deposit: proportional_deposits,
    proportional_withdrawal: proportional_withdrawals,
}


@settings(max_examples=200, deadline=None)
@given(st.lists(pies, min_size=1, max_size=5), st.lists(st.floats(0.0, 1.2), min_size=5,
                                                          max_size=5),
       st.sampled_from(list(SEGMENT_FORMS)))
def test_segment_rules_equal_the_per_pie_rules(many, shares, pie_rule):
    """Many pies in one call give what each pie gets on its own."""
    values, targets, seg, amounts, expected = [], [], [], [], []
    for j, (v, raw) in enumerate(many):
        t = np.array(raw) / np.sum(raw)
        total = float(np.sum(v))
        amount = shares[j] * total if "withdrawal" in pie_rule.__name__ else shares[j] * 1e5
        values += list(v)
        targets += list(t)
        seg += [j] * len(v)
        amounts.append(amount)
        expected += list(pie_rule(v, t, amount))
    got = SEGMENT_FORMS[pie_rule](np.array(values), np.array(targets), np.array(seg),
                                  np.array(amounts))
    scale = 1 + max(max(values), max(amounts))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * scale)
