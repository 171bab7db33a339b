"""A sweep: build and validate every variant, run the missing ones, compare them all.

    from backtest.sweep import compare
    table = compare("strategies/factor_pie.yaml",
                    {"account.window": ["morning", "afternoon"],
                     "account.cash_minimum": [0, 500]},
                    out="reports/factor-compare")

Every variant is validated before anything runs. Finished variants are kept
under `<out>/variants/<hash>/` and skipped by the next sweep; a variant whose
run fails is reported (the table's `error` column and `on_error`) while the
others finish.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from backtest import __version__
from backtest.errors import BacktestError
from backtest.io.out_folder import claim, recover_children
from backtest.sweep.comparison import (
    add_baseline,
    add_summary_extras,
    build_table,
    parse_sort,
    pick_baseline,
    write_comparison,
)
from backtest.sweep.executors import Executor, LocalExecutor
from backtest.sweep.jobs import make_jobs
from backtest.sweep.runner import Outcome, Task, VariantError, run_job
from backtest.sweep.store import ResultStore
from backtest.sweep.variants import Variant, build_variants

Progress = Callable[[int, int, Variant, str | None], None]


@dataclass(frozen=True)
class Failure:
    """A variant whose run raised: the one-line reason and the worker's traceback."""

    variant: Variant
    message: str
    details: str = ""


class SweepError(BacktestError):
    """A sweep cannot start (bad options)."""


def default_out(variants: Sequence[Variant]) -> Path:
    """`reports/<strategy-name>-compare/` for the first strategy file."""
    name = str(variants[0].document.get("name", "")) if variants else ""
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "strategy"
    return Path("reports") / f"{text}-compare"


def plan(strategy: str | Path | Sequence[str | Path],
         vary: Mapping[str, Sequence[Any]] | None = None, *,
         risk_free: float | None = 0.0,
         documents: Sequence[Any] | None = None) -> list[Variant]:
    """Every variant, validated (raises StrategyError/KeyPathError before any run).

    `documents`: each file's YAML document when already in memory (None: read it)."""
    paths = [strategy] if isinstance(strategy, str | Path) else list(strategy)
    if not paths:
        raise SweepError("no strategy file given")
    settings = {"risk_free": None if risk_free is None else float(risk_free),
                "engine": __version__}
    return build_variants(paths, vary, settings=settings, documents=documents)


def compare(strategy: str | Path | Sequence[str | Path],
            vary: Mapping[str, Sequence[Any]] | None = None,
            out: str | Path | None = None,
            executor: Executor | None = None, *,
            sort: str = "twr",
            report: bool = True,
            variant_reports: bool = False,
            keep_runs: bool = False,
            risk_free: float | None = 0.0,
            progress: Progress | None = None,
            on_start: Callable[[int, int], None] | None = None,
            on_error: Callable[[Failure], None] | None = None,
            variants: Sequence[Variant] | None = None,
            baseline: Mapping[str, Any] | None = None,
            force: bool = False) -> pd.DataFrame:
    """Run every combination of `vary` over the strategy file(s) and compare them.

    strategy: one file (its variants are named by their values) or several
                (named by file stem; `vary` then applies to each).
    vary:     key path -> values (`{"account.window": ["morning", "afternoon"]}`).
    out:      the sweep's folder [default: reports/<strategy-name>-compare/].
    executor: where variants run [default: a LocalExecutor on every core].
    sort:     the metric the table is sorted by, `metric`, `metric:asc` or `metric:desc`.
    report:   also write comparison.html and the PNG charts.
    variant_reports: also write each variant's report.html and charts (implies
              `keep_runs`: a report is built from the run's tables).
    keep_runs: keep each variant's whole run folder (every table `backtest run`
              writes); by default a variant keeps summary.json, daily.parquet and
              variant.json, all the comparison reads.
    progress: called after each finished variant with (done, total, variant, error).
    on_start: called with (to run, already finished) before running.
    on_error: called with each `Failure`.
    variants: the result of `plan(strategy, vary)` when already made (skips planning).
    baseline: key path -> value naming the variant the others are measured
              against; by default the first strategy file as written (run as
              one more variant when no variant of the grid is the same document).
    force:    write into `out` even when it is a non-empty folder this tool did not
              write (by default only an empty or missing folder, or an earlier
              sweep's, is used; `backtest.io.out_folder`).

    Returns the comparison table (also in `<out>/comparison.parquet` and .csv);
    its `error` column is set for the variants that failed.
    """
    if variants is None:
        variants = plan(strategy, vary, risk_free=risk_free)
    keys = list(vary or {})
    sort_key = parse_sort(sort, keys)
    variants = list(variants)
    base = _baseline(strategy, variants, baseline, risk_free)
    dest = claim(out if out is not None else default_out(variants), "compare", force=force,
                 kinds=("compare",))
    recover_children(dest / "variants")  # what a killed sweep left half-written
    store = ResultStore(dest)
    failures = run_variants(variants, store, executor, risk_free=risk_free,
                            variant_reports=variant_reports, keep_runs=keep_runs,
                            progress=progress,
                            on_start=on_start, on_error=on_error)
    table = build_table(variants, store, keys, failures={f.variant.hash: f.message
                                                        for f in failures},
                        files=len({v.source for v in variants}) > 1)
    table = add_baseline(add_summary_extras(table, store), base.hash)
    table = sort_key.apply(table)
    write_comparison(store, table, keys, sort_key, report=report)
    return table


