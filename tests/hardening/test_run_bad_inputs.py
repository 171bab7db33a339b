"""The bad-input catalogue, end to end through `backtest run`.

Every case breaks one thing in a small, otherwise valid set of inputs (the
strategy file, its price data or its halt calendar) and runs the real CLI.
Each must stop with exit status 2 and exactly one line on stderr, starting
with `error:`, naming the file, the key or row and the problem; no
traceback; nothing written to `--out`; a previous good run left intact.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from backtest.cli import cli

# NYSE sessions 2024-01-02..2024-03-28 (no holidays left in), so a good run warns about nothing.
DATES = [d for d in pd.bdate_range("2024-01-02", "2024-03-28")
         if d.strftime("%Y-%m-%d") not in ("2024-01-15", "2024-02-19")]
TICKERS = ("AAA", "BBB", "CCC")

STRATEGY = """\
name: Hardening base
data:
  prices: prices.parquet
  halts: halts.csv
account:
  window: morning
  window_minutes: 30
cashflows:
  - deposit: 1000
    date: 2024-01-02
  - deposit: 100
    every: month
    start: 2024-02-01
portfolio:
  slices:
    CCC: 20
    Core:
      target: 80
      slices:
        AAA: 50
        BBB: 50
events:
  - date: 2024-02-05
    order: {slice: Core/AAA, side: buy, amount: 50}
"""

HALTS = """\
date,start,end,scope,level,note
2024-02-06,09:34,09:49,market,1,level 1 over the morning window
2024-02-07,09:00,16:00,CCC,news,single-stock halt
"""


def prices() -> pd.DataFrame:
    rows = []
    for k, t in enumerate(TICKERS):
        for i, d in enumerate(DATES):
            close = 10.0 * (k + 1) + 0.1 * i
            rows.append({"date": d, "ticker": t, "open": close - 0.05, "close": close,
                         "dividend": 0.0})
    return pd.DataFrame(rows)


def write_inputs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    prices().to_parquet(folder / "prices.parquet", index=False)
    (folder / "halts.csv").write_text(HALTS)
    (folder / "strategy.yaml").write_text(STRATEGY)
    return folder / "strategy.yaml"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    """A complete earlier run, copied into place before each case."""
    base = tmp_path_factory.mktemp("good")
    strategy = write_inputs(base / "in")
    out = base / "out"
    result = invoke("run", str(strategy), "--out", str(out), "--no-report")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return out


# --------------------------------------------------------------------------- mutations
Mutation = Callable[[Path], None]


def text(new: str) -> Mutation:
    """Replace the whole strategy file."""
    return lambda d: (d / "strategy.yaml").write_text(new)


def raw(data: bytes) -> Mutation:
    return lambda d: (d / "strategy.yaml").write_bytes(data)


def sub(old: str, new: str) -> Mutation:
    """Replace one piece of the strategy text (which must be there)."""
    def mutate(d: Path) -> None:
        assert old in STRATEGY, old
        (d / "strategy.yaml").write_text(STRATEGY.replace(old, new, 1))
    return mutate


def add_event(yaml_item: str) -> Mutation:
    return lambda d: (d / "strategy.yaml").write_text(STRATEGY + yaml_item)


def frame(edit: Callable[[pd.DataFrame], pd.DataFrame | None]) -> Mutation:
    """Rewrite the price file after `edit` (returning a new frame or editing in place)."""
    def mutate(d: Path) -> None:
        df = prices()
        new = edit(df)
        (new if new is not None else df).to_parquet(d / "prices.parquet", index=False)
    return mutate


def set_cell(column: str, row: int, value) -> Mutation:
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        df[column] = df[column].astype(object)
        df.loc[row, column] = value
        if all(isinstance(v, float) for v in df[column]):
            df[column] = df[column].astype("float64")
        return df
    return frame(edit)


def price_bytes(make: Callable[[bytes], bytes]) -> Mutation:
    def mutate(d: Path) -> None:
        path = d / "prices.parquet"
        path.write_bytes(make(path.read_bytes()))
    return mutate


def halts(body: str) -> Mutation:
    return lambda d: (d / "halts.csv").write_text(body)


def halt_row(row: str) -> Mutation:
    return halts(HALTS + row + "\n")


def deep_yaml(levels: int) -> str:
    pie = "X: 100"
    for _ in range(levels - 1):
        pie = f"P: {{target: 100, slices: {{{pie}}}}}"
    return (f"name: Deep\ndata: {{prices: prices.parquet}}\n"
            f"portfolio: {{slices: {{{pie}}}}}\n")


def duplicate_row(df: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([df.iloc[:5], df.iloc[[4]], df.iloc[5:]], ignore_index=True)


def swap_rows(df: pd.DataFrame) -> pd.DataFrame:
    order = list(range(len(df)))
    order[9], order[10] = order[10], order[9]
    return df.iloc[order].reset_index(drop=True)


def far_date(df: pd.DataFrame):
    """A date32 column with a year pandas cannot hold (3000)."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    days = [d.date() for d in df["date"]]
    days[3] = dt.date(3000, 1, 1)
    table = pa.Table.from_pandas(df, preserve_index=False)
    return table.set_column(0, "date", pa.array(days, pa.date32())), pq


