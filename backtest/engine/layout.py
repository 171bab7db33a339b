"""The live pie tree flattened into arrays, rebuilt only when the tree changes.

Positions are the tree in pre-order (the root at 0), so a subtree is a range
of positions; `levels` groups the pies of each depth with their children for
the segment form of the allocation rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from backtest.engine.allocation import PieRule, SegmentRule

if TYPE_CHECKING:
    from backtest.engine.book import Node


@dataclass(frozen=True)
class TreeShape:
    """A frozen picture of the tree (for drift): every slice but the root, in
    the `Layout`'s order (`Layout.shape`).

    paths[k], parent[k] (index into paths, -1 for the root), target[k]
    (fraction of the parent), leaf[k] (leaf id or -1 for a pie).
    """

    paths: tuple[str, ...]
    parent: np.ndarray
    target: np.ndarray
    leaf: np.ndarray


@dataclass(frozen=True)
class Layout:
    """The live tree as arrays: positions in pre-order, the root at 0."""

    position: dict[int, int]  # id(node) -> position
    parent: np.ndarray
    leaf: np.ndarray  # leaf id, or -1 for a pie
    paths: tuple[str, ...]  # the slice path ("" for the root)
    target: np.ndarray  # fraction of the parent (1 for the root)
    depth: np.ndarray
    weight: np.ndarray  # product of the targets from the root down to the position
    end: np.ndarray  # the subtree of position p is positions p .. end[p]-1
    by_depth_deepest_first: list[np.ndarray]  # positions at each depth > 0
    levels: list[Level]  # levels[d]: the pies at depth d and their children
    leaf_list: list[int]  # the same as plain lists, for small trees
    kid_list: list[list[int]]
    target_list: list[list[float]]
    leaf_set: frozenset[int]  # the leaf ids in the tree

    @staticmethod
    def of(root: Node) -> Layout:
        position: dict[int, int] = {}
        weight: list[float] = []
        parent: list[int] = []
        leaf: list[int] = []
        paths: list[str] = []
        target: list[float] = []
        depth: list[int] = []
        kids: list[list[int]] = []
        targets: list[list[float]] = []
        stack: list[tuple[Node, int, int]] = [(root, -1, 0)]
        while stack:
            node, par, d = stack.pop()
            pos = len(parent)
            position[id(node)] = pos
            weight.append(node.target * weight[par] if par >= 0 else 1.0)
            parent.append(par)
            leaf.append(node.leaf)
            paths.append(node.path)
            target.append(node.target)
            depth.append(d)
            kids.append([])
            targets.append([])
            if par >= 0:
                kids[par].append(pos)
                targets[par].append(node.target)
            stack.extend((c, pos, d + 1) for c in reversed(node.children))
        depths = np.array(depth)
        levels = []
        for d in range(int(depths.max()) if len(depths) else 0):
            parents = [p for p in range(len(parent)) if depth[p] == d and kids[p]]
            levels.append(Level(
                parents=np.array(parents, dtype=np.int64),
                children=np.array([k for p in parents for k in kids[p]], dtype=np.int64),
                targets=np.array([t for p in parents for t in targets[p]]),
                seg=np.array([j for j, p in enumerate(parents) for _ in kids[p]],
                             dtype=np.int64),
                kids_of=[np.array(kids[p], dtype=np.int64) for p in parents],
                targets_of=[targets[p] for p in parents],
                sizes=np.array([len(kids[p]) for p in parents], dtype=np.int64),
            ))
        end = np.arange(1, len(parent) + 1)
        for pos in range(len(parent) - 1, 0, -1):  # children come after parents
            end[parent[pos]] = max(end[parent[pos]], end[pos])
        return Layout(
            position=position,
            parent=np.array(parent, dtype=np.int64),
            leaf=np.array(leaf, dtype=np.int64),
            paths=tuple(paths),
            target=np.array(target),
            depth=depths,
            weight=np.array(weight),
            end=end,
            by_depth_deepest_first=[np.flatnonzero(depths == d)
                                    for d in range(int(depths.max()), 0, -1)],
            levels=levels,
            leaf_list=leaf,
            kid_list=kids,
            target_list=targets,
            leaf_set=frozenset(x for x in leaf if x >= 0),
        )


    def shape(self) -> TreeShape:
        """Every slice but the root, with parents as indices among them."""
        return TreeShape(self.paths[1:], self.parent[1:] - 1, self.target[1:].copy(),
                         self.leaf[1:].copy())


@dataclass(frozen=True)
class Level:
    """The pies at one depth and their children, grouped by pie (segments)."""

    parents: np.ndarray
    children: np.ndarray
    targets: np.ndarray
    seg: np.ndarray  # index into `parents` of each child
    kids_of: list[np.ndarray]  # the same, per pie
    targets_of: list[list[float]]
    sizes: np.ndarray  # children per pie


@dataclass(frozen=True)
class Rules:
    """One allocation rule in its two forms (see backtest.engine.allocation)."""

    pie: PieRule
    segments: SegmentRule
