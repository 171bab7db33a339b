"""Strategy files: YAML in, a validated `Strategy` out.

`load_strategy(path)` reads the file with a safe loader (data, never code)
that also rejects duplicate keys; `parse_strategy(doc, ...)` checks the
document against strategy-format.md and builds the domain values. Every
violation is a `StrategyError` naming the file, the key path and the problem
on one line. Dated events are checked in date order (same date: file order)
against an evolving copy of the pie, so a slice added on one date can be
ordered later and a removed one cannot.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import yaml

from backtest.domain.pie import ROOT, Pie
from backtest.domain.strategy import (
    AccountSettings,
    AddSlice,
    Cashflow,
    DataSpec,
    Event,
    Order,
    RebalancePolicy,
    RebalanceRequest,
    RemoveSlice,
    SetTargets,
    Strategy,
    TaxSettings,
)
from backtest.errors import StrategyError
from backtest.io.files import STRATEGY_LIMIT, check_regular
from backtest.io.strategy_checks import Checker, Node, index, key, path_parts, show

TOP_KEYS = ("name", "data", "account", "cashflows", "rebalance", "portfolio", "events",
            "tax")
DATA_KEYS = ("prices", "halts", "start", "end", "tickers")
ACCOUNT_KEYS = tuple(AccountSettings.__dataclass_fields__)
CASHFLOW_KEYS = ("deposit", "withdrawal", "date", "every", "start", "end")
EVENT_KINDS = ("set_targets", "remove_slice", "add_slice", "order", "rebalance")
WINDOWS = ("morning", "afternoon", "both")
ALLOCATIONS = ("waterfill", "proportional")
FREQUENCIES = ("week", "2weeks", "month", "quarter", "year")
REBALANCE_EVERY = ("never", "month", "quarter", "year")
TAX_KEYS = tuple(TaxSettings.__dataclass_fields__)
LOT_METHODS = ("brokerage", "fifo", "hifo")
DATA_KEYS += ("cpi",)  # the CPI series of `indexed: cpi` (docs/withdrawal-plans.md)
CASHFLOW_KEYS += ("indexed",)


def load_strategy(path: str | Path) -> Strategy:
    """Read and validate a strategy file; relative data paths are resolved
    against the file's own folder."""
    path = Path(path)
    doc = read_yaml(path)
    return parse_strategy(doc, source=path, base_dir=path.parent)


def parse_strategy(doc: object, *, source: Path, base_dir: Path) -> Strategy:
    """Validate an already-loaded YAML document and build the `Strategy`."""
    ck = Checker(source)
    if doc is None:
        ck.fail(None, "the file is empty (a strategy needs name, data and portfolio)")
    if not isinstance(doc, dict):
        ck.fail(None, f"must be a YAML mapping with keys name, data and portfolio, "
                      f"got {show(doc)}")
    ck.keys(doc, "", TOP_KEYS, required=("name", "data", "portfolio"))
    name = ck.string(doc["name"], "name")
    data = _data(ck, doc["data"], base_dir)
    portfolio = _portfolio(ck, doc["portfolio"])
    account = _account(ck, doc.get("account"))
    cashflows = _with_cpi(ck, _cashflows(ck, doc.get("cashflows")), doc["data"], base_dir)
    rebalance = _rebalance(ck, doc.get("rebalance"))
    events = _events(ck, doc.get("events"), portfolio)
    tax = _tax(ck, doc.get("tax"))
    strategy = Strategy(name=name, data=data, portfolio=portfolio, account=account,
                        cashflows=cashflows, rebalance=rebalance, events=events,
                        source=source, tax=tax)
    if data.online is not None:  # prices: yahoo -> the cache file of the strategy's
        from dataclasses import replace  # tickers and those named

        from backtest.io.online import cache_path

        tickers = tuple(dict.fromkeys((*data.online, *strategy.tickers())))
        strategy = replace(strategy, data=replace(
            data, online=tickers, prices=cache_path(tickers, data.start, data.end)))
    return strategy


