"""Monte Carlo: will this pie and this plan last? Future paths by bootstrap.

    from backtest.montecarlo import simulate
    mc = simulate("strategies/nested_stocks.yaml", years=30, paths=1000, seed=1)
    mc.paths            # one row per path: final_value, twr, cagr, mwr, success, ...
    mc.percentiles      # p5..p95 of the value (and real value) at every session
    mc.success_rate     # share of paths that paid every withdrawal (NaN: none planned)

Modules: `paths` (resampling, pure), `plan` (the strategy projected onto the
synthetic sessions), `runner` (one batch of paths in a worker), `results`
(percentiles and measures), `charts`, `output` (the run's folder), `api`.
"""

from backtest.montecarlo.api import MonteCarloError, prepare, simulate
from backtest.montecarlo.output import write_outputs
from backtest.montecarlo.paths import (
    History,
    history_from_arrays,
    path_rng,
    resample_indices,
    resample_returns,
)
from backtest.montecarlo.results import MonteCarloResult

__all__ = ["History", "MonteCarloError", "MonteCarloResult", "history_from_arrays", "path_rng",
           "prepare", "resample_indices", "resample_returns", "simulate", "write_outputs"]
