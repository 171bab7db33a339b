"""The drift table's picture of the tree (`TreeShape`) is the `Layout`'s slices."""

from __future__ import annotations

import numpy as np

from backtest.engine.book import Book
from tests.engine.engine_kit import strategy


def test_tree_shape_from_the_layout_after_an_edit_and_a_removal():
    pie = strategy("portfolio: {slices: {A: 40, Rest: {target: 60, slices: {B: 50, C: 50}}}}")
    book = Book(pie.portfolio, {"A": 0, "B": 1, "C": 2})
    s = book.shape()
    # pre-order, the root left out: A, Rest, then Rest's slices; parents as indices
    assert s.paths == ("A", "Rest", "Rest/B", "Rest/C")
    assert s.parent.tolist() == [-1, -1, 1, 1]
    assert s.target.tolist() == [0.4, 0.6, 0.5, 0.5]
    assert s.leaf.tolist() == [0, -1, 1, 2]
    book.remove("Rest/B", {"C": 100})
    s = book.shape()
    assert s.paths == ("A", "Rest", "Rest/C")
    assert s.parent.tolist() == [-1, -1, 1]
    assert s.target.tolist() == [0.4, 0.6, 1.0]
    assert s.leaf.tolist() == [0, -1, 2]
    # the picture is frozen: a later edit does not change it
    book.set_targets("", {"A": 50, "Rest": 50})
    assert s.target.tolist() == [0.4, 0.6, 1.0]
    assert np.allclose(book.shape().target, [0.5, 0.5, 1.0])
