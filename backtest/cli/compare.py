"""`backtest compare`: run variants of a strategy (or several files) and compare them."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import click

from backtest.cli.options import check_risk_free, check_scheduler, executor_options, force_option
from backtest.errors import BacktestError

TOP_COLUMNS = ("final_value", "twr", "cagr", "max_drawdown", "max_abs_drift")


@click.command()
@click.argument("strategies", nargs=-1, required=True, metavar="STRATEGY...",
                type=click.Path(dir_okay=False))
@click.option("--vary", "vary", multiple=True, metavar="KEY=V1,V2,...",
              help="A key path of the strategy file and its values; repeat for a grid of "
                   "every combination.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder of the sweep [default: reports/<strategy-name>-compare/].")
@executor_options
@click.option("--sort", default=None, metavar="METRIC[:asc|:desc]",
              help="Order of the table (drift, volatility and trades ascend by default) "
                   "[default: twr; cagr for variants covering different periods].")
@click.option("--report/--no-report", default=True, show_default=True,
              help="Write comparison.html and the PNG charts.")
@click.option("--keep-runs", is_flag=True,
              help="Keep each variant's whole run folder (every table `backtest run` "
                   "writes) [default: summary.json, daily.parquet and variant.json only].")
@click.option("--variant-reports", is_flag=True,
              help="Also write each variant's report.html and charts (slower; implies "
                   "--keep-runs).")
@click.option("--risk-free", type=float, default=None,
              help="Annual risk-free rate for Sharpe and Sortino (0.03 = 3%) [default: the "
                   "1-month T-bill rate over each variant's months from data/sample/"
                   "ff_monthly.parquet when it covers them, else 0].")
@click.option("--baseline", "baseline", multiple=True, metavar="KEY=V",
              help="The variant the others are measured against (repeat for each varied "
                   "key) [default: the strategy file as written].")
@click.option("--csv", "csv", is_flag=True,
              help="Also write CSV copies of each variant's Parquet tables in its folder "
                   "(comparison.csv is always written).")
@click.option("--top", type=click.IntRange(min=0), default=10, show_default=True,
              help="Variants shown in the table printed at the end.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@force_option
@click.pass_context
def compare(ctx: click.Context, strategies: tuple[str, ...], vary: tuple[str, ...],
            out: str | None, workers: int | None, scheduler: str | None, sort: str,
            report: bool, keep_runs: bool, variant_reports: bool, risk_free: float | None,
            baseline: tuple[str, ...], csv: bool, top: int, quiet: bool,
            force: bool) -> None:
    """Compare auto-invest settings: every combination of --vary, or whole files.

    KEY is a key path of the strategy file's YAML document (dots between keys,
    numbers index lists); the values are YAML scalars. Every variant is
    checked before anything runs. Variants sharing their price data run
    together in batches of the engine. Each finished variant is kept in
    OUT/variants/<hash>/ (summary.json as `backtest run` writes it,
    daily.parquet and variant.json; with --keep-runs every file of the run),
    so rerunning the same command skips what is done and resumes an
    interrupted sweep. The
    comparison is OUT/comparison.parquet, .csv and (unless --no-report)
    comparison.html with the charts.

    Exit status: 0 when every variant ran; 1 when some variant failed (the
    others finish; the table's `error` column says why); 2 for a bad
    strategy, key path or option (nothing runs); 130 when interrupted.

    Examples:

    \b
        backtest compare strategies/factor_pie.yaml \\
            --vary account.window=morning,afternoon \\
            --vary account.cash_minimum=0,500 --vary rebalance.every=never,quarter
        backtest compare a.yaml b.yaml c.yaml --sort max_abs_drift
        backtest compare strategies/nested_stocks.yaml \\
            --vary cashflows.1.deposit=250,500 --scheduler tcp://127.0.0.1:8786
    """
    try:
        code = _compare(strategies, vary, out, workers, scheduler, sort, report,
                        variant_reports, risk_free, top, quiet, baseline, csv, force,
                        keep_runs)
    except BacktestError as exc:
        click.echo(f"error: {exc.line()}", err=True)
        ctx.exit(2)
    ctx.exit(code)


def parse_baseline(specs: tuple[str, ...]) -> dict[str, object]:
    """`--baseline KEY=V` options as key path -> value (a YAML scalar)."""
    from backtest.sweep.variants import parse_value

    out: dict[str, object] = {}
    for spec in specs:
        key, eq, text = spec.partition("=")
        if not eq or not key.strip():
            raise BacktestError(f"--baseline {spec!r}: expected KEY=VALUE")
        out[key.strip()] = parse_value(text.strip())
    return out


def _compare(strategies, vary, out, workers, scheduler, sort, report, variant_reports,
             risk_free, top, quiet, baseline=(), csv=False, force=False,
             keep_runs=False) -> int:
    from backtest.io.out_folder import check_out
    from backtest.sweep.comparison import parse_sort
    from backtest.sweep.executors import make_executor
    from backtest.sweep.sweep import compare as run_compare
    from backtest.sweep.sweep import default_out, plan
    from backtest.sweep.variants import merge_vary

    check_risk_free(risk_free)
    if scheduler is not None:
        check_scheduler(scheduler)
    grid = merge_vary(vary)
    parse_sort(sort or "twr", list(grid))  # a bad --sort stops before anything runs
    variants = plan(list(strategies), grid, risk_free=risk_free)
    base = parse_baseline(baseline)
    if base:
        from backtest.sweep.comparison import pick_baseline

        pick_baseline(variants, base)  # a bad --baseline stops before anything runs
    dest = Path(out) if out is not None else default_out(variants)
    check_out(dest, "compare", force=force, kinds=("compare",), replace=False,
              inputs=strategies)  # up front: a folder of the user's stays as it is
    executor = make_executor(workers, scheduler)
    bar = _Progress(disabled=quiet or not sys.stderr.isatty())
    from backtest.io.caveats import compare_facts, compare_notes

    auto, notes = compare_notes(compare_facts(variants), sort_given=sort is not None)
    sort = sort or auto or "twr"
    for note in notes:
        click.echo(f"warning: {note}", err=True)
    try:
        table = run_compare(list(strategies), grid, dest, executor, sort=sort, report=report,
                            variant_reports=variant_reports, keep_runs=keep_runs,
                            risk_free=risk_free,
                            progress=bar.update, on_start=bar.start, on_error=bar.failed,
                            variants=variants, baseline=base or None, force=force)
    except KeyboardInterrupt:
        bar.close()
        click.echo(f"interrupted: finished variants are kept in {dest}/variants/; "
                   "run the same command again to resume", err=True)
        return 130
    finally:
        bar.close()
        executor.close()
    if csv:  # CSV copies of the Parquet tables each variant's folder holds
        from backtest.report.csv_copies import write_csv_copies

        for h in table.loc[table["error"].isna(), "hash"]:
            write_csv_copies(dest / "variants" / str(h))
    click.echo(top_table(table, sort, top))
    files = ["comparison.csv", "comparison.parquet"] + (["comparison.html"] if report else [])
    click.echo(f"wrote {dest}/ ({', '.join(files)}; each variant in variants/<hash>/)")
    failed = int(table["error"].notna().sum())
    if failed:
        click.echo(f"{failed} of {len(table)} variants failed (see the error column)", err=True)
        return 1
    return 0


class _Progress:
    """A tqdm bar on stderr (with an ETA), plus one line per failed variant."""

    def __init__(self, disabled: bool) -> None:
        self.disabled = disabled
        self.bar = None

    def start(self, todo: int, finished: int) -> None:
        if finished:
            click.echo(f"{finished} variant{'s' if finished != 1 else ''} already finished "
                       f"(skipped), {todo} to run", err=True)
        if todo and not self.disabled:
            from tqdm import tqdm

            self.bar = tqdm(total=todo, unit="variant", file=sys.stderr, dynamic_ncols=True)

    def update(self, done: int, total: int, variant, error: str | None) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def failed(self, failure) -> None:
        line = f"failed: {failure.variant.name} ({failure.variant.hash}): {failure.message}"
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            click.echo(line, err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _cell(column: str, x: object) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if column == "final_value":
        return f"${x:,.2f}"
    if column == "vs_baseline_final_value":
        return "±$0.00" if abs(x) < 0.005 else (f"+${x:,.2f}" if x > 0 else f"-${-x:,.2f}")
    if column in ("twr", "cagr", "max_drawdown", "mwr", "volatility"):
        return f"{x:+.2%}"
    if column in ("max_abs_drift", "mean_abs_drift"):
        return f"{x * 100:.2f} pt"
    if isinstance(x, float):
        return f"{x:,.4g}"
    return str(x)


def top_table(table, sort: str, top: int) -> str:
    """The first `top` rows as aligned text: variant, the sort metric, headline numbers."""
    metric = sort.partition(":")[0]
    cols = ["variant"] + [c for c in (metric, *TOP_COLUMNS) if c != "variant"]
    if "vs_baseline_final_value" in table.columns:
        at = cols.index("final_value") + 1 if "final_value" in cols else len(cols)
        cols.insert(at, "vs_baseline_final_value")
    cols = list(dict.fromkeys(c for c in cols if c in table.columns))
    head = table.head(top)
    cells = [[str(r["variant"])] + [_cell(c, r[c]) for c in cols[1:]]
             for _, r in head.iterrows()]
    for row, (_, r) in zip(cells, head.iterrows(), strict=True):
        if isinstance(r["error"], str):
            row.append(f"FAILED: {r['error'][:60]}")
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    lines = [f"top {len(head)} of {len(table)} by {metric}:",
             "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()]
    if "baseline" in table.columns and table["baseline"].any():
        base = table.loc[table["baseline"].astype(bool), "variant"].iloc[0]
        lines.insert(1, f"baseline: {base} (vs_baseline_final_value: final value minus the "
                        "baseline's)")
    for row in cells:
        text = "  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                         for i, (v, w) in enumerate(zip(row, widths, strict=False)))
        if len(row) > len(cols):
            text += "  " + row[-1]
        lines.append(text.rstrip())
    return "\n".join(lines)
