"""The bad-input catalogue for the commands other than `run` (and run's options).

Each case is a bad option or a damaged input given to the real CLI: it must
stop with exit status 2 and exactly one line on stderr, starting with
`error:` and saying what is wrong; no traceback; nothing written to --out.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from test_run_bad_inputs import DATES, STRATEGY, TICKERS, write_inputs

from backtest.cli import cli

Setup = Callable[[Path], list[str]]  # the folder with the inputs -> the arguments


def invoke(args: list[str]):
    return CliRunner().invoke(cli, args)


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def simulate(*extra: str) -> Setup:
    return lambda d: ["simulate", str(d / "strategy.yaml"), "--paths", "2", "--years", "1",
                      "--workers", "1", "-q", "--out", str(d / "out"), *extra]


def compare(*extra: str) -> Setup:
    return lambda d: ["compare", str(d / "strategy.yaml"), "--workers", "1", "-q",
                      "--out", str(d / "out"), *extra]


def run(*extra: str) -> Setup:
    return lambda d: ["run", str(d / "strategy.yaml"), "--out", str(d / "out"), *extra]


def crash_history(d: Path) -> list[str]:
    """Every price halves every day: a year of such days takes a $100 deposit
    beyond any share count the grid can hold exactly."""
    rows = [{"date": day, "ticker": t, "close": 10.0 * 0.5 ** i, "open": 10.0 * 0.5 ** i,
             "dividend": 0.0} for t in TICKERS for i, day in enumerate(DATES)]
    pd.DataFrame(rows).to_parquet(d / "prices.parquet", index=False)
    return simulate("--method", "bootstrap")(d)


def edited_run(edit: Callable[[Path], None], *extra: str) -> Setup:
    def setup(d: Path) -> list[str]:
        out = d / "run"
        assert invoke(["run", str(d / "strategy.yaml"), "--out", str(out)]).exit_code == 0
        edit(out)
        return ["report", str(out), *extra]
    return setup


def daily(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def edit(out: Path) -> None:
        df = pd.read_parquet(out / "daily.parquet")
        change(df).to_parquet(out / "daily.parquet", index=False)
    return edit


def as_folder(name: str) -> Callable[[Path], None]:
    def edit(out: Path) -> None:
        (out / name).unlink()
        (out / name).mkdir()
        (out / name / "inside.txt").write_text("x")
    return edit


def summary_value(key: str, value: object) -> Callable[[Path], None]:
    def edit(out: Path) -> None:
        s = json.loads((out / "summary.json").read_text())
        s[key] = value
        (out / "summary.json").write_text(json.dumps(s))
    return edit


def with_strategy(text: str, then: Setup) -> Setup:
    def setup(d: Path) -> list[str]:
        (d / "strategy.yaml").write_text(text)
        return then(d)
    return setup


def fifo_prices(d: Path) -> list[str]:
    os.mkfifo(d / "pipe.parquet")
    return ["data", "info", str(d / "pipe.parquet")]


# (id, setup, fragments of the one line)
CASES: list[tuple[str, Setup, tuple[str, ...]]] = [
    # --- simulate: options validated up front
    ("sim-years-1000", simulate("--years", "1000"), ("--years 1000", "more than 200 years")),
    ("sim-years-1e9", simulate("--years", "1e9"), ("--years 1e+09", "more than 200 years")),
    ("sim-seed-negative", simulate("--seed", "-1"), ("--seed -1", "0 to 2^63-1")),
    ("sim-seed-over-2^64", simulate("--seed", str(2**64 + 1)), ("0 to 2^63-1",)),
    ("sim-scheduler-bogus", simulate("--scheduler", "bogus"),
     ("bogus", "not a Dask scheduler address")),
    ("sim-scheduler-not-a-url", simulate("--scheduler", "not a url"),
     ("not a url", "scheme://host:port")),
    ("sim-block-longer-than-history", simulate("--block", "500"),
     ("--block 500", "not shorter than the history window", "every path would be the same")),
    ("sim-inflation-nan", simulate("--inflation", "nan"), ("inflation",)),
    ("sim-crash-history-overflows-the-grid", crash_history,
     ("beyond what can be held exactly", "fewer years")),
    # --- compare: --vary values and key paths, options
    ("cmp-impossible-date", compare("--vary", "data.start=2024-02-30"),
     ("data.start", "'2024-02-30' is not a valid date")),
    ("cmp-bad-tagged-value", compare("--vary", "x=!!float abc"),
     ("--vary value '!!float abc' cannot be read as YAML",)),
    ("cmp-same-key-two-spellings", compare("--vary", "cashflows.0.deposit=500,600",
                                           "--vary", "cashflows.00.deposit=700"),
     ("--vary cashflows.00.deposit", "the same key as --vary cashflows.0.deposit")),
    ("cmp-scheduler-not-a-url", compare("--vary", "account.cash_minimum=0,5", "--scheduler",
                                        "not a url"), ("not a Dask scheduler address",)),
    ("cmp-risk-free-nan", compare("--vary", "account.cash_minimum=0,5", "--risk-free", "nan"),
     ("--risk-free", "got nan")),
    # --- run's options
    ("run-risk-free-nan", run("--risk-free", "nan"), ("--risk-free", "got nan")),
    ("run-risk-free-inf", run("--risk-free", "inf"), ("--risk-free", "got inf")),
    ("run-risk-free-percent", run("--risk-free", "3"), ("between -1 and 1", "got 3")),
    # --- report on an edited run folder
    ("report-text-in-value", edited_run(daily(lambda df: df.assign(value=df["value"].map(str)))),
     ("daily.parquet", "column value", "not numbers")),
    ("report-duplicate-date", edited_run(daily(
        lambda df: pd.concat([df.iloc[:3], df.iloc[[2]], df.iloc[3:]], ignore_index=True))),
     ("daily.parquet", "row 4", "the same date as row 3")),
    ("report-dates-out-of-order", edited_run(daily(lambda df: df.iloc[::-1])),
     ("daily.parquet", "a date before")),
    ("report-nan-value", edited_run(daily(lambda df: df.assign(value=float("nan")))),
     ("daily.parquet", "row 1", "value is missing")),
    ("report-html-is-a-folder", edited_run(as_folder("report.html")),
     ("report.html", "is a folder, where the report writes a file")),
    ("report-chart-is-a-folder", edited_run(as_folder("value.png")),
     ("value.png", "is a folder")),
    ("report-summary-text", edited_run(summary_value("final_value", "lots")),
     ("summary.json", "final_value is 'lots', not a number")),
    ("report-summary-not-json", edited_run(
        lambda out: (out / "summary.json").write_text("{oops")), ("summary.json", "invalid JSON")),
    ("report-risk-free-nan", edited_run(lambda out: None, "--risk-free", "nan"),
     ("--risk-free", "got nan")),
    ("report-band-nan", edited_run(lambda out: None, "--band", "nan"), ("--band",)),
    # --- inputs that are not regular files, through other commands
    ("validate-halts-dev-zero", with_strategy(STRATEGY.replace("halts: halts.csv",
                                                               "halts: /dev/zero"),
                                              lambda d: ["validate", str(d / "strategy.yaml")]),
     ("/dev/zero", "halt calendar is a character device, not a regular file")),
    ("data-info-dev-zero", lambda d: ["data", "info", "/dev/zero"],
     ("/dev/zero", "is a character device")),
    ("data-info-fifo", fifo_prices, ("pipe.parquet", "is a named pipe (FIFO)")),
]


@pytest.mark.parametrize("case_id,setup,fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line(tmp_path: Path, case_id: str, setup: Setup,
                               fragments: tuple[str, ...]) -> None:
    write_inputs(tmp_path)
    args = setup(tmp_path)
    result = invoke(args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    lines = [x for x in lines if not x.startswith("warning: ")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for f in fragments:
        assert f in lines[0], lines[0]
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_the_catalogue_covers_every_command() -> None:
    prefixes = {c[0].split("-")[0] for c in CASES}
    assert {"sim", "cmp", "run", "report", "validate", "data"} <= prefixes
    assert len({c[0] for c in CASES}) == len(CASES)


def test_a_report_rebuild_that_fails_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    write_inputs(tmp_path)
    out = tmp_path / "run"
    assert invoke(["run", str(tmp_path / "strategy.yaml"), "--out", str(out)]).exit_code == 0
    daily(lambda df: pd.concat([df, df.iloc[[-1]]], ignore_index=True))(out)
    before = digest(out)
    assert invoke(["report", str(out)]).exit_code == 2
    assert digest(out) == before
    shutil.rmtree(out)


def test_an_exponent_amount_is_the_number_it_reads_as(tmp_path: Path) -> None:
    """`deposit: 1e3` is 1000 (YAML 1.1 would read the text '1e3'): deposits of
    1e3 on 2024-01-02 plus 100 on Feb 1 and Mar 1 = 1,200."""
    write_inputs(tmp_path)
    (tmp_path / "strategy.yaml").write_text(STRATEGY.replace("deposit: 1000", "deposit: 1e3"))
    res = invoke(["run", str(tmp_path / "strategy.yaml"), "--out", str(tmp_path / "out"),
                  "--no-report"])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["total_deposits"] == pytest.approx(1200.0)


def test_vary_key_paths_are_normalised_and_labels_read_back(tmp_path: Path) -> None:
    from backtest.sweep.variants import build_variants, canonical_path, get_path, parse_value

    write_inputs(tmp_path)
    path = tmp_path / "strategy.yaml"
    doc = {"cashflows": [{"deposit": 1}], "portfolio": {"slices": {"BRK.B": 100}}}
    assert canonical_path(doc, "cashflows.00.deposit") == "cashflows.0.deposit"
    assert canonical_path(doc, "portfolio.slices.BRK.B") == "portfolio.slices.BRK.B"
    assert parse_value("1e3") == 1000.0 and parse_value("2024-02-30") == "2024-02-30"
    variants = build_variants([path], {"cashflows.00.deposit": [1e3, 2500]})
    for v, want in zip(variants, (1000.0, 2500), strict=True):
        assert get_path(v.document, "cashflows.0.deposit") == want
        assert v.values == (("cashflows.00.deposit", want),)
        assert v.name == f"cashflows.00.deposit={want}"
    with pytest.raises(Exception, match="the same key"):
        build_variants([path], {"cashflows.0.deposit": [1], "cashflows.00.deposit": [2]})