def _baseline(strategy: str | Path | Sequence[str | Path], variants: list[Variant],
              spec: Mapping[str, Any] | None, risk_free: float) -> Variant:
    """The baseline variant; the file as written is appended to ``variants`` when
    no variant of the grid is that same document."""
    if spec:
        return pick_baseline(variants, spec)
    paths = [strategy] if isinstance(strategy, str | Path) else list(strategy)
    written = plan([paths[0]], None, risk_free=risk_free)[0]
    same = next((v for v in variants if v.hash == written.hash), None)
    if same is None:  # e.g. `cash_minimum=0` where the file leaves it at its default of 0
        target = _strategy_of(written)
        same = next((v for v in variants if v.source == written.source
                     and _strategy_of(v) == target), None)
    if same is not None:
        return same
    written = dataclasses.replace(written, name=f"{written.name} as written")
    variants.append(written)
    return written


def _strategy_of(v: Variant) -> Any:
    from backtest.io.strategy_file import parse_strategy

    return parse_strategy(v.document, source=v.source, base_dir=v.source.parent)


def run_variants(variants: Sequence[Variant], store: ResultStore,
                 executor: Executor | None = None, *, risk_free: float | None = 0.0,
                 variant_reports: bool = False, keep_runs: bool = False,
                 progress: Progress | None = None,
                 on_start: Callable[[int, int], None] | None = None,
                 on_error: Callable[[Failure], None] | None = None) -> list[Failure]:
    """Run the variants that have no finished folder yet, in engine batches (jobs of
    variants sharing a market); return the failures. With `keep_runs` (or
    `variant_reports`) a finished folder without the run's tables is run again."""
    tables = keep_runs or variant_reports
    unique: dict[str, Variant] = {}
    for v in variants:
        unique.setdefault(v.hash, v)
    todo = [v for v in unique.values()
            if not store.done(v.hash, tables=tables, report=variant_reports)]
    if on_start is not None:
        on_start(len(todo), len(unique) - len(todo))
    if not todo:
        return []
    tasks = [Task(hash=v.hash, name=v.name, document=v.document, source=str(v.source),
                  values=v.values, risk_free=risk_free, report=variant_reports,
                  keep=keep_runs) for v in todo]
    own = executor is None
    ex: Executor = LocalExecutor() if executor is None else executor
    failures: list[Failure] = []
    done = 0
    try:
        jobs = make_jobs(tasks, max(1, int(getattr(ex, "workers", 1) or 1)))
        for job, results in ex.map_unordered(run_job, jobs):
            if isinstance(results, BrokenProcessPool):
                # Every later variant would fail the same way: one clear error, not
                # a table of NaN (finished variants stay in the store).
                raise SweepError(f"the worker processes stopped ({results}); the "
                                 f"{done} finished variant(s) are kept in {store.root}, "
                                 "run again to resume (or use workers=1 / --workers 1)"
                                 ) from results
            if not isinstance(results, list):  # the whole job failed (or a bad return)
                results = [(task, results) for task in job.tasks]
            for task, result in results:
                variant = unique[task.hash]
                error = None
                if isinstance(result, Outcome):
                    store.write(task.hash, result.files)
                else:
                    failure = _failure(variant, result)
                    failures.append(failure)
                    error = failure.message
                    if on_error is not None:
                        on_error(failure)
                done += 1
                if progress is not None:
                    progress(done, len(tasks), variant, error)
    finally:
        if own:
            ex.close()
    return failures


def _failure(variant: Variant, result: object) -> Failure:
    if isinstance(result, VariantError):
        return Failure(variant, result.message, result.details)
    if isinstance(result, BaseException):
        text = " ".join(str(result).split())[:300]
        return Failure(variant, f"{type(result).__name__}: {text}" if text
                       else type(result).__name__)
    return Failure(variant, f"the worker returned {type(result).__name__}, not a result")
