"""The withdrawal plan's headline cards and the benchmark's label, for the run page.

Cards are dicts (label, value, title, cls, note) so that any card layout can
take them; a depleted run's page leads with the date the money ran out, and
its return is not coloured as a success.
"""

from __future__ import annotations

from typing import Any


def benchmark_label(name: str | None) -> str | None:
    """The benchmark's name with its kind beside it: "SP500 (price index: ...)"."""
    if not name:
        return name
    from backtest.io.caveats import benchmark_kind

    if "total return" in name.lower():
        return name
    return f"{name} ({benchmark_kind(name)})"


def depleted(summary: dict[str, Any]) -> bool:
    """Whether the run could not pay a withdrawal in full (summary.json's depleted_on)."""
    return bool(summary.get("depleted_on"))


def plan_cards(summary: dict[str, Any]) -> list[dict[str, str]]:
    """The depletion date, the first-year withdrawal rate and the schedules that stop
    before the end (summary.json's depleted_on, withdrawal_rate, withdrawal_schedule)."""
    from backtest.report.build import fmt_date, fmt_pct

    cards = []
    if summary.get("depleted_on"):
        cards.append(_card("Money ran out on", fmt_date(summary["depleted_on"]),
                           "the first withdrawal that could not be paid in full", "neg",
                           "a withdrawal was rejected"))
    if summary.get("withdrawal_rate"):
        cards.append(_card("Withdrawal rate (first year)",
                           fmt_pct(summary["withdrawal_rate"], sign=False),
                           "first-year withdrawals / starting balance", "", "of the start"))
    for line in summary.get("withdrawal_schedule") or ():
        label, _, value = str(line).partition(": ")
        shown, _, why = value.partition(" (")
        cards.append(_card(label.capitalize(), shown, why.rstrip(")"), "neg", "ends early"))
    return cards


def _card(label: str, value: str, title: str, cls: str, note: str) -> dict[str, str]:
    return {"label": label, "value": value, "title": title, "cls": cls, "note": note}