def _with_cpi(ck: Checker, flows: tuple[Cashflow, ...], data: dict,
              base_dir: Path) -> tuple[Cashflow, ...]:
    """The cash flows, those indexed to the CPI carrying the series (read only then):
    `data.cpi`, else `cpi.parquet` beside the prices, else the bundled one."""
    indexed = [i for i, f in enumerate(flows) if f.indexed == "cpi"]
    if not indexed:
        return flows
    from dataclasses import replace

    from backtest.io.cpi import default_cpi_path, load_cpi  # pandas: only when needed
    first = index("cashflows", indexed[0])
    given = data.get("cpi")
    if given is not None:
        path: Path | None = _path(ck, given, "data.cpi", base_dir)
    else:
        prices = data.get("prices")
        path = default_cpi_path(base_dir / prices if isinstance(prices, str) else base_dir)
    if path is None:
        ck.fail(key(first, "indexed"), "cpi needs a CPI series: name one as data.cpi "
                                       "(a Parquet file with columns date, cpi)")
    where = "data.cpi" if given is not None else key(first, "indexed")
    cpi = load_cpi(path, source=ck.source, where=where)
    for i in indexed:
        start = flows[i].start
        assert start is not None
        if start < cpi.dates[0]:
            ck.fail(key(index("cashflows", i), "start"),
                    f"{start} is before the CPI series starts ({cpi.dates[0]} in {path})")
    return tuple(replace(f, cpi=cpi) if f.indexed == "cpi" else f for f in flows)


# --- YAML ---------------------------------------------------------------------


class _SafeLoader(yaml.SafeLoader):
    """The safe loader, reading an impossible date (2023-02-30) as its text so
    that the parser can name the key it belongs to."""


def _timestamp(loader: _SafeLoader, node: yaml.Node) -> object:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)


_SafeLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)
# YAML 1.1 (PyYAML) reads `1e15` and `2.5E+3` as text: every user means a number
# (YAML 1.2 agrees), so exponent forms without a dot are floats too.
_SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))
StrategyLoader = _SafeLoader  # for YAML text from elsewhere (compare's --vary values)


def read_yaml(path: Path) -> object:
    """The YAML document in `path`; file and syntax problems are StrategyErrors."""
    ck = Checker(path)
    try:
        problem = check_regular(path, STRATEGY_LIMIT)
        if problem is not None and not problem.startswith("is a folder"):
            ck.fail(None, f"{problem}; a strategy file is YAML")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        ck.fail(None, "no such file")
    except IsADirectoryError:
        ck.fail(None, "is a folder, not a strategy file")
    except UnicodeDecodeError:
        ck.fail(None, "is not a text (UTF-8) file; a strategy file is YAML")
    except OSError as exc:
        ck.fail(None, f"cannot read the file: {exc.strerror or exc}")
    return load_yaml(text, ck)


def load_yaml(text: str, ck: Checker) -> object:
    """Compose, reject duplicate keys, then construct plain data."""
    loader = None
    try:
        loader = _SafeLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        _reject_duplicate_keys(node, ck)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = str(exc.problem or exc.context or "invalid YAML")
        if problem.startswith("but ") and exc.context:
            problem = f"{exc.context}, {problem}"
        kind = "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else (
            "YAML syntax error")
        where = f"line {mark.line + 1}" if mark is not None else None
        col = f" (column {mark.column + 1})" if mark is not None else ""
        ck.fail(where, f"{kind}: {' '.join(problem.split())}{col}")
    except yaml.YAMLError as exc:
        ck.fail(None, f"not valid YAML: {' '.join(str(exc).split())}")
    except RecursionError:
        ck.fail(None, "YAML is nested too deeply")
    except (ValueError, TypeError, OverflowError) as exc:
        # A tagged scalar that cannot be converted (`!!int abc`).
        ck.fail(None, f"a YAML value cannot be read: {' '.join(str(exc).split())}"[:200])
    finally:
        if loader is not None:
            loader.dispose()


def _reject_duplicate_keys(root: yaml.Node, ck: Checker) -> None:
    """Fail on a mapping with the same key twice (YAML would keep the last)."""
    queue: deque[tuple[yaml.Node, str]] = deque([(root, "")])
    seen: set[int] = set()
    while queue:
        node, where = queue.popleft()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for k, v in node.value:
                if not isinstance(k, yaml.ScalarNode) or k.tag == "tag:yaml.org,2002:merge":
                    queue.append((v, where))
                    continue
                line = k.start_mark.line + 1
                ident = (k.tag, k.value)
                if ident in first:
                    ck.fail(where, f"duplicate key {k.value[:40]!r} "
                                   f"(lines {first[ident]} and {line})")
                first[ident] = line
                queue.append((v, key(where, k.value)))
        elif isinstance(node, yaml.SequenceNode):
            queue.extend((v, index(where, i)) for i, v in enumerate(node.value))


