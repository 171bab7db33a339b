"""Queued requests: what waits for a trade window, and how to describe it."""

from __future__ import annotations

from dataclasses import dataclass

from backtest.domain.strategy import Order, RebalanceRequest, RemoveSlice


@dataclass(frozen=True)
class Withdrawal:
    """A scheduled withdrawal of `amount` dollars, or, when `fraction` is set, of
    that fraction of the account's value at the window that pays it."""

    amount: float
    fraction: float | None = None


Request = Order | RemoveSlice | RebalanceRequest | Withdrawal


def describe(req: Request) -> str:
    """A short plain description for the event log."""
    if isinstance(req, Withdrawal):
        if req.fraction is not None and req.amount == 0:
            return f"withdrawal {req.fraction:.4%} of the account"
        return f"withdrawal {req.amount:.2f}"
    if isinstance(req, Order):
        amount = "all" if req.amount is None else f"{req.amount:.2f}"
        return f"order {req.side} {req.path} {amount}"
    if isinstance(req, RemoveSlice):
        return f"remove_slice {req.path}"
    return f"rebalance {req.pie}"
