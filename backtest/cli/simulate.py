"""`backtest simulate`: Monte Carlo futures of a strategy by bootstrap (backtest.montecarlo)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from backtest.cli.options import check_simulate_options, executor_options, force_option
from backtest.errors import BacktestError


class _OptionError(click.ClickException):
    """A bad option: one line on stderr and exit status 2 (like a bad strategy file)."""

    exit_code = 2

    def show(self, file=None) -> None:  # noqa: ARG002 (click's signature)
        click.echo(f"error: {self.format_message()}", err=True)


class _OneLineCommand(click.Command):
    """Option errors (a bad number, a value out of range) as one line, exit status 2."""

    def make_context(self, info_name, args, parent=None, **extra):  # type: ignore[override]
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise _OptionError(" ".join(exc.format_message().split())) from None


@click.command(cls=_OneLineCommand)
@click.argument("strategy", type=click.Path(dir_okay=False))
@click.option("--years", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, help="Length of every path, in years of 252 sessions.")
@click.option("--paths", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Number of simulated paths.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed: the same seed gives the same paths, whatever --workers.")
@click.option("--method", type=click.Choice(["block-bootstrap", "bootstrap"]),
              default="block-bootstrap", show_default=True,
              help="Resample blocks of consecutive days, or independent days.")
@click.option("--block", type=click.IntRange(min=1), default=21, show_default=True,
              help="Sessions per block (block-bootstrap).")
@click.option("--from", "start", metavar="DATE", default=None,
              help="First date of the history to resample [default: the strategy's start].")
@click.option("--to", "end", metavar="DATE", default=None,
              help="Last date of the history to resample [default: the strategy's end].")
@click.option("--inflation", type=float, default=0.025, show_default=True,
              help="Annual inflation for the values in today's dollars (0.025 = 2.5%).")
@click.option("--withdrawal", metavar="AMOUNT|P%", default=None,
              help="Replace the strategy's withdrawals: dollars each --every (4000), raised "
                   "by --indexed every year, or a yearly percent of the account (4%).")
@click.option("--every", type=click.Choice(["week", "2weeks", "month", "quarter", "year"]),
              default="month", show_default=True, help="How often --withdrawal is paid.")
@click.option("--indexed", metavar="RATE|inflation|none", default=None,
              help="Yearly rise of a --withdrawal amount (0.025, 2.5%) [default: --inflation].")
@click.option("--confidence", type=float, default=0.95, show_default=True,
              help="Share of paths that must last for the safe withdrawal rate.")
@click.option("--rate-paths", type=click.IntRange(min=0), default=100, show_default=True,
              help="Paths (the first ones) the safe and perpetual rates are bisected over; "
                   "0 skips them.")
@click.option("--rate-steps", type=click.IntRange(min=1, max=30), default=7,
              show_default=True, help="Bisection halvings of [0, --rate-high].")
@click.option("--rate-high", type=float, default=0.15, show_default=True,
              help="Highest yearly withdrawal rate tried (0.15 = 15%).")
@click.option("--memory", metavar="SIZE", default=None,
              help="Memory one worker's engine batch may hold: bytes or a size such as "
                   "512MB or 2GB (1 GB = 1024**3 bytes) [default: 1GB].")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Output folder [default: reports/<strategy-name>-montecarlo/].")
@executor_options
@force_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def simulate(ctx: click.Context, strategy: str, years: float, paths: int, seed: int,
             method: str, block: int, start: str | None, end: str | None, inflation: float,
             withdrawal: str | None, every: str, indexed: str | None, confidence: float,
             rate_paths: int, rate_steps: int, rate_high: float, memory: str | None,
             out: str | None, workers: int | None, scheduler: str | None, force: bool,
             quiet: bool) -> None:
    """Will this pie and this plan last? Monte Carlo futures by bootstrap.

    Builds PATHS synthetic futures of YEARS x 252 sessions by resampling whole
    historical days of all the strategy's tickers together (so their
    correlation is kept), in blocks of BLOCK consecutive sessions with the
    block bootstrap (so calm and turbulent spells are kept), and runs the
    full account model on each: trade windows, dynamic rebalancing, the cash
    minimum, the rebalancing policy. Recurring deposits and withdrawals keep
    their frequency and amount (and run to the end of every path unless they
    end early: the summary names them); the initial deposit is made on the
    first synthetic session; other one-off items and dated events are
    dropped (a warning says so). --withdrawal replaces the withdrawals.

    Answers: the success rate, the year the money ran out on failed paths,
    the safe withdrawal rate (the largest inflation-indexed starting rate
    that --confidence of the paths survive) and the perpetual rate (the
    largest whose median path keeps its real starting balance), by
    bisection over the first --rate-paths paths.

    Writes OUT/simulation.parquet (one row per path), percentiles.parquet
    (p5..p95 of the value at every session, nominal and real),
    montecarlo.json, fan.png, final_values.png and montecarlo.html.

    Exit status: 0 on success; 2 for a bad strategy, data or option;
    130 when interrupted (nothing half-written).

    Examples:

    \b
        backtest simulate strategies/nested_stocks.yaml --years 30 --paths 1000 --seed 7
        backtest simulate strategies/retirement_drawdown.yaml --from 2000-01-03 \\
            --to 2020-12-31 --method bootstrap --inflation 0.03
        backtest simulate strategies/retirement_drawdown.yaml --withdrawal 4% \\
            --every quarter --rate-paths 0
    """
    plan = {"withdrawal": withdrawal, "every": every, "indexed": indexed,
            "confidence": confidence, "rate_paths": rate_paths, "rate_steps": rate_steps,
            "rate_high": rate_high, "memory": memory}
    try:
        _simulate(strategy, years, paths, seed, method, block, start, end, inflation, out,
                  workers, scheduler, quiet, plan, force)
    except BacktestError as exc:
        click.echo(f"error: {exc.line()}", err=True)
        ctx.exit(2)


def _simulate(strategy, years, paths, seed, method, block, start, end, inflation, out,
              workers, scheduler, quiet, plan, force=False) -> None:
    from backtest import app
    from backtest.io.out_folder import check_out
    from backtest.montecarlo.api import check_options, parse_memory
    from backtest.montecarlo.output import default_out, write_outputs
    from backtest.sweep.executors import make_executor

    check_options(years, paths, method, block, inflation, plan["confidence"],
                  min(paths, plan["rate_paths"]), plan["rate_steps"], plan["rate_high"])
    check_simulate_options(years, seed, scheduler)
    parse_memory(plan["memory"])
    if out is None:  # the default folder is named after the strategy
        from backtest.io.inputs import read_strategy

        out = str(default_out(read_strategy(strategy).name))
    check_out(out, "simulate", force=force, inputs=(strategy,))  # before any work
    executor = make_executor(workers, scheduler)
    bar = None
    disabled = quiet or not sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if disabled:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="path", file=sys.stderr, dynamic_ncols=True)
        bar.update(done - bar.n)

    try:
        result = app.monte_carlo(strategy, years, paths, seed=seed, method=method,
                                 block=block, start=start, end=end, executor=executor,
                                 inflation=inflation, progress=progress, **plan)
    finally:
        if bar is not None:
            bar.close()
        executor.close()
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    dest = Path(out)
    try:
        write_outputs(result, dest, force=force)
    except OSError as exc:  # a file in the way, a read-only or full disk, ...
        raise BacktestError(f"cannot write the output: {exc.strerror or exc}",
                            source=dest) from None
    click.echo("\n".join([*summary_lines(result, years), f"wrote {dest}/"]))


def summary_lines(result, years: float) -> list[str]:
    """The terminal summary: the plan's answers (depletion, rates) before the values."""
    h = result.headline()
    s = result.settings
    lines = [f"{result.name}: {h['paths']} path{'s' if h['paths'] != 1 else ''} of {years:g} "
             f"year{'s' if years != 1 else ''} "
             f"({h['sessions']} sessions, {h['start']} to {h['end']})",
             f"  resampled from {s['history_start']} to {s['history_end']} "
             f"({s['history_years']:g} years)"]
    lines += [f"  {line}" for line in s.get("withdrawal_schedule") or ()]
    if result.has_withdrawals:
        lines.append(f"  success rate            {result.success_rate:.1%} "
                     "(every withdrawal paid in full)")
        if h["depleted_paths"]:
            q = h["depletion_year_percentiles"]
            lines.append(f"  depleted paths          {h['depleted_paths']}: the money ran out "
                         f"in year {q['p50']:g} (median), year {q['p5']:g} (p5), "
                         f"year {h['depletion_year_earliest']} at the earliest")
    lines.extend(rate_lines(s))
    lasting = " (paths that lasted)" if h.get("depleted_paths") else ""
    lines += [f"  median final value      {_money(h['median_final_value_lasting'])}{lasting}",
              f"  median in today's $     {_money(h['median_real_final_value'])}"]
    p = h["final_value_percentiles"]
    lines.append("  final value p5 / p95    " + " / ".join(_money(p[k], 0) for k in ("p5", "p95")))
    return lines


def rate_lines(s: dict) -> list[str]:
    """The safe and perpetual withdrawal rates, as found (settings of the result)."""
    if "safe_withdrawal_rate" not in s:
        return []

    def rate(x, top: bool) -> str:
        if x is None:
            return "none (the median path loses real value even without withdrawals)"
        return ("at least " if top else "") + f"{x:.2%}"

    how = (f"over {s['rate_paths']} paths, to {s['rate_resolution']:.2%}, "
           f"withdrawn every {s['rate_every']} and raised {s['inflation']:.1%} a year")
    return [f"  safe withdrawal rate    {rate(s['safe_withdrawal_rate'], s['safe_at_least'])} "
            f"({s['rate_confidence']:.0%} of paths last; {how})",
            f"  perpetual rate          "
            f"{rate(s['perpetual_withdrawal_rate'], s['perpetual_at_least'])} "
            "(median path keeps its starting balance in today's dollars)"]


def _money(x, digits: int = 2) -> str:
    return "n/a" if x is None else f"${x:,.{digits}f}"