# --- sections -----------------------------------------------------------------


def _data(ck: Checker, value: object, base_dir: Path) -> DataSpec:
    value = ck.mapping(value, "data")
    ck.keys(value, "data", DATA_KEYS, required=("prices",))
    online = _online(ck, value["prices"])
    if "tickers" in value:  # more tickers to download with prices: yahoo
        if online is None:
            ck.fail("data.tickers", "only goes with prices: yahoo (an online source)")
        online = _online_tickers(ck, value["tickers"], online)
    prices = _path(ck, value["prices"], "data.prices", base_dir) if online is None \
        else Path("yahoo")  # the cache file, once the tickers are known (parse_strategy)
    halts = value.get("halts")
    halts = _path(ck, halts, "data.halts", base_dir) if halts is not None else None
    start = _optional_date(ck, value, "start", "data")
    end = _optional_date(ck, value, "end", "data")
    ck.date_range(start, end, "data")
    return DataSpec(prices=prices, halts=halts, start=start, end=end, online=online)


def _online_tickers(ck: Checker, value: object, named: tuple[str, ...]) -> tuple[str, ...]:
    """`data.tickers`: a list of Yahoo tickers, added to those of `yahoo:...`."""
    from backtest.io.online import parse_source

    if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
        ck.fail("data.tickers", "must be a list of tickers, e.g. [SPY, BND]")
    try:
        extra = parse_source("yahoo:" + ",".join(value)) or ()
    except ValueError as exc:
        ck.fail("data.tickers", str(exc))
    return tuple(dict.fromkeys((*named, *extra)))


def _online(ck: Checker, value: object) -> tuple[str, ...] | None:
    """`yahoo` or `yahoo:SPY,BND` (io/online.py), else None (a path)."""
    from backtest.io.online import parse_source

    if not isinstance(value, str):
        return None
    try:
        return parse_source(value)
    except ValueError as exc:
        ck.fail("data.prices", str(exc))


def _path(ck: Checker, value: object, where: str, base_dir: Path) -> Path:
    text = ck.string(value, where)
    if "\x00" in text:
        ck.fail(where, "a path cannot contain a NUL character")
    path = Path(text).expanduser()
    return path if path.is_absolute() else base_dir / path


def _optional_date(ck: Checker, value: dict, name: str, where: str) -> dt.date | None:
    raw = value.get(name)
    return ck.date(raw, key(where, name)) if raw is not None else None


def _account(ck: Checker, value: object) -> AccountSettings:
    if value is None:
        return AccountSettings()
    value = ck.mapping(value, "account")
    ck.keys(value, "account", ACCOUNT_KEYS)
    checks = {
        "window": lambda v, w: ck.choice(v, w, WINDOWS),
        "window_minutes": lambda v, w: ck.integer(v, w, 1),
        "auto_invest": ck.boolean,
        "cash_minimum": ck.non_negative,
        "min_auto_invest": ck.non_negative,
        "min_trade": ck.non_negative,
        "share_decimals": lambda v, w: ck.integer(v, w, 0, 10),
        "allocation": lambda v, w: ck.choice(v, w, ALLOCATIONS),
        "dividends": lambda v, w: ck.choice(v, w, ("cash", "reinvest")),
    }
    return AccountSettings(**{k: checks[k](v, key("account", k)) for k, v in value.items()})