def write_far_date(d: Path) -> None:
    table, pq = far_date(prices())
    pq.write_table(table, d / "prices.parquet")


def fifo(name: str, key: str) -> Mutation:
    def mutate(d: Path) -> None:
        import os

        os.mkfifo(d / name)
        old = {"halts": "halts: halts.csv", "prices": "prices: prices.parquet"}[key]
        (d / "strategy.yaml").write_text(STRATEGY.replace(old, f"{key}: {name}"))
    return mutate


def strategy_is_dev_zero(d: Path) -> None:
    (d / "strategy.yaml").unlink()
    (d / "strategy.yaml").symlink_to("/dev/zero")


S, P, H = "strategy.yaml", "prices.parquet", "halts.csv"

# (id, mutation, file named, fragments the one line must contain)
CASES: list[tuple[str, Mutation, str, tuple[str, ...]]] = [
    # --- strategy: the file itself
    ("yaml-syntax", sub("account:\n  window: morning", "account:\n  window: morning\n bad: 1"),
     S, ("line 7", "YAML syntax error")),
    ("yaml-unclosed-flow", sub("{slice: Core/AAA, side: buy, amount: 50}",
                               "{slice: Core/AAA, side: buy"), S, ("YAML syntax error",)),
    ("yaml-tab-indent", sub("  window: morning", "\twindow: morning"), S,
     ("YAML syntax error",)),
    ("not-yaml-csv", text("date,ticker,close\n2024-01-02,AAA,10\n"), S,
     ("must be a YAML mapping",)),
    ("not-yaml-html", text("<html><body><h1>404 Not Found</h1></body></html>\n"), S,
     ("must be a YAML mapping",)),
    ("binary-garbage", raw(bytes(range(256)) * 4), S, ("not a text (UTF-8) file",)),
    ("parquet-as-strategy", lambda d: shutil.copy(d / "prices.parquet", d / "strategy.yaml"),
     S, ("not a text (UTF-8) file",)),
    ("empty-file", text(""), S, ("the file is empty",)),
    ("python-object-tag", sub("name: Hardening base",
                              "name: !!python/object/apply:os.system ['echo pwned']"), S,
     ("line 1", "could not determine a constructor", "python/object")),
    ("self-referencing-alias", sub("name: Hardening base", "name: &a [*a]"), S,
     ("name", "must be a non-empty string, got a list")),
    ("self-referencing-pie", text("name: T\ndata: {prices: prices.parquet}\nportfolio:\n"
                                  "  slices: &s {A: {target: 100, slices: *s}}\n"), S,
     ("portfolio.slices.A.slices.A", "nested more than 32 levels")),
    ("absurdly-deep-nesting", text(deep_yaml(40)), S, ("nested more than 32 levels",)),
    ("deep-yaml-lists", text("name: " + "[" * 5000 + "]" * 5000 + "\n"), S,
     ("YAML is nested too deeply",)),
    ("duplicate-slice-name", sub("    CCC: 20\n", "    CCC: 10\n    CCC: 10\n"), S,
     ("portfolio.slices", "duplicate key 'CCC'")),
    ("unknown-top-key", sub("name: Hardening base", "name: Hardening base\nnmae: typo"), S,
     ("nmae", "did you mean 'name'")),
    ("unknown-account-key", sub("window: morning", "windw: morning"), S,
     ("account.windw", "unknown key")),
    # --- strategy: types and amounts
    ("wrong-type-minutes", sub("window_minutes: 30", "window_minutes: thirty"), S,
     ("account.window_minutes", "whole number")),
    ("wrong-type-target", sub("CCC: 20", "CCC: 20%"), S,
     ("portfolio.slices.CCC", "target percent")),
    ("negative-deposit", sub("deposit: 1000", "deposit: -1000"), S,
     ("cashflows[0].deposit", "greater than 0")),
    ("zero-deposit", sub("deposit: 100\n", "deposit: 0\n"), S,
     ("cashflows[1].deposit", "greater than 0")),
    ("infinite-deposit", sub("deposit: 1000", "deposit: .inf"), S,
     ("cashflows[0].deposit", "finite")),
    ("zero-target", sub("AAA: 50\n        BBB: 50", "AAA: 100\n        BBB: 0"), S,
     ("portfolio.slices.Core.slices.BBB", "greater than 0")),
    ("negative-order", sub("amount: 50}", "amount: -50}"), S,
     ("events[0].order.amount", "greater than 0")),
    ("root-targets-99", sub("CCC: 20", "CCC: 19"), S,
     ("portfolio.slices:", "targets sum to 99, not 100")),
    ("nested-targets-99.5", sub("BBB: 50", "BBB: 49.5"), S,
     ("portfolio.slices.Core.slices:", "targets sum to 99.5, not 100")),
    ("empty-pie", sub("slices:\n        AAA: 50\n        BBB: 50", "slices: {}"), S,
     ("portfolio.slices.Core.slices", "at least one slice")),
    ("slice-name-with-slash", sub("CCC: 20", "C/C: 20"), S, ("must not contain '/'",)),
    # --- strategy: dates
    ("date-does-not-exist", sub("date: 2024-01-02", "date: 2023-02-30"), S,
     ("cashflows[0].date", "'2023-02-30' is not a valid date")),
    ("month-13", sub("start: 2024-02-01", "start: 2024-13-01"), S,
     ("cashflows[1].start", "not a valid date")),
    ("data-end-before-start", sub("  halts: halts.csv",
                                  "  halts: halts.csv\n  start: 2024-03-01\n  end: 2024-02-01"),
     S, ("data.end", "2024-02-01 is before start 2024-03-01")),
    ("data-start-outside-data", sub("  halts: halts.csv",
                                    "  halts: halts.csv\n  start: 2010-01-04"), S,
     ("data.start", "outside the price data (2024-01-02 to 2024-03-28) in ", P)),
    ("data-end-outside-data", sub("  halts: halts.csv", "  halts: halts.csv\n  end: 2031-01-02"),
     S, ("data.end", "outside the price data", P)),
    ("datetime-not-date", sub("date: 2024-01-02", "date: 2024-01-02 10:30:00"), S,
     ("cashflows[0].date", "without a time")),
    # --- strategy: events
    ("event-on-missing-slice", sub("slice: Core/AAA", "slice: Core/ZZZ"), S,
     ("events[0].order.slice", "'Core/ZZZ' is not in the portfolio on 2024-02-05")),
    ("order-all-on-buy", sub("amount: 50}", "amount: all}"), S,
     ("events[0].order.amount", "'all' is only for a sell")),
    ("remove-root", add_event("  - date: 2024-02-06\n    remove_slice: portfolio\n"
                              "    targets: {CCC: 100}\n"), S,
     ("events[1].remove_slice", "cannot remove the root pie")),
    ("rebalance-a-security", add_event("  - date: 2024-02-06\n    rebalance: CCC\n"), S,
     ("events[1].rebalance", "is a security, not a pie")),
    ("set-targets-bad-sum", add_event("  - date: 2024-02-06\n    set_targets: {pie: Core, "
                                      "slices: {AAA: 60, BBB: 60}}\n"), S,
     ("events[1].set_targets.slices", "targets sum to 120")),
    ("event-after-removal", add_event(
        "  - date: 2024-02-06\n    remove_slice: CCC\n    targets: {Core: 100}\n"
        "  - date: 2024-02-07\n    order: {slice: CCC, side: sell, amount: all}\n"), S,
     ("events[2].order.slice", "it was removed on 2024-02-06")),
    # --- strategy: paths
    ("prices-file-missing", sub("prices: prices.parquet", "prices: nowhere.parquet"),
     "nowhere.parquet", ("no such file or folder",)),
    ("halts-file-missing", sub("halts: halts.csv", "halts: nowhere.csv"), "nowhere.csv",
     ("halt calendar not found",)),
    # --- price data
    ("missing-close-column", frame(lambda df: df.drop(columns="close")), P,
     ("column close", "missing column 'close'")),
    ("missing-date-column", frame(lambda df: df.drop(columns="date")), P,
     ("column date", "missing column 'date'")),
    ("ticker-column-renamed", frame(lambda df: df.rename(columns={"ticker": "symbol"})), P,
     ("row 1", "symbol value 'AAA' is not a number")),
    ("strings-in-close", frame(lambda df: df.assign(close=df["close"].map(str))), P,
     ("row 1", "close value '10.0' is not a number")),
    ("na-text-in-open", frame(lambda df: df.assign(open=["n/a"] * len(df))), P,
     ("row 1", "open value 'n/a' is not a number")),
    ("inf-close", set_cell("close", 7, float("inf")), P, ("row 8", "close is infinite")),
    ("minus-inf-open", set_cell("open", 3, float("-inf")), P, ("row 4", "open is infinite")),
    ("zero-close", set_cell("close", 2, 0.0), P, ("row 3", "close 0 is not positive")),
    ("negative-close", set_cell("close", 2, -3.2), P, ("row 3", "close -3.2 is not positive")),
    ("negative-dividend", set_cell("dividend", 2, -0.5), P, ("row 3", "dividend -0.5")),
    ("boolean-close", frame(lambda df: df.assign(close=True)), P, ("column close", "true/false")),
    ("bad-date", frame(lambda df: df.assign(date=df["date"].dt.strftime("%Y-%m-%d"))
                       .replace({"date": {"2024-01-05": "2024-02-30"}})), P,
     ("row 4", "'2024-02-30' is not a date")),
    ("duplicate-rows", frame(duplicate_row), P, ("row 6", "duplicate row for AAA on")),
    ("unsorted-dates", frame(swap_rows), P, ("dates not sorted for AAA",)),
    ("truncated-parquet", price_bytes(lambda b: b[: len(b) // 2]), P,
     ("not a readable Parquet file",)),
    ("parquet-tail-cut", price_bytes(lambda b: b[:-3]), P, ("not a readable Parquet file",)),
    ("parquet-header-only", price_bytes(lambda b: b[:4]), P, ("not a readable Parquet file",)),
    ("csv-named-parquet", price_bytes(lambda b: b"date,ticker,close\n2024-01-02,AAA,1\n"), P,
     ("not a readable Parquet file",)),
    ("empty-price-file", price_bytes(lambda b: b""), P, ("file is empty",)),
    ("no-rows", frame(lambda df: df.iloc[:0]), P, ("file has no rows",)),
    ("ticker-not-in-data", frame(lambda df: df[df["ticker"] != "BBB"]), P,
     ("ticker BBB not in the price data",)),
    ("empty-ticker", set_cell("ticker", 5, "  "), P, ("row 6", "ticker is empty")),
    # --- halt calendars
    ("halt-25h", halt_row("2024-02-08,25:00,25:30,market,1,"), H,
     ("row 3 (line 4)", "start time '25:00'")),
    ("halt-9h30", halt_row("2024-02-08,9h30,10:00,market,1,"), H, ("row 3", "'9h30'")),
    ("halt-minute-60", halt_row("2024-02-08,09:60,10:00,market,1,"), H, ("row 3", "'09:60'")),
    ("halt-end-before-start", halt_row("2024-02-08,10:00,09:30,market,1,"), H,
     ("row 3", "end 09:30 is not after start 10:00")),
    ("halt-empty-scope", halt_row("2024-02-08,09:30,10:00,,1,"), H, ("row 3", "scope is empty")),
    ("halt-misspelt-market", halt_row("2024-02-08,09:30,10:00,markt,1,"), H,
     ("row 3", "'markt'", "market")),
    ("halt-market-level-4", halt_row("2024-02-08,09:30,10:00,market,4,"), H,
     ("row 3", "level 1, 2 or 3")),
    ("halt-bad-date", halt_row("2024-02-30,09:30,10:00,market,1,"), H,
     ("row 3", "'2024-02-30' is not a date")),
    ("halt-missing-column", halts("date,start,end,level\n2024-02-06,09:34,09:49,1\n"), H,
     ("column scope", "missing column")),
    ("halt-empty-file", halts(""), H, ("halt calendar is empty",)),
    ("halt-binary", lambda d: (d / "halts.csv").write_bytes(b"\xff\xfe\x00garbage\x00"), H,
     ("cannot read halt calendar",)),
    # --- issue 14: silent wrong numbers, tracebacks, unclear messages
    ("close-and-Close", frame(lambda df: df.assign(Close=df["close"] * 2)), P,
     ("columns 'close' and 'Close'", "more than upper/lower case")),
    ("date-and-DATE", frame(lambda df: df.assign(DATE=df["date"])), P,
     ("columns 'date' and 'DATE'",)),
    ("dividend-1e300", set_cell("dividend", 5, 1e300), P,
     ("row 6", "dividend 1e+300 is more than 100 times the close")),
    ("date-year-3000", write_far_date, P,
     ("row 4", "'3000-01-01' is outside the dates prices may have")),
    ("halt-unterminated-quote", halt_row('2024-02-08,09:30,10:00,market,1,"no end'), H,
     ("row 3 (line 4)", "not valid CSV", "unterminated")),
    ("halt-stray-quote", halt_row('2024-02-08,09:30,"10:00"x,market,1,'), H,
     ("row 3 (line 4)", "not valid CSV")),
    ("halts-dev-zero", sub("halts: halts.csv", "halts: /dev/zero"), "/dev/zero",
     ("halt calendar is a character device, not a regular file",)),
    ("halts-fifo", fifo("pipe.csv", "halts"), "pipe.csv",
     ("halt calendar is a named pipe (FIFO), not a regular file",)),
    ("prices-dev-zero", sub("prices: prices.parquet", "prices: /dev/zero"), "/dev/zero",
     ("price data is a character device, not a regular file",)),
    ("prices-fifo", fifo("pipe.parquet", "prices"), "pipe.parquet",
     ("price data is a named pipe (FIFO)",)),
    ("strategy-dev-zero", strategy_is_dev_zero, S,
     ("is a character device, not a regular file; a strategy file is YAML",)),
    # YAML 1.1 reads 1e15 as text: read as the number every user means (then too big)
    ("deposit-1e15-is-a-number", sub("deposit: 1000", "deposit: 1e15"), S,
     ("cashflows: deposits of up to $1e+15", "share decimals can count")),
]


@pytest.mark.parametrize("case_id,mutate,named,fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, good_run: Path, case_id: str,
                                                  mutate: Mutation, named: str,
                                                  fragments: tuple[str, ...]) -> None:
    strategy = write_inputs(tmp_path / "in")
    mutate(tmp_path / "in")

    # a fresh destination: never created
    fresh = tmp_path / "out"
    result = invoke("run", str(strategy), "--out", str(fresh))
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("error: "), line
    assert line.count(named) == 1, line  # named once, not repeated by a library's message
    for fragment in fragments:
        assert fragment in line, line
    assert len(line) < 600, line  # the longest: a key path 32 pies deep
    assert not fresh.exists()

    # an earlier good run in the destination: left exactly as it was
    prev = tmp_path / "prev"
    shutil.copytree(good_run, prev)
    before = tree_digest(prev)
    again = invoke("run", str(strategy), "--out", str(prev))
    assert again.exit_code == 2
    assert again.stderr == result.stderr
    assert tree_digest(prev) == before
    # and no temporary folder left beside them
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "prev"]


def test_the_catalogue_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)


