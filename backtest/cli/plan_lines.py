"""The withdrawal plan's lines of a run's terminal summary: depletion first."""

from __future__ import annotations

from typing import Any


def plan_lines(s: dict[str, Any], *, depletion: bool = True) -> list[str]:
    """Lines for summary.json's depleted_on (unless `depletion` is False: the caller
    says it), withdrawal_rate and withdrawal_schedule."""
    out = []
    if depletion and s.get("depleted_on"):
        out.append(f"  MONEY RAN OUT on {s['depleted_on']}: a withdrawal could not be paid "
                   "in full")
    rate = s.get("withdrawal_rate")
    if rate:
        out.append(f"  withdrawal rate {rate:.2%} (first-year withdrawals / starting balance)")
    out.extend(f"  {line}" for line in s.get("withdrawal_schedule") or ())
    return out
