"""Variants of a strategy: key-path overrides of its YAML document and their grid.

A key path names a place in the strategy file's YAML document: dot-separated
keys, integers indexing lists (`account.window`, `cashflows.1.deposit`,
`portfolio.slices.Growth.target`). A key that itself contains dots (a ticker
such as `BRK.B`) is found by matching the longest run of parts that is a key
of the mapping.

A variant is a resolved document (overrides applied, data paths made
absolute) plus the values that made it; its id is a hash of that document and
of the data's bytes, so a changed price file never reuses an old result.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from backtest.errors import BacktestError, DataError, StrategyError
from backtest.io.strategy_file import StrategyLoader, parse_strategy, read_yaml

# Top-level sections created on demand when an override sets a key inside them.
CREATABLE_SECTIONS = ("account", "rebalance", "data", "tax")
DATA_PATH_KEYS = ("prices", "halts")
HASH_LENGTH = 16


class KeyPathError(BacktestError):
    """An override names a key path the document does not have."""


@dataclass(frozen=True)
class Variant:
    """One strategy document to run: its display name, overrides and id."""

    name: str
    values: tuple[tuple[str, Any], ...]  # (key path, value) in --vary order
    document: dict[str, Any] = field(repr=False, compare=False)
    source: Path  # the strategy file it came from
    hash: str  # sha256 of the document and the data, first 16 hex digits

    @property
    def label(self) -> str:
        """`key=value` pairs (or the file's stem) for messages."""
        return self.name


# --- parsing --vary ---------------------------------------------------------------------


def parse_value(text: str) -> Any:
    """One override value: a YAML scalar (`500` an int, `true` a bool, `never` text),
    read as the strategy file's YAML is (`1e15` a number, `2024-02-30` text that the
    strategy check then names)."""
    try:
        value = yaml.load(text, Loader=StrategyLoader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError:
        return text
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # `!!float abc`
        raise KeyPathError(f"--vary value {text!r} cannot be read as YAML: "
                           f"{' '.join(str(exc).split())}"[:200]) from None
    return text if value is None and text.strip() not in ("null", "~", "") else value


def parse_vary(spec: str) -> tuple[str, list[Any]]:
    """`KEY=V1,V2,...` -> (key, [values])."""
    key, sep, values = spec.partition("=")
    key = key.strip()
    if not sep or not key:
        raise KeyPathError(f"--vary {spec!r}: expected KEY=V1,V2,... "
                           "(for example account.window=morning,afternoon)")
    parts = values.split(",")
    if not values.strip() or any(not p.strip() for p in parts):
        raise KeyPathError(f"--vary {spec!r}: an empty value in the list")
    return key, [parse_value(p.strip()) for p in parts]


def merge_vary(specs: Sequence[str]) -> dict[str, list[Any]]:
    """Several --vary options in order; the same key twice is an error."""
    out: dict[str, list[Any]] = {}
    for spec in specs:
        key, values = parse_vary(spec)
        if key in out:
            raise KeyPathError(f"--vary {key}: the key is given twice")
        out[key] = values
    return out


# --- key paths --------------------------------------------------------------------------


def _match_key(mapping: Mapping, parts: list[str], start: int) -> tuple[Any, int] | None:
    """The mapping key spelled by the longest run of parts from `start`."""
    by_text = {str(k): k for k in mapping}
    for end in range(len(parts), start, -1):
        text = ".".join(parts[start:end])
        if text in by_text:
            return by_text[text], end
    return None


def set_path(doc: Any, path: str, value: Any) -> Any:
    """A deep copy of `doc` with `value` at key path `path`.

    A missing key is created when its parent mapping exists, and the
    top-level sections account, rebalance, data and tax are created when absent;
    anything else missing (or a list index out of range) is a KeyPathError
    naming the key.
    """
    parts = path.split(".")
    if not path or any(p == "" for p in parts):
        raise KeyPathError(f"{path!r} is not a key path (dot-separated keys, e.g. "
                           "account.window)")
    if not isinstance(doc, dict):
        raise KeyPathError(f"{path}: the document is not a mapping")
    out = copy.deepcopy(doc)
    node: Any = out
    i = 0
    while i < len(parts):
        done = ".".join(parts[:i]) or "the document"
        if isinstance(node, dict):
            found = _match_key(node, parts, i)
            if found is not None:
                k, end = found
            else:
                k, end = parts[i], i + 1
            if end == len(parts):
                node[k] = value
                return out
            if found is None:
                if i == 0 and k in CREATABLE_SECTIONS:
                    node[k] = {}
                else:
                    raise KeyPathError(f"{path}: there is no key {k!r} in {done}")
            if node[k] is None and i == 0 and k in CREATABLE_SECTIONS:
                node[k] = {}  # `account:` with nothing under it
            node, i = node[k], end
        elif isinstance(node, list):
            part = parts[i]
            try:
                j = int(part)
            except ValueError:
                raise KeyPathError(f"{path}: {done} is a list; {part!r} is not an index "
                                   f"(0 to {len(node) - 1})") from None
            if not 0 <= j < len(node):
                raise KeyPathError(f"{path}: list index {j} is out of range ({done} has "
                                   f"{len(node)} item{'s' if len(node) != 1 else ''})")
            if i + 1 == len(parts):
                node[j] = value
                return out
            node, i = node[j], i + 1
        else:
            raise KeyPathError(f"{path}: {done} is a single value, not a mapping or a list")
    return out  # pragma: no cover (the loop always returns or raises)


def _walk(doc: Any, path: str) -> tuple[list[str], Any]:
    """The canonical parts of key path `path` in `doc` (mapping keys as spelled in the
    document, list indexes as plain numbers: `cashflows.00` is `cashflows.0`) and the
    value there (`_MISSING` past the end of what exists)."""
    parts = path.split(".")
    node: Any = doc
    out: list[str] = []
    i = 0
    while i < len(parts):
        if isinstance(node, dict):
            found = _match_key(node, parts, i)
            if found is None:
                return out + parts[i:], _MISSING
            k, i = found
            out.append(str(k))
            node = node[k]
        elif isinstance(node, list):
            try:
                j = int(parts[i])
            except ValueError:
                return out + parts[i:], _MISSING
            out.append(str(j))
            i += 1
            node = node[j] if 0 <= j < len(node) else _MISSING
        else:
            return out + parts[i:], _MISSING
    return out, node


_MISSING = object()


def canonical_path(doc: Any, path: str) -> str:
    """`path` as the document spells it (`cashflows.00.deposit` -> `cashflows.0.deposit`)."""
    return ".".join(_walk(doc, path)[0])


def get_path(doc: Any, path: str) -> Any:
    """The value at key path `path` of `doc` (after `set_path`, the value it holds)."""
    value = _walk(doc, path)[1]
    if value is _MISSING:
        raise KeyPathError(f"{path}: not in the document")
    return value


def resolve_data_paths(doc: Any, base_dir: Path) -> Any:
    """A copy of `doc` with data.prices and data.halts absolute (as the parser reads them)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        return doc
    out = dict(doc)
    data = dict(out["data"])
    for k in DATA_PATH_KEYS:
        v = data.get(k)
        if isinstance(v, str) and v and "\x00" not in v:
            if k == "prices" and v.strip().lower().startswith("yahoo"):
                from backtest.io.online import parse_source

                try:
                    if parse_source(v) is not None:
                        continue  # an online source, not a path (io/online.py)
                except ValueError:
                    continue  # the parser names the bad ticker
            p = Path(v).expanduser()
            data[k] = str(p if p.is_absolute() else (base_dir / p).resolve())
    out["data"] = data
    return out


# --- hashing ----------------------------------------------------------------------------


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, dt.datetime | dt.date):
        return {"$date": x.isoformat()}
    if isinstance(x, float) and not math.isfinite(x):
        return {"$float": repr(x)}
    if x is None or isinstance(x, bool | int | float | str):
        return x
    return {"$repr": repr(x)}


def canonical_json(doc: Any) -> str:
    """The document as canonical JSON (sorted keys, dates tagged)."""
    return json.dumps(_jsonable(doc), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


class DataFingerprints:
    """Content hashes of data files, each file's bytes read once per sweep."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, int, int], str] = {}

    def file(self, path: Path) -> str:
        st = path.stat()
        ident = (str(path), st.st_size, st.st_mtime_ns)
        if ident not in self._seen:
            h = hashlib.sha256()
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            self._seen[ident] = h.hexdigest()
        return self._seen[ident]

    def path(self, path: Path, what: str) -> str:
        """A file's hash, or a folder's (its .parquet files, in name order)."""
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix == ".parquet" and p.is_file())
            return hashlib.sha256("".join(f"{p.name}:{self.file(p)};"
                                          for p in files).encode()).hexdigest()
        if path.is_file():
            return self.file(path)
        raise DataError(f"{what} not found (no such file or folder)", source=path)


def variant_hash(doc: Any, strategy, prints: DataFingerprints,
                 settings: Mapping[str, Any] | None = None) -> str:
    """sha256 (first 16 hex) of the resolved document, the data's bytes and `settings`."""
    if strategy.data.online is not None:  # prices: yahoo: download before hashing the file
        from backtest.io.inputs import ensure_online

        ensure_online(strategy)
    data = {"prices": prints.path(Path(strategy.data.prices), "price data")}
    if strategy.data.halts is not None:
        data["halts"] = prints.path(Path(strategy.data.halts), "halt calendar")
    text = canonical_json({"document": doc, "data": data, "settings": dict(settings or {})})
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


# --- building the variants --------------------------------------------------------------


def show_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    return v.isoformat() if isinstance(v, dt.date) else str(v)


def grid(vary: Mapping[str, Sequence[Any]]) -> list[tuple[tuple[str, Any], ...]]:
    """Every combination of the varied values, the first key varying slowest."""
    keys = list(vary)
    return [tuple(zip(keys, combo, strict=True))
            for combo in itertools.product(*(list(vary[k]) for k in keys))]


def build_variants(paths: Sequence[str | Path], vary: Mapping[str, Sequence[Any]] | None = None,
                   *, settings: Mapping[str, Any] | None = None,
                   documents: Sequence[Any] | None = None) -> list[Variant]:
    """Every variant of every file, each validated (a StrategyError names the variant).

    With one file, variants are named by their values; with several, by the
    file's stem (and the values, when there are overrides too). `documents`,
    when given, holds each file's YAML document already in memory (None: read
    the file), so a strategy changed in Python is swept as it is.
    """
    vary = dict(vary or {})
    for k, values in vary.items():
        if not list(values):
            raise KeyPathError(f"--vary {k}: no values")
    combos = grid(vary)
    prints = DataFingerprints()
    stems = _stems([Path(p) for p in paths])
    out: list[Variant] = []
    docs = list(documents) if documents is not None else [None] * len(paths)
    for path, stem, doc in zip(paths, stems, docs, strict=True):
        path = Path(path)
        base = read_yaml(path) if doc is None else doc
        for combo in combos:
            out.append(_variant(base, path, combo, stem if len(paths) > 1 else "", stem,
                                prints, settings))
    return out


def _name(prefix: str, stem: str, combo: tuple[tuple[str, Any], ...]) -> str:
    pairs = " ".join(f"{k}={show_value(v)}" for k, v in combo)
    return " ".join(x for x in (prefix, pairs) if x) or stem


def _variant(base: Any, path: Path, combo: tuple[tuple[str, Any], ...], prefix: str,
             stem: str, prints: DataFingerprints,
             settings: Mapping[str, Any] | None) -> Variant:
    name = _name(prefix, stem, combo)
    doc = base
    try:
        _check_distinct(base, [k for k, _ in combo])
        for k, v in combo:
            doc = set_path(doc, k, v)
        # what the variant is, read back from the document it runs (never the raw option)
        combo = tuple((k, get_path(doc, k)) for k, _ in combo)
    except KeyPathError as exc:
        raise KeyPathError(exc.message, source=f"{path} (variant {name})") from None
    name = _name(prefix, stem, combo)
    doc = resolve_data_paths(doc, path.parent)
    try:
        strategy = parse_strategy(doc, source=path, base_dir=path.parent)
        digest = variant_hash(doc, strategy, prints, settings)
    except StrategyError as exc:
        raise StrategyError(exc.message, source=f"{path} (variant {name})",
                            where=exc.where) from None
    return Variant(name=name, values=combo, document=doc, source=path, hash=digest)


def _check_distinct(doc: Any, keys: Sequence[str]) -> None:
    """Two --vary keys naming the same place (`cashflows.0` and `cashflows.00`) would run
    one value under the other's label: refused."""
    seen: dict[str, str] = {}
    for k in keys:
        c = canonical_path(doc, k)
        if c in seen:
            raise KeyPathError(f"--vary {k}: the same key as --vary {seen[c]} ({c})")
        seen[c] = k


def _stems(paths: list[Path]) -> list[str]:
    """File stems, made unique with the parent folder (then a number) when they clash."""
    stems = [p.stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    out = [f"{p.parent.name}/{p.stem}" if stems.count(p.stem) > 1 else p.stem for p in paths]
    seen: dict[str, int] = {}
    for i, s in enumerate(out):
        seen[s] = seen.get(s, 0) + 1
        if seen[s] > 1:
            out[i] = f"{s}#{seen[s]}"
    return out
