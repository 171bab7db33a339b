"""Queued requests: what waits for a trade window, and how to describe it."""

from __future__ import annotations

from dataclasses import dataclass

from backtest.domain.strategy import Order, RebalanceRequest
from backtest.engine.book import Detached


@dataclass(frozen=True)
class Withdrawal:
    """A scheduled withdrawal of `amount` dollars, or, when `fraction` is set, of
    that fraction of the account's value at the window that pays it."""

    amount: float
    fraction: float | None = None


@dataclass(frozen=True, eq=False)
class Leaving:
    """A removed slice's holdings waiting for the sale and the reinvestment."""

    slice: Detached

    @property
    def path(self) -> str:
        return self.slice.path


@dataclass(frozen=True, eq=False)
class DividendBuy:
    """A dividend of at least `min_trade` bought back into the leaf that paid it."""

    leaf: int
    path: str
    amount: float


Request = Order | Leaving | RebalanceRequest | Withdrawal | DividendBuy


def describe(req: Request) -> str:
    """A short plain description for the event log."""
    if isinstance(req, Withdrawal):
        if req.fraction is not None and req.amount == 0:
            return f"withdrawal {req.fraction:.4%} of the account"
        return f"withdrawal {req.amount:.2f}"
    if isinstance(req, Order):
        amount = "all" if req.amount is None else f"{req.amount:.2f}"
        return f"order {req.side} {req.path} {amount}"
    if isinstance(req, Leaving):
        return f"remove_slice {req.path}"
    if isinstance(req, DividendBuy):
        return f"dividend reinvestment {req.path} {req.amount:.2f}"
    return f"rebalance {req.pie}"
