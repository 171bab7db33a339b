"""The account's book: the live pie tree, per-slice holdings and dollar plans.

Holdings are kept per leaf slice (per path), not per ticker: the same ticker
may sit in two pies. The tree changes over a run (target edits, added and
removed slices); each leaf keeps a stable id so holdings history is a plain
(sessions x leaves) array.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from backtest.domain.pie import ROOT, Pie, join_path, split_path
from backtest.engine.allocation import SMALL, PieRule
from backtest.engine.layout import Layout, Rules, TreeShape


@dataclass
class Node:
    """A slice in the live tree: a leaf (ticker) or a pie (children)."""

    name: str
    path: str
    target: float  # fraction of the parent pie
    ticker: int = -1  # market column of a leaf
    leaf: int = -1  # leaf id of a leaf
    children: list[Node] = field(default_factory=list)

    @property
    def is_leaf(self) -> bool:
        return self.leaf >= 0

    def leaves(self) -> Iterator[Node]:
        if self.is_leaf:
            yield self
        else:
            for c in self.children:
                yield from c.leaves()

    def walk(self) -> Iterator[Node]:
        yield self
        for c in self.children:
            yield from c.walk()


@dataclass(frozen=True, eq=False)
class Detached:
    """A slice taken out of the tree by `Book.remove`: its leaves still hold
    their shares (they belong to no pie) until the removal's sale trades.

    leaves: the leaf ids under the slice; above: its pies from the parent up
    to the root, where the sale's proceeds go (the first one still in the tree).
    """

    path: str
    leaves: tuple[int, ...]
    above: tuple[Node, ...]


class Book:
    """The live tree and the shares each leaf slice holds.

    Shares are kept as whole units of the share grid (10**-decimals shares), so
    holdings are exact and never collect float dust.
    """

    def __init__(self, pie: Pie, ticker_index: dict[str, int], decimals: int = 5) -> None:
        self.ticker_index = ticker_index
        self.scale = 10 ** decimals
        self.leaf_paths: list[str] = []
        self.leaf_ticker: list[int] = []
        self.leaf_columns = np.zeros(0, dtype=np.int64)  # leaf_ticker as an array
        self.units = np.zeros(0, dtype=np.int64)
        self._leaf_by_path: dict[str, int] = {}
        self.root = Node(name=ROOT, path="", target=1.0)
        self.root.children = self._build(pie, "")
        self.version = 0
        self._layout: Layout | None = None
        self._layout_version = -1

    # ---- structure -------------------------------------------------------
    def _leaf_id(self, path: str, ticker: str) -> int:
        tix = self.ticker_index[ticker]
        lid = self._leaf_by_path.get(path)
        if lid is None or self.leaf_ticker[lid] != tix:
            lid = len(self.leaf_paths)
            self._leaf_by_path[path] = lid
            self.leaf_paths.append(path)
            self.leaf_ticker.append(tix)
            self.leaf_columns = np.asarray(self.leaf_ticker, dtype=np.int64)
            self.units = np.append(self.units, np.int64(0))
        return lid

    def _build(self, pie: Pie, prefix: str) -> list[Node]:
        nodes = []
        total = sum(s.target for s in pie.slices)
        for s in pie.slices:
            path = join_path(prefix, s.name)
            if s.pie is not None:
                nodes.append(Node(s.name, path, s.target / total,
                                  children=self._build(s.pie, path)))
            else:
                assert s.ticker is not None
                lid = self._leaf_id(path, s.ticker)
                nodes.append(Node(s.name, path, s.target / total,
                                  ticker=self.ticker_index[s.ticker], leaf=lid))
        return nodes

    def node(self, path: str) -> Node:
        """The node at `path` (`portfolio` or "" is the root)."""
        node = self.root
        for part in split_path(path):
            node = next(c for c in node.children if c.name == part)
        return node

    def has(self, path: str) -> bool:
        try:
            self.node(path)
        except StopIteration:
            return False
        return True

    def set_targets(self, pie_path: str, targets: dict[str, float]) -> None:
        """New targets (percents) for the slices of one pie; no trade.

        Divided by their sum, so they add to exactly 1 whatever the rounding
        of the file's percents (no slice's share depends on the slice order).
        """
        children = self.node(pie_path).children
        total = sum(targets[c.name] for c in children)
        for c in children:
            c.target = targets[c.name] / total
        self.version += 1

    def add_slices(self, pie_path: str, targets: dict[str, float],
                   new: tuple[tuple[str, Pie | None], ...]) -> None:
        """Add slices (securities or sub-pies) to a pie with its new targets."""
        pie = self.node(pie_path)
        for name, sub in new:
            path = join_path(pie.path, name)
            if sub is None:
                lid = self._leaf_id(path, name)
                pie.children.append(Node(name, path, 0.0, ticker=self.ticker_index[name],
                                         leaf=lid))
            else:
                pie.children.append(Node(name, path, 0.0, children=self._build(sub, path)))
        self.set_targets(pie_path, targets)

    def remove(self, path: str, targets: dict[str, float]) -> Detached:
        """Take the slice at `path` out of its pie at once; the remaining slices get
        `targets`. Its leaves keep their shares, outside every pie, and their paths
        are freed, so a slice added later under the same name starts empty."""
        parts = split_path(path)
        above = [self.root]
        for part in parts[:-1]:
            above.append(next(c for c in above[-1].children if c.name == part))
        parent = above[-1]
        index = next(i for i, c in enumerate(parent.children) if c.name == parts[-1])
        gone = parent.children.pop(index)
        leaves = tuple(lf.leaf for lf in gone.leaves())
        for lf in leaves:
            if self.units[lf] > 0 and self._leaf_by_path.get(self.leaf_paths[lf]) == lf:
                del self._leaf_by_path[self.leaf_paths[lf]]
        self.set_targets(parent.path, targets)
        return Detached(gone.path, leaves, tuple(reversed(above)))

    def in_tree(self, node: Node) -> bool:
        """Whether `node` is still part of the live tree."""
        return id(node) in self.layout().position

    def shape(self) -> TreeShape:
        """The current tree for drift: slices in tree order with parents."""
        return self.layout().shape()

    # ---- holdings ----------------------------------------------------------
    @property
    def shares(self) -> np.ndarray:
        """Shares held per leaf id (float)."""
        return self.units / self.scale

    def add_units(self, leaves: np.ndarray, units: np.ndarray, unique: bool = False) -> None:
        """Add signed grid units to leaves (a leaf may repeat unless `unique`), in
        place: in a batch `units` is a row of the batch's holdings array and must
        stay one."""
        if unique:
            self.units[leaves] += units
        else:
            np.add.at(self.units, leaves, units)

    def set_units(self, units: list[int]) -> None:
        """Every leaf's grid units at once (a plain-list update), in place."""
        self.units[:] = units

    def add_unit(self, leaf: int, units: int) -> None:
        """`add_units` for one leaf."""
        self.units[leaf] += units

    def leaf_values(self, prices: np.ndarray) -> np.ndarray:
        """Each leaf's value at `prices` (per market column, no NaN)."""
        return self.units * prices[self.leaf_columns] / self.scale

    def leaf_in_tree(self, leaf: int) -> bool:
        """Whether leaf id `leaf` is in the live tree (not removed)."""
        return leaf in self.layout().leaf_set

    def leaf_columns_in_tree(self) -> set[int]:
        """Market columns of the leaves in the live tree."""
        lay = self.layout()
        return set(self.leaf_columns[lay.leaf[lay.leaf >= 0]].tolist())

    # ---- values and plans (on the flattened layout) ----------------------------
    def layout(self) -> Layout:
        """The tree flattened into arrays; rebuilt only after the tree changes."""
        if self._layout is None or self._layout_version != self.version:
            self._layout = Layout.of(self.root)
            self._layout_version = self.version
            self._fractions: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        return self._layout

    def node_values(self, leaf_values: np.ndarray) -> np.ndarray:
        """Value of every node (by layout position) from the leaves' values."""
        lay = self.layout()
        values = np.zeros(len(lay.leaf))
        is_leaf = lay.leaf >= 0
        values[is_leaf] = leaf_values[lay.leaf[is_leaf]]
        for rows in lay.by_depth_deepest_first:
            np.add.at(values, lay.parent[rows], values[rows])
        return values

    def node_value_list(self, leaf_values: list[float]) -> list[float]:
        """`node_values` on plain lists (a small tree): each pie's value is its
        children's added in child order from 0.0, as `np.add.at` adds them there."""
        lay = self.layout()
        kid_list, leaf_list = lay.kid_list, lay.leaf_list
        values = [0.0] * len(leaf_list)
        for p in range(len(leaf_list) - 1, -1, -1):  # descendants come after a pie
            if leaf_list[p] >= 0:
                values[p] = leaf_values[leaf_list[p]]
            else:
                v = 0.0
                for k in kid_list[p]:
                    v += values[k]
                values[p] = v
        return values

    def leaves_under(self, node: Node) -> np.ndarray:
        """Leaf ids under (or at) `node`."""
        lay = self.layout()
        pos = lay.position[id(node)]
        ids = lay.leaf[pos:lay.end[pos]]
        return ids[ids >= 0]

    def value_of(self, node: Node, values: np.ndarray) -> float:
        return float(values[self.layout().position[id(node)]])

    def distribute_arrays(self, node: Node, amount: float, rules: Rules,
                          values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`distribute` as (leaf ids, dollars) arrays, in the same order."""
        lay = self.layout()
        if amount > 0 and lay.leaf[lay.position[id(node)]] < 0 and len(lay.leaf) > SMALL:
            return self._distribute_levels(lay, lay.position[id(node)], amount, rules, values)
        pos = lay.position[id(node)]
        if amount > 0 and lay.leaf[pos] < 0:
            leaves, dollars = self._distribute_small(lay, pos, amount, rules.pie,
                                                     values.tolist())
            return np.array(leaves, dtype=np.int64), np.array(dollars, dtype=float)
        plan = self.distribute(node, amount, rules, values)
        return (np.array([lf for lf, _ in plan], dtype=np.int64),
                np.array([a for _, a in plan], dtype=float))

    def distribute(self, node: Node, amount: float, rules: Rules,
                   values: np.ndarray) -> list[tuple[int, float]]:
        """Split `amount` down from `node` to leaves by `rules`: [(leaf id, dollars)].

        One level of the tree at a time: the pies at a depth that received money
        split it among their children, one pie at a time on plain lists while
        the level is small, in one array call of the segment rule beyond that.
        """
        if amount <= 0:
            return []
        lay = self.layout()
        pos = lay.position[id(node)]
        if lay.leaf[pos] >= 0:
            return [(int(lay.leaf[pos]), amount)]
        if len(lay.leaf) <= SMALL:  # a small tree: plain recursion beats array calls
            leaves, dollars = self._distribute_small(lay, pos, amount, rules.pie,
                                                     values.tolist())
            return list(zip(leaves, dollars, strict=True))
        leaves, dollars = self._distribute_levels(lay, pos, amount, rules, values)
        return list(zip(leaves.tolist(), dollars.tolist(), strict=True))

    @staticmethod
    def _distribute_levels(lay: Layout, pos: int, amount: float, rules: Rules,
                           values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`distribute` from the pie at `pos`, level by level (a large tree)."""
        amounts = np.zeros(len(lay.leaf))
        amounts[pos] = amount
        for level in lay.levels[lay.depth[pos]:]:
            given = amounts[level.parents]
            active = np.flatnonzero(given > 0)
            if len(active) == 0:
                break
            if int(level.sizes[active].sum()) <= SMALL:
                for j in active.tolist():
                    kids = level.kids_of[j]
                    amounts[kids] = rules.pie(values[kids].tolist(), level.targets_of[j],
                                              float(given[j]))
                continue
            keep = np.isin(level.seg, active)
            kids, targets = level.children[keep], level.targets[keep]
            seg = np.searchsorted(active, level.seg[keep])
            amounts[kids] = rules.segments(values[kids], targets, seg, given[active])
        got = np.flatnonzero((lay.leaf >= 0) & (amounts > 0))
        return lay.leaf[got], amounts[got]

    @staticmethod
    def _distribute_small(lay: Layout, pos: int, amount: float, rule: PieRule,
                          values: list[float]) -> tuple[list[int], list[float]]:
        """`distribute` from the pie at `pos` on plain lists: (leaf ids, dollars)."""
        leaves: list[int] = []
        dollars: list[float] = []
        leaf_list, kid_list, target_list = lay.leaf_list, lay.kid_list, lay.target_list

        def visit(p: int, amt: float) -> None:
            kids = kid_list[p]
            for k, a in zip(kids, rule([values[k] for k in kids], target_list[p], amt),
                            strict=True):
                if a > 0:
                    if leaf_list[k] >= 0:
                        leaves.append(leaf_list[k])
                        dollars.append(a)
                    else:
                        visit(k, a)

        visit(pos, amount)  # depth first in child order: tree (position) order
        return leaves, dollars

    def target_fractions(self, node: Node) -> tuple[np.ndarray, np.ndarray]:
        """(leaf ids under `node`, each one's target share of the node): products
        of the targets along the path from `node` down to the leaf."""
        lay = self.layout()
        pos = lay.position[id(node)]
        known = self._fractions.get(pos)  # the tree is the same until it changes
        if known is None:
            span = slice(pos, lay.end[pos])
            is_leaf = lay.leaf[span] >= 0
            fractions = lay.weight[span][is_leaf] / lay.weight[pos]
            known = self._fractions[pos] = (lay.leaf[span][is_leaf], fractions)
        return known