def _cashflows(ck: Checker, value: object) -> tuple[Cashflow, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        ck.fail("cashflows", f"must be a list of deposits and withdrawals, got {show(value)}")
    return tuple(_cashflow(ck, item, index("cashflows", i)) for i, item in enumerate(value))


def _cashflow(ck: Checker, item: object, where: str) -> Cashflow:
    item = ck.mapping(item, where)
    ck.keys(item, where, CASHFLOW_KEYS)
    kind = ck.exactly_one(item, where, ("deposit", "withdrawal"), "amount")
    percent = _percent(ck, item[kind], key(where, kind), kind)
    amount = 0.0 if percent is not None else ck.positive(item[kind], key(where, kind))
    when = ck.exactly_one(item, where, ("date", "every"), "timing")
    indexed = _indexed(ck, item, where, when, percent)
    if when == "date":
        for extra in ("start", "end"):
            if extra in item:
                ck.fail(key(where, extra), "only goes with every (a recurring item); "
                                           "a one-off item has just date")
        return Cashflow(kind=kind, amount=amount, date=ck.date(item["date"], key(where, "date")),
                        percent=percent)
    every = ck.choice(item["every"], key(where, "every"), FREQUENCIES)
    if item.get("start") is None:
        ck.fail(key(where, "start"), "required for a recurring item "
                                     "(the first date of the schedule)")
    start = ck.date(item["start"], key(where, "start"))
    end = _optional_date(ck, item, "end", where)
    ck.date_range(start, end, where)
    return Cashflow(kind=kind, amount=amount, every=every, start=start, end=end,
                    indexed=indexed, percent=percent)


def _percent(ck: Checker, value: object, where: str, kind: str) -> float | None:
    """`withdrawal: 4%` (a yearly percent of the account's value) as 0.04, else None."""
    if not (isinstance(value, str) and value.strip().endswith("%")):
        return None
    if kind != "withdrawal":
        ck.fail(where, f"a percent ({value.strip()}) is only for a withdrawal; "
                       "a deposit is a dollar amount")
    try:
        pct = float(value.strip()[:-1])
    except ValueError:
        ck.fail(where, f"must be a dollar amount or a percent such as 4%, got {show(value)}")
    if not (math.isfinite(pct) and 0 < pct <= 100):
        ck.fail(where, f"a percent of the account must be more than 0% and at most 100%, "
                       f"got {value.strip()}")
    return pct / 100.0


def _indexed(ck: Checker, item: dict, where: str, when: str,
             percent: float | None) -> float | str | None:
    """`indexed: 0.025` (a yearly rate), `indexed: 2.5%` or `indexed: cpi`."""
    value = item.get("indexed")
    here = key(where, "indexed")
    if value is None:
        return None
    if when == "date":
        ck.fail(here, "only goes with every (a recurring item's amount rises each year)")
    if percent is not None:
        ck.fail(here, "a percent of the account needs no indexing (it follows the account)")
    if isinstance(value, str) and value.strip().lower() == "cpi":
        return "cpi"
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            rate = float(value.strip()[:-1]) / 100.0
        except ValueError:
            rate = math.nan
    elif isinstance(value, int | float) and not isinstance(value, bool):
        rate = float(value)
    else:
        rate = math.nan
    if not (math.isfinite(rate) and -1 < rate <= 1):
        ck.fail(here, f"must be a yearly rate (0.025 or 2.5%) or cpi, got {show(value)}")
    return rate


def _rebalance(ck: Checker, value: object) -> RebalancePolicy:
    if value is None:
        return RebalancePolicy()
    value = ck.mapping(value, "rebalance")
    ck.keys(value, "rebalance", ("every", "drift_band"))
    every = ck.choice(value.get("every", "never"), "rebalance.every", REBALANCE_EVERY)
    band = value.get("drift_band")
    band = ck.positive(band, "rebalance.drift_band") if band is not None else None
    return RebalancePolicy(every=every, drift_band=band)


def _tax(ck: Checker, value: object) -> TaxSettings:
    if value is None:
        return TaxSettings()
    value = ck.mapping(value, "tax")
    ck.keys(value, "tax", TAX_KEYS)

    def rate(v: object, where: str) -> float:
        x = ck.non_negative(v, where)
        if x > 1:
            ck.fail(where, f"must be a fraction from 0 to 1 (0.24 is 24%), got {show(v)}")
        return x

    checks = {
        "lot_method": lambda v, w: ck.choice(v, w, LOT_METHODS),
        "short_term_rate": rate,
        "long_term_rate": rate,
    }
    return TaxSettings(**{k: checks[k](v, key("tax", k)) for k, v in value.items()})


def _portfolio(ck: Checker, value: object) -> Pie:
    value = ck.mapping(value, "portfolio", "a mapping with slices")
    ck.keys(value, "portfolio", ("slices",), required=("slices",))
    return ck.pie(value["slices"], "portfolio.slices", 1, [0])


# --- events -------------------------------------------------------------------


@dataclass(frozen=True)
class _Raw:
    """An event item whose shape is checked, waiting for the tree checks."""

    date: dt.date
    kind: str
    item: dict
    where: str


def _events(ck: Checker, value: object, portfolio: Pie) -> tuple[Event, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        ck.fail("events", f"must be a list of dated requests, got {show(value)}")
    raws = [_raw_event(ck, item, index("events", i)) for i, item in enumerate(value)]
    raws.sort(key=lambda r: r.date)  # stable: same date keeps file order
    tree = _Tree(ck, Node.of(portfolio))
    out: list[Event | None] = []
    waiting: list[tuple[int, _Raw, StrategyError]] = []
    for k, raw in enumerate(raws):
        if waiting and raw.date != waiting[0][1].date:
            _retry(tree, out, waiting)
        try:
            out.append(tree.apply(raw))
        except StrategyError as err:
            if raw.kind not in ("order", "rebalance"):
                raise
            # The window runs after all of the day's edits, additions and removals:
            # an order may name a slice that the same day's add_slice lists later.
            out.append(None)
            waiting.append((k, raw, err))
    _retry(tree, out, waiting)
    return tuple(ev for ev in out if ev is not None)


def _retry(tree: _Tree, out: list[Event | None], waiting: list) -> None:
    """Check the day's orders and rebalances that failed again, on the day's final tree."""
    for k, raw, err in waiting:
        try:
            out[k] = tree.apply(raw)
        except StrategyError:
            raise err from None
    waiting.clear()


def _raw_event(ck: Checker, item: object, where: str) -> _Raw:
    item = ck.mapping(item, where)
    ck.keys(item, where, ("date", *EVENT_KINDS, "targets"), required=("date",))
    date = ck.date(item["date"], key(where, "date"))
    kind = ck.exactly_one(item, where, EVENT_KINDS, "request")
    if kind == "remove_slice" and "targets" not in item:
        ck.fail(key(where, "targets"), "required with remove_slice "
                                       "(the remaining slices' new targets)")
    if kind != "remove_slice" and "targets" in item:
        ck.fail(key(where, "targets"), f"only goes with remove_slice, not {kind}")
    return _Raw(date=date, kind=kind, item=item, where=where)


class _Tree:
    """The pie as events change it, for checking each event at its date."""

    def __init__(self, ck: Checker, root: Node) -> None:
        self.ck = ck
        self.root = root
        self.removed: dict[str, dt.date] = {}

    def apply(self, raw: _Raw) -> Event:
        return getattr(self, "_" + raw.kind)(raw, raw.item[raw.kind], key(raw.where, raw.kind))

    # lookups

    def _locate(self, value: object, where: str, date: dt.date) -> tuple[list[str], Node | None]:
        """The path's parts and its sub-pie (None for a security); must exist."""
        if not isinstance(value, str) or not value.strip():
            self.ck.fail(where, f"must be a slice path (e.g. Growth/MTUM) or '{ROOT}', "
                                f"got {show(value)}")
        parts = path_parts(value)
        if not parts:
            return parts, self.root
        found = self.root.find(parts)
        if found is None:
            path = "/".join(parts)
            gone = next((d for p, d in self.removed.items()
                         if path == p or path.startswith(p + "/")), None)
            why = f"it was removed on {gone}" if gone else "no such slice"
            shown = value.strip()[:60]
            self.ck.fail(where, f"'{shown}' is not in the portfolio on {date} ({why})")
        return parts, found[1]

    def _pie(self, value: object, where: str, date: dt.date) -> tuple[str, Node]:
        parts, node = self._locate(value, where, date)
        if node is None:
            self.ck.fail(where, f"'{'/'.join(parts)}' is a security, not a pie")
        return ("/".join(parts) or ROOT), node

    def _targets(self, value: object, where: str, names: list[str], pie: str) -> dict:
        """A map naming exactly `names` with targets summing to 100."""
        value = self.ck.mapping(value, where, "a mapping of slice names to targets")
        out = {}
        for name, target in value.items():
            name = self.ck.slice_name(name, where)
            out[name] = self.ck.positive(target, key(where, name))
        missing = [n for n in names if n not in out]
        extra = [n for n in out if n not in names]
        if missing or extra:
            said = "; ".join(p for p in (f"missing {', '.join(missing)}" if missing else "",
                                         f"not in it {', '.join(extra)}" if extra else "") if p)
            self.ck.fail(where, f"must name exactly the slices of pie '{pie}' "
                                f"({', '.join(names)}); {said}"[:240])
        self.ck.targets_sum(out.values(), where)
        return {n: out[n] for n in names}

    def _body(self, value: object, where: str, keys: tuple[str, ...]) -> dict:
        value = self.ck.mapping(value, where)
        self.ck.keys(value, where, keys, required=keys)
        return value

    # one method per request kind

    def _set_targets(self, raw: _Raw, value: object, where: str) -> SetTargets:
        body = self._body(value, where, ("pie", "slices"))
        pie, node = self._pie(body["pie"], key(where, "pie"), raw.date)
        targets = self._targets(body["slices"], key(where, "slices"), list(node.slices), pie)
        for name, t in targets.items():
            node.slices[name] = (t, node.slices[name][1])
        return SetTargets(date=raw.date, pie=pie, targets=tuple(targets.items()))

    def _add_slice(self, raw: _Raw, value: object, where: str) -> AddSlice:
        body = self._body(value, where, ("pie", "slices"))
        pie, node = self._pie(body["pie"], key(where, "pie"), raw.date)
        where_slices = key(where, "slices")
        given = self.ck.mapping(body["slices"], where_slices, "a mapping of slice names to targets")
        depth = len(path_parts(pie)) + 2
        targets: dict[str, float] = {}
        new: dict[str, Pie | None] = {}
        for name, v in given.items():
            name = self.ck.slice_name(name, where_slices)
            here = key(where_slices, name)
            if isinstance(v, dict) and name not in node.slices:
                self.ck.keys(v, here, ("target", "slices"), required=("target", "slices"))
                targets[name] = self.ck.positive(v["target"], key(here, "target"))
                new[name] = self.ck.pie(v["slices"], key(here, "slices"), depth, [0])
            else:
                targets[name] = self.ck.positive(v, here)
                if name not in node.slices:
                    new[name] = None
        missing = [n for n in node.slices if n not in targets]
        if missing:
            self.ck.fail(where_slices, f"must give every slice of pie '{pie}' its new target; "
                                       f"missing {', '.join(missing)}"[:240])
        if not new:
            self.ck.fail(where_slices, f"adds no new slice to pie '{pie}' "
                                       "(use set_targets to change targets)")
        self.ck.targets_sum(targets.values(), where_slices)
        order = [*node.slices, *new]
        for name in order:
            sub = node.slices[name][1] if name in node.slices else new[name]
            node.slices[name] = (targets[name], Node.of(sub) if isinstance(sub, Pie) else sub)
            self.removed.pop("/".join([*path_parts(pie), name]), None)
        return AddSlice(date=raw.date, pie=pie, targets=tuple((n, targets[n]) for n in order),
                        new=tuple(new.items()))

    def _remove_slice(self, raw: _Raw, value: object, where: str) -> RemoveSlice:
        parts, _ = self._locate(value, where, raw.date)
        if not parts:
            self.ck.fail(where, f"cannot remove the root pie '{ROOT}'")
        parent_name = "/".join(parts[:-1]) or ROOT
        parent = self.root if len(parts) == 1 else self.root.find(parts[:-1])[1]
        if len(parent.slices) == 1:
            self.ck.fail(where, f"'{'/'.join(parts)}' is the last slice of pie '{parent_name}' "
                                "(a pie needs at least one slice)")
        remaining = [n for n in parent.slices if n != parts[-1]]
        targets = self._targets(raw.item["targets"], key(raw.where, "targets"), remaining,
                                parent_name)
        del parent.slices[parts[-1]]
        for name, t in targets.items():
            parent.slices[name] = (t, parent.slices[name][1])
        path = "/".join(parts)
        self.removed[path] = raw.date
        return RemoveSlice(date=raw.date, path=path, targets=tuple(targets.items()))

    def _order(self, raw: _Raw, value: object, where: str) -> Order:
        body = self._body(value, where, ("slice", "side", "amount"))
        side = self.ck.choice(body["side"], key(where, "side"), ("buy", "sell"))
        amount = body["amount"]
        if amount == "all":
            if side == "buy":
                self.ck.fail(key(where, "amount"), "'all' is only for a sell; "
                                                   "a buy needs a dollar amount")
            amount = None
        else:
            amount = self.ck.positive(amount, key(where, "amount"))
        parts, _ = self._locate(body["slice"], key(where, "slice"), raw.date)
        return Order(date=raw.date, path="/".join(parts) or ROOT, side=side, amount=amount)

    def _rebalance(self, raw: _Raw, value: object, where: str) -> RebalanceRequest:
        pie, _ = self._pie(value, where, raw.date)
        return RebalanceRequest(date=raw.date, pie=pie)


__all__ = ["load_strategy", "parse_strategy", "read_yaml", "StrategyError"]