def test_the_base_inputs_run(tmp_path: Path) -> None:
    strategy = write_inputs(tmp_path / "in")
    result = invoke("run", str(strategy), "--out", str(tmp_path / "out"), "--no-report")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "summary.json").exists()


@pytest.mark.parametrize(("args", "fragment"), [
    (["run", "{in}"], "Invalid value for 'STRATEGY'"),                 # a folder, not a file
    (["run", "{in}/strategy.yaml", "--out", "{in}/prices.parquet"], "is a file"),
    (["run", "{in}/strategy.yaml", "--risk-free", "abc"], "'abc' is not a valid float"),
    (["run", "{in}/strategy.yaml", "--outt", "x"], "Did you mean one of: '--out'"),
    (["run"], "Missing argument 'STRATEGY'"),
    (["rnu", "{in}/strategy.yaml"], "No such command 'rnu'"),
    (["report", "{in}/prices.parquet"], "is a file"),
])
def test_bad_arguments_are_one_line_too(tmp_path: Path, args: list[str], fragment: str) -> None:
    """Click's usage errors (three lines: usage, hint, error) become one line."""
    write_inputs(tmp_path / "in")
    before = tree_digest(tmp_path)
    result = invoke(*[a.format(**{"in": tmp_path / "in"}) for a in args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]
    assert "--help" in lines[0]
    assert tree_digest(tmp_path) == before
