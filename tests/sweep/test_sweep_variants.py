"""Key paths, --vary parsing, the grid and variant ids (no runs)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from backtest.errors import StrategyError
from backtest.sweep.variants import (
    KeyPathError,
    build_variants,
    canonical_json,
    grid,
    merge_vary,
    parse_vary,
    set_path,
)

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "fixtures" / "spec_examples"
BASIC = SPEC / "basic.yaml"

DOC = {"name": "x", "data": {"prices": "p.parquet"},
       "cashflows": [{"deposit": 100, "date": dt.date(2024, 3, 1)}],
       "portfolio": {"slices": {"AAA": 60, "BRK.B": 40, "Growth": {"target": 1}}}}


def test_values_are_yaml_scalars() -> None:
    assert parse_vary("account.cash_minimum=0,500,12.5") == ("account.cash_minimum",
                                                            [0, 500, 12.5])
    assert parse_vary("account.auto_invest=true,false")[1] == [True, False]
    assert parse_vary("rebalance.every=never,quarter")[1] == ["never", "quarter"]
    assert parse_vary("data.start=2024-03-04")[1] == [dt.date(2024, 3, 4)]


@pytest.mark.parametrize("spec", ["account.window", "=a,b", "account.window=", "k=a,,b"])
def test_bad_vary_options(spec: str) -> None:
    with pytest.raises(KeyPathError):
        parse_vary(spec)


def test_same_key_twice_is_an_error() -> None:
    with pytest.raises(KeyPathError, match="twice"):
        merge_vary(["account.window=morning", "account.window=afternoon"])


def test_set_path_copies_and_sets() -> None:
    out = set_path(DOC, "cashflows.0.deposit", 250)
    assert out["cashflows"][0]["deposit"] == 250
    assert DOC["cashflows"][0]["deposit"] == 100  # the original is untouched
    assert set_path(DOC, "portfolio.slices.Growth.target", 5)["portfolio"]["slices"][
        "Growth"]["target"] == 5
    # a key containing dots is found by the longest match
    assert set_path(DOC, "portfolio.slices.BRK.B", 45)["portfolio"]["slices"]["BRK.B"] == 45


def test_missing_keys_are_created_only_under_an_existing_mapping() -> None:
    assert set_path(DOC, "account.cash_minimum", 500)["account"] == {"cash_minimum": 500}
    assert set_path(DOC, "rebalance.every", "quarter")["rebalance"] == {"every": "quarter"}
    assert set_path(DOC, "data.halts", "h.csv")["data"]["halts"] == "h.csv"
    assert set_path({**DOC, "account": None}, "account.window", "both")["account"] == {
        "window": "both"}
    with pytest.raises(KeyPathError, match="no key 'Nope'"):
        set_path(DOC, "portfolio.slices.Nope.target", 5)
    with pytest.raises(KeyPathError, match="no key 'other'"):
        set_path(DOC, "other.thing", 1)


def test_list_index_errors_name_the_key() -> None:
    with pytest.raises(KeyPathError, match=r"cashflows\.3\.deposit: list index 3 is out of "
                                           r"range \(cashflows has 1 item\)"):
        set_path(DOC, "cashflows.3.deposit", 1)
    with pytest.raises(KeyPathError, match="is not an index"):
        set_path(DOC, "cashflows.first.deposit", 1)
    with pytest.raises(KeyPathError, match="single value"):
        set_path(DOC, "name.first", 1)


def test_grid_is_every_combination_first_key_slowest() -> None:
    combos = grid({"a": [1, 2], "b": ["x", "y", "z"]})
    assert len(combos) == 6
    assert combos[0] == (("a", 1), ("b", "x"))
    assert combos[3] == (("a", 2), ("b", "x"))


def test_variants_are_validated_and_named_by_key_and_value() -> None:
    variants = build_variants([BASIC], {"account.window": ["morning", "afternoon"],
                                        "account.cash_minimum": [0, 50]})
    assert [v.name for v in variants][:2] == [
        "account.window=morning account.cash_minimum=0",
        "account.window=morning account.cash_minimum=50"]
    assert len({v.hash for v in variants}) == 4
    assert all(len(v.hash) == 16 for v in variants)
    # data paths are made absolute in the variant's document
    assert Path(variants[0].document["data"]["prices"]).is_absolute()
    with pytest.raises(StrategyError) as err:
        build_variants([BASIC], {"account.window": ["morning", "noon"]})
    line = err.value.line()
    assert "variant account.window=noon" in line and "account.window:" in line
    assert "\n" not in line


def test_hash_covers_the_document_and_the_data_bytes(tmp_path: Path) -> None:
    copy = tmp_path / "spec"
    shutil.copytree(SPEC, copy, ignore=shutil.ignore_patterns("expected"))
    first = build_variants([copy / "basic.yaml"])[0].hash
    assert build_variants([copy / "basic.yaml"])[0].hash == first  # stable
    # the same document in another folder reads other (identical) files: a new path
    assert build_variants([BASIC])[0].hash != first
    halts = copy / "data" / "tiny_halts.csv"
    halts.write_text(halts.read_text() + "\n")
    assert build_variants([copy / "basic.yaml"])[0].hash != first
    # basic.yaml already says morning: the same document, the same id
    same = build_variants([copy / "basic.yaml"], {"account.window": ["morning", "afternoon"]})
    assert same[0].hash == build_variants([copy / "basic.yaml"])[0].hash != same[1].hash


def test_canonical_json_is_order_independent() -> None:
    assert canonical_json({"b": 1, "a": dt.date(2024, 1, 2)}) == canonical_json(
        {"a": dt.date(2024, 1, 2), "b": 1})
