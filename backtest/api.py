"""The Python API: load a strategy, run it, compare variants, simulate futures.

    import backtest
    strategy = backtest.load("strategies/factor_pie.yaml")
    run = backtest.run(strategy)
    run.summary()["cagr"], run.daily["value"].plot()

Every table of a `Run` is indexed by date; `Run.summary()` is summary.json.
Overrides use the key paths `backtest compare --vary` takes
(`account.cash_minimum`, `cashflows.1.deposit`, `portfolio.slices.Growth.target`).
The command line calls the same chain (`backtest.app`), so a run from Python
equals the files `backtest run` writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from backtest import app
from backtest.domain.strategy import Strategy as Definition
from backtest.engine.market import Market
from backtest.errors import StrategyError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from backtest.engine.result import RunResult
    from backtest.montecarlo.results import MonteCarloResult
    from backtest.sweep.executors import Executor

TABLES = ("daily", "trades", "allocations", "holdings", "drift", "events", "lots")


@dataclass(frozen=True, eq=False)
class Strategy:
    """A validated strategy file with its market, ready to run.

    `definition` is the parsed strategy the engine reads
    (`backtest.domain.strategy.Strategy`, frozen); `document` the YAML
    document it came from, with the data paths made absolute; `warnings`
    what loading noticed (shown by `backtest run` on stderr).
    """

    definition: Definition
    market: Market = field(repr=False)
    document: dict[str, Any] = field(repr=False)
    source: Path
    warnings: tuple[str, ...] = ()

    def __repr__(self) -> str:
        sessions = self.market.sessions
        span = f"{sessions[0]}..{sessions[-1]}" if len(sessions) else "no sessions"
        return (f"<Strategy {self.name!r} from {self.source}: {len(self.tickers())} "
                f"tickers, {len(sessions)} sessions {span}>")

    @property
    def name(self) -> str:
        return self.definition.name

    def tickers(self) -> list[str]:
        """Every ticker the strategy names (the portfolio's, then added slices')."""
        return self.definition.tickers()

    def with_overrides(self, overrides: Mapping[str, Any]) -> Strategy:
        """A new, validated strategy with values set at key paths (those of --vary).

        `{"account.cash_minimum": 500, "rebalance.every": "quarter"}`; a path
        that does not exist raises `KeyPathError`, a bad value `StrategyError`,
        both naming the key. The market is reused when the data it depends on
        (files, dates, tickers) is unchanged.
        """
        from backtest.sweep.variants import KeyPathError, set_path

        doc: Any = self.document
        try:
            for key, value in overrides.items():
                doc = set_path(doc, str(key), value)
        except KeyPathError as exc:
            raise KeyPathError(exc.message, source=f"{self.source} (overrides)") from None
        return _build(doc, self.source, reuse=self)

    def run(self, *, risk_free: float | None = None) -> Run:
        """Simulate this strategy (see `backtest.run`)."""
        return run(self, risk_free=risk_free)


@dataclass(frozen=True, eq=False)
class Run:
    """A finished run: its tables (indexed by date), summary, returns and weights."""

    strategy: Strategy
    completed: app.Completed = field(repr=False)

    def __repr__(self) -> str:
        s = self.completed.summary
        return (f"<Run {self.strategy.name!r}: {s.get('start')} to {s.get('end')}, "
                f"final value {s.get('final_value', 0.0):,.2f}>")

    @property
    def result(self) -> RunResult:
        """The engine's tables with a `date` column, as written to Parquet."""
        return self.completed.result

    def _table(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.set_index("date")
        out.index = pd.DatetimeIndex(out.index, name="date")
        return out

    @property
    def daily(self) -> pd.DataFrame:
        """One row per session: value, cash, invested, net_flow, twr_index."""
        return self._table(self.result.daily)

    @property
    def trades(self) -> pd.DataFrame:
        """Trades netted per ticker and window: window, ticker, side, shares, price, amount."""
        return self._table(self.result.trades)

    @property
    def allocations(self) -> pd.DataFrame:
        """Per window, slice and cause: slice, ticker, shares, amount (signed), reason."""
        return self._table(self.result.allocations)

    @property
    def holdings(self) -> pd.DataFrame:
        """Shares of each slice at every close where they changed."""
        return self._table(self.result.holdings)

    @property
    def drift(self) -> pd.DataFrame:
        """Every slice's target and actual weight in its parent pie at every close."""
        return self._table(self.result.drift)

    @property
    def events(self) -> pd.DataFrame:
        """The event log: kind and detail (halt deferrals, rejections, ...)."""
        return self._table(self.result.events)

    @property
    def lots(self) -> pd.DataFrame:
        """Tax lots open at the end, indexed by the date each was bought (open_date)."""
        lots = self.completed.tax_tables.lots
        return lots.set_index(pd.DatetimeIndex(lots["open_date"], name="date"))

    @property
    def realized(self) -> pd.DataFrame:
        """One row per closed lot piece, indexed by the date it was sold (close_date)."""
        realized = self.completed.tax_tables.realized
        return realized.set_index(pd.DatetimeIndex(realized["close_date"], name="date"))

    def summary(self) -> dict[str, Any]:
        """Every measure of summary.json (a fresh copy)."""
        import copy

        return copy.deepcopy(self.completed.summary)

    def returns(self) -> pd.Series:
        """Daily time-weighted returns (the first is twr_index - 1 of the first session)."""
        from backtest.analytics.returns import daily_returns

        out = daily_returns(self.result.daily)
        out.index.name = "date"
        out.name = "return"
        return out

    def weights(self) -> pd.DataFrame:
        """Each slice's actual weight in its parent pie: one row per date, one column
        per slice path (NaN while the slice is not in the pie or its parent is empty)."""
        drift = self.result.drift
        table = drift.pivot(index="date", columns="slice", values="actual")
        table.index = pd.DatetimeIndex(table.index, name="date")
        table.columns = pd.Index([str(c) for c in table.columns], name="slice")
        return table

    def plot(self, ax: Axes | None = None) -> Axes:
        """The account's value over time (matplotlib), with deposits net of withdrawals."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(10, 4))
        daily = self.daily
        ax.plot(daily.index, daily["value"], label="value")
        ax.plot(daily.index, daily["net_flow"].cumsum(), label="net deposits",
                linestyle="--")
        ax.set_title(self.strategy.name)
        ax.set_ylabel("dollars")
        ax.legend()
        return ax

    def report(self, folder: str | Path, *, benchmark: pd.Series | str | None = None,
               charts: bool = True) -> Path:
        """Write the run's files (what `backtest run --out folder` writes) atomically.

        `benchmark`: closes indexed by date, or what `--benchmark` takes (a
        ticker, a price file, PATH:TICKER). `charts=False` writes only the tables.
        """
        bench = benchmark
        if isinstance(benchmark, str):
            bench = app.load_benchmark(benchmark, self.strategy.definition.data.prices)
        return app.write(self.completed, Path(folder), report=charts, benchmark=bench)


# --- functions ----------------------------------------------------------------------------


def _build(doc: Any, source: Path, reuse: Strategy | None = None) -> Strategy:
    """Validate a document and build (or reuse) its market."""
    from backtest.io.inputs import check_share_grid, market_for
    from backtest.io.strategy_file import parse_strategy
    from backtest.sweep.variants import resolve_data_paths

    doc = resolve_data_paths(doc, source.parent)
    try:
        definition = parse_strategy(doc, source=source, base_dir=source.parent)
    except (TypeError, ValueError) as exc:
        raise StrategyError(f"cannot read the strategy: {' '.join(str(exc).split())}",
                            source=source) from exc
    if reuse is not None and _same_market(reuse.definition, definition):
        market, warnings = reuse.market, reuse.warnings
    else:
        market, notes = market_for(definition)
        warnings = tuple(notes)
    check_share_grid(definition, market)
    return Strategy(definition, market, doc, source, warnings)


def _same_market(a: Definition, b: Definition) -> bool:
    return (a.data == b.data and a.tickers() == b.tickers()
            and a.portfolio.tickers() == b.portfolio.tickers())


def load(path: str | Path) -> Strategy:
    """Read and validate the strategy file at `path` and build its market.

    Raises `backtest.BacktestError` (a `StrategyError` or `DataError`) naming
    the file, key or row on one line, as the command line prints it.
    """
    from backtest.io.strategy_file import read_yaml

    source = Path(path)
    return _build(read_yaml(source), source)


def _strategy(strategy: Strategy | str | Path) -> Strategy:
    return strategy if isinstance(strategy, Strategy) else load(strategy)


def _key_paths(overrides: Mapping[str, Any] | None, keywords: Mapping[str, Any]) -> dict:
    """Overrides from a mapping and from keywords (`account__cash_minimum=500`)."""
    out = dict(overrides or {})
    out.update({k.replace("__", "."): v for k, v in keywords.items()})
    return out


def run(strategy: Strategy | str | Path, overrides: Mapping[str, Any] | None = None, *,
        risk_free: float | None = None, **key_paths: Any) -> Run:
    """Simulate a strategy (a `Strategy` or a strategy file) and return the `Run`.

    overrides: key path -> value, as `Strategy.with_overrides` takes; keyword
               arguments add more, `__` standing for the dot
               (`account__cash_minimum=500`).
    risk_free: annual rate for Sharpe and Sortino (as `--risk-free`); None: the
               command line's default rate.
    """
    s = _strategy(strategy)
    changes = _key_paths(overrides, key_paths)
    if changes:
        s = s.with_overrides(changes)
    return Run(s, app.execute(s.definition, s.market, risk_free=risk_free))


def compare(strategies: Strategy | str | Path | Sequence[Strategy | str | Path],
            vary: Mapping[str, Sequence[Any]] | None = None,
            out: str | Path | None = None, executor: Executor | None = None, *,
            workers: int | None = None, sort: str = "twr", report: bool = True,
            risk_free: float | None = None, keep_runs: bool = False,
            variant_reports: bool = False) -> pd.DataFrame:
    """Every combination of `vary` over one or several strategies, as a table.

    strategies: a `Strategy` (with its overrides) or a file, or a list of them.
    vary:       key path -> values (`{"account.window": ["morning", "afternoon"]}`).
    out:        the sweep's folder (resumable) [default: reports/<name>-compare/].
    executor:   where variants run [default: `workers` local processes, every core
                by default; 1 runs in this process].
    keep_runs:  keep each variant's whole run folder (all its tables) under
                `out/variants/<hash>/` [default: summary.json, daily.parquet, variant.json].
    variant_reports: also each variant's report.html (implies `keep_runs`).
    Returns one row per variant: the varied values and every summary measure.
    Safe in a script without ``if __name__ == "__main__":`` (the worker
    processes do not re-import the script).
    """
    from backtest.sweep.executors import make_executor
    from backtest.sweep.sweep import compare as sweep_compare
    from backtest.sweep.sweep import plan

    items = [strategies] if isinstance(strategies, Strategy | str | Path) else list(strategies)
    paths = [s.source if isinstance(s, Strategy) else Path(s) for s in items]
    docs = [s.document if isinstance(s, Strategy) else None for s in items]
    variants = plan(paths, vary, risk_free=risk_free, documents=docs)
    own = executor is None
    ex = make_executor(workers) if executor is None else executor
    try:
        return sweep_compare(paths, vary, out, ex, sort=sort, report=report,
                             risk_free=risk_free, variants=variants, keep_runs=keep_runs,
                             variant_reports=variant_reports)
    finally:
        if own:
            ex.close()


def simulate(strategy: Strategy | str | Path, years: float = 30, paths: int = 1000, *,
             seed: int = 0, executor: Executor | None = None, workers: int | None = None,
             **options: Any) -> MonteCarloResult:
    """Monte Carlo futures of a strategy (see `backtest.montecarlo.simulate`).

    The full account model runs on `paths` bootstrapped price paths of `years`
    x 252 sessions; `options` are those of `backtest simulate` (`method`,
    `block`, `start`, `end`, `inflation`, `progress`, `memory`: a worker's memory
    budget, bytes or "512MB", "2GB").
    """
    s = _strategy(strategy)
    return app.monte_carlo(s.definition, years, paths, seed=seed, executor=executor,
                           workers=workers, **options)
