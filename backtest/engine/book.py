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
from backtest.engine.allocation import Rule


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


@dataclass(frozen=True)
class Removal:
    """What `Book.remove` undid: enough to put the slice back."""

    parent: str
    index: int
    node: Node
    targets: dict[str, float]


@dataclass(frozen=True)
class TreeShape:
    """A frozen picture of the tree (for drift): every slice but the root.

    paths[k], parent[k] (index into paths, -1 for the root), target[k]
    (fraction of the parent), leaf[k] (leaf id or -1 for a pie).
    """

    paths: tuple[str, ...]
    parent: np.ndarray
    target: np.ndarray
    leaf: np.ndarray


class Book:
    """The live tree and the shares each leaf slice holds."""

    def __init__(self, pie: Pie, ticker_index: dict[str, int]) -> None:
        self.ticker_index = ticker_index
        self.leaf_paths: list[str] = []
        self.leaf_ticker: list[int] = []
        self.shares = np.zeros(0)
        self._leaf_by_path: dict[str, int] = {}
        self.root = Node(name=ROOT, path="", target=1.0)
        self.root.children = self._build(pie, "")
        self.version = 0

    # ---- structure -------------------------------------------------------
    def _leaf_id(self, path: str, ticker: str) -> int:
        tix = self.ticker_index[ticker]
        lid = self._leaf_by_path.get(path)
        if lid is None or self.leaf_ticker[lid] != tix:
            lid = len(self.leaf_paths)
            self._leaf_by_path[path] = lid
            self.leaf_paths.append(path)
            self.leaf_ticker.append(tix)
            self.shares = np.append(self.shares, 0.0)
        return lid

    def _build(self, pie: Pie, prefix: str) -> list[Node]:
        nodes = []
        for s in pie.slices:
            path = join_path(prefix, s.name)
            if s.pie is not None:
                nodes.append(Node(s.name, path, s.target / 100.0,
                                  children=self._build(s.pie, path)))
            else:
                assert s.ticker is not None
                lid = self._leaf_id(path, s.ticker)
                nodes.append(Node(s.name, path, s.target / 100.0,
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
        """New targets (percents) for the slices of one pie; no trade."""
        for c in self.node(pie_path).children:
            c.target = targets[c.name] / 100.0
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

    def remove(self, path: str, targets: dict[str, float]) -> Removal:
        """Detach the slice at `path`; its parent's remaining slices get `targets`."""
        parts = split_path(path)
        parent = self.node("/".join(parts[:-1]))
        index = next(i for i, c in enumerate(parent.children) if c.name == parts[-1])
        old = {c.name: c.target for c in parent.children}
        gone = parent.children.pop(index)
        self.set_targets(parent.path, targets)
        return Removal(parent.path, index, gone, old)

    def restore(self, undo: Removal) -> None:
        """Undo `remove` (a removal whose reinvestment has to wait)."""
        parent = self.node(undo.parent)
        parent.children.insert(undo.index, undo.node)
        for c in parent.children:
            c.target = undo.targets[c.name]
        self.version += 1

    def shape(self) -> TreeShape:
        """The current tree for drift: slices in tree order with parents."""
        paths: list[str] = []
        parent: list[int] = []
        target: list[float] = []
        leaf: list[int] = []
        stack: list[tuple[Node, int]] = [(c, -1) for c in reversed(self.root.children)]
        while stack:
            node, par = stack.pop()
            k = len(paths)
            paths.append(node.path)
            parent.append(par)
            target.append(node.target)
            leaf.append(node.leaf)
            stack.extend((c, k) for c in reversed(node.children))
        return TreeShape(tuple(paths), np.array(parent, dtype=np.int64),
                         np.array(target), np.array(leaf, dtype=np.int64))

    # ---- values and plans --------------------------------------------------
    def leaf_values(self, prices: np.ndarray) -> np.ndarray:
        """Each leaf's value at `prices` (per market column); 0 where no shares."""
        px = prices[np.asarray(self.leaf_ticker, dtype=np.int64)] if self.leaf_paths else prices[:0]
        return np.where(self.shares > 0, self.shares * np.nan_to_num(px), 0.0)

    def node_values(self, leaf_values: np.ndarray) -> dict[int, float]:
        """Value of every node (keyed by id(node)) from the leaves' values."""
        out: dict[int, float] = {}

        def visit(n: Node) -> float:
            v = float(leaf_values[n.leaf]) if n.is_leaf else sum(visit(c) for c in n.children)
            out[id(n)] = v
            return v

        visit(self.root)
        return out

    def distribute(self, node: Node, amount: float, rule: Rule,
                   values: dict[int, float]) -> list[tuple[int, float]]:
        """Split `amount` down from `node` to leaves by `rule`: [(leaf id, dollars)]."""
        if node.is_leaf:
            return [(node.leaf, amount)] if amount > 0 else []
        kids = node.children
        vals = np.array([values[id(c)] for c in kids])
        tgts = np.array([c.target for c in kids])
        shares = rule(vals, tgts, amount)
        out: list[tuple[int, float]] = []
        for c, a in zip(kids, shares, strict=True):
            if a > 0:
                out.extend(self.distribute(c, float(a), rule, values))
        return out

    def target_values(self, node: Node, values: dict[int, float]) -> list[tuple[int, float]]:
        """Each leaf under `node` at exactly its target share of the node's value."""
        out: list[tuple[int, float]] = []

        def visit(n: Node, weight: float) -> None:
            if n.is_leaf:
                out.append((n.leaf, weight * values[id(node)]))
            else:
                for c in n.children:
                    visit(c, weight * c.target)

        visit(node, 1.0)
        return out
