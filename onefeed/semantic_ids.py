"""Semantic IDs: residual or balanced hierarchical k-means codes, and their prefix trie.

Two ways to give every item a unique code tuple:

* :func:`residual_quantise` — residual k-means (one codebook per level shared by all
  prefixes) plus a collision-breaking last code;
* :func:`hierarchical_quantise` — balanced hierarchical k-means: every trie node splits
  its items into at most ``branching`` children of (almost) equal size, recursively, until
  the last level makes each item its own leaf. Sibling sets are bounded and the tree is
  balanced, so a beam of a given width covers comparable shares of the catalogue
  wherever it goes.

Nodes of one trie level are numbered in (parent, code) order, so the children of a node
are contiguous: a level's log-softmax over sibling sets is a segment operation
(:meth:`SemanticIds.sibling_starts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _kmeans(x: np.ndarray, k: int, iters: int, rng: np.random.Generator) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding.

    Args:
        x: Shape ``(n, d)`` points.
        k: Number of centroids (``k <= n``).
        iters: Lloyd iterations.
        rng: Random stream.

    Returns:
        Shape ``(k, d)`` centroids; empty clusters are re-seeded at the farthest points.
    """
    n = len(x)
    sq = np.einsum("nd,nd->n", x, x)
    centres = np.empty((k, x.shape[1]))
    centres[0] = x[rng.integers(n)]
    d2 = np.maximum(sq - 2 * x @ centres[0] + centres[0] @ centres[0], 0)
    for j in range(1, k):
        tot = d2.sum()
        i = rng.choice(n, p=d2 / tot) if tot > 0 else rng.integers(n)
        centres[j] = x[i]
        d2 = np.minimum(d2, np.maximum(sq - 2 * x @ x[i] + x[i] @ x[i], 0))
    for _ in range(iters):
        dist = sq[:, None] - 2 * x @ centres.T + np.einsum("kd,kd->k", centres, centres)[None]
        assign = dist.argmin(axis=1)
        counts = np.bincount(assign, minlength=k)
        sums = np.zeros_like(centres)
        np.add.at(sums, assign, x)
        nonempty = counts > 0
        centres[nonempty] = sums[nonempty] / counts[nonempty, None]
        empty = np.nonzero(~nonempty)[0]
        if len(empty):
            far = np.argsort(-dist[np.arange(n), assign])[: len(empty)]
            centres[empty[: len(far)]] = x[far]
    return centres


def balanced_assign(dist: np.ndarray, capacity: int, rounds: int = 30) -> np.ndarray:
    """Assign points to centres so that no centre gets more than ``capacity`` points.

    Prices on crowded centres are raised until the plain nearest-centre assignment of
    ``dist + price`` respects the capacities (an auction-style relaxation); points that
    still overflow are then moved, cheapest first, to the nearest centre with room.

    Args:
        dist: Shape ``(n, k)`` squared distances.
        capacity: Largest cluster size (``k * capacity >= n``).
        rounds: Price-raising rounds.

    Returns:
        Shape ``(n,)`` int64 centre of every point.
    """
    n, k = dist.shape
    if k * capacity < n:
        raise ValueError("capacity too small for the points")
    scale = float(np.ptp(dist)) or 1.0
    price = np.zeros(k)
    assign = dist.argmin(axis=1)
    for _ in range(rounds):
        size = np.bincount(assign, minlength=k)
        over = size > capacity
        if not over.any():
            return assign
        price += over * (size - capacity) / capacity * 0.05 * scale
        assign = (dist + price).argmin(axis=1)
    size = np.bincount(assign, minlength=k)
    cost = dist + price
    for c in np.nonzero(size > capacity)[0]:
        members = np.nonzero(assign == c)[0]
        # keep the members closest to c; move the others to their best centre with room
        keep = members[np.argsort(cost[members, c], kind="stable")[:capacity]]
        for p in np.setdiff1d(members, keep):
            room = np.nonzero(size < capacity)[0]
            best = room[np.argmin(cost[p, room])]
            size[c] -= 1
            size[best] += 1
            assign[p] = best
    return assign


def _balanced_kmeans(x: np.ndarray, k: int, iters: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding and Lloyd steps with capacity-constrained assignments.

    Returns:
        Shape ``(n,)`` cluster of every point, clusters of at most ``ceil(n / k)`` points.
    """
    n = len(x)
    k = max(1, min(k, n))
    cap = -(-n // k)
    centres = _kmeans(x, k, 0, rng)
    sq = np.einsum("nd,nd->n", x, x)
    assign = np.zeros(n, dtype=np.int64)
    for _ in range(max(iters, 1)):
        dist = sq[:, None] - 2 * x @ centres.T + np.einsum("kd,kd->k", centres, centres)[None]
        assign = balanced_assign(dist, cap)
        sums = np.zeros_like(centres)
        np.add.at(sums, assign, x)
        counts = np.bincount(assign, minlength=k)
        centres[counts > 0] = sums[counts > 0] / counts[counts > 0, None]
    return assign


def hierarchical_quantise(
    emb: np.ndarray, levels: int, branching: int, rng: np.random.Generator, iters: int = 10
) -> SemanticIds:
    """Balanced hierarchical k-means SIDs: ``levels`` splits, the last one into singletons.

    Level ``l < levels - 1`` splits every node's items into at most ``branching``
    balanced clusters (k-means on the items' embeddings); the last level numbers the
    items of each node (in embedding order of their first principal direction), so every
    item gets a unique ``levels``-long code and no collision code is needed.

    Args:
        emb: Shape ``(n_items, d)`` item embeddings.
        levels: Code length (``>= 1``); ``branching ** (levels - 1)`` leaves' groups.
        branching: Largest number of children of a node above the last level.
        rng: Random stream for k-means seeding.
        iters: Lloyd iterations per split.

    Returns:
        :class:`SemanticIds` with ``levels`` codes per item (``collision_rate`` 0).
    """
    n = len(emb)
    x = emb.astype(np.float64)
    codes = np.zeros((n, levels), dtype=np.int64)
    groups = [np.arange(n)]
    util = []
    for lvl in range(levels - 1):
        nxt, used = [], 0
        for g in groups:
            k = min(branching, len(g))
            a = _balanced_kmeans(x[g], k, iters, rng) if k > 1 else np.zeros(len(g), np.int64)
            codes[g, lvl] = a
            parts = [g[a == c] for c in range(k)]
            nxt += [p for p in parts if len(p)]
            used += len(np.unique(a)) / max(k, 1)
        util.append(used / max(len(groups), 1))
        groups = nxt
    for g in groups:
        if len(g) > 1:
            centred = x[g] - x[g].mean(axis=0)
            _, _, vt = np.linalg.svd(centred, full_matrices=False)
            order = np.argsort(centred @ vt[0], kind="stable")
        else:
            order = np.arange(len(g))
        codes[g[order], levels - 1] = np.arange(len(g))
    sizes = [max(1, min(branching, n))] * (levels - 1) + [int(codes[:, -1].max()) + 1 if n else 1]
    children, leaf = build_trie(codes, sizes)
    return SemanticIds(codes, sizes, children, leaf, util, 0.0)


@dataclass
class SemanticIds:
    """Unique semantic IDs of a catalogue and the trie used for constrained decoding.

    Attributes:
        codes: Shape ``(n_items, n_levels)`` int64; the last column breaks collisions.
        level_sizes: Codebook size of every level (the last is the collision-code range).
        children: Per level ``l``, shape ``(n_prefixes_{l}, level_sizes[l])`` int64: the
            trie node reached from prefix node ``p`` by code ``c``, or ``-1`` (invalid).
            Level 0 has one root prefix.
        leaf_item: Shape ``(n_leaves,)`` int64 item of every full-length trie node.
        utilisation: Fraction of codebook entries used, per quantiser level.
        collision_rate: Fraction of items whose quantised code tuple is shared.
    """

    codes: np.ndarray
    level_sizes: list[int]
    children: list[np.ndarray]
    leaf_item: np.ndarray
    utilisation: list[float]
    collision_rate: float
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_levels(self) -> int:
        """SID length including the collision code."""
        return self.codes.shape[1]

    @property
    def n_nodes(self) -> list[int]:
        """Number of trie nodes at every depth (the last depth has one node per item)."""
        return [int(t.max()) + 1 if t.size else 0 for t in self.children]

    @property
    def item_nodes(self) -> np.ndarray:
        """Shape ``(n_items, n_levels)``: the trie node of every item at every depth."""
        if "nodes" not in self._cache:
            node = np.zeros(len(self.codes), dtype=np.int64)
            out = np.empty(self.codes.shape, dtype=np.int64)
            for lvl in range(self.n_levels):
                node = self.children[lvl][node, self.codes[:, lvl]]
                out[:, lvl] = node
            self._cache["nodes"] = out
        return self._cache["nodes"]

    def parents(self, level: int) -> np.ndarray:
        """Shape ``(n_nodes[level],)``: the parent node (at ``level - 1``) of every node."""
        key = ("parents", level)
        if key not in self._cache:
            table = self.children[level]
            par = np.zeros(self.n_nodes[level], dtype=np.int64)
            rows, cols = np.nonzero(table >= 0)
            par[table[rows, cols]] = rows
            self._cache[key] = par
        return self._cache[key]

    def sibling_starts(self, level: int) -> np.ndarray:
        """First node of every sibling set at ``level`` (nodes are grouped by parent)."""
        key = ("starts", level)
        if key not in self._cache:
            par = self.parents(level)
            self._cache[key] = np.concatenate([[0], np.nonzero(np.diff(par))[0] + 1])
        return self._cache[key]

    def is_valid(self, sids: np.ndarray) -> np.ndarray:
        """Whether each code tuple (shape ``(m, n_levels)``) is a real item's SID."""
        return self.lookup(sids) >= 0

    def lookup(self, sids: np.ndarray) -> np.ndarray:
        """Item of each code tuple (shape ``(m, n_levels)``), ``-1`` when invalid."""
        sids = np.atleast_2d(np.asarray(sids, dtype=np.int64))
        node = np.zeros(len(sids), dtype=np.int64)
        for lvl in range(self.n_levels):
            c = sids[:, lvl]
            ok = (node >= 0) & (c >= 0) & (c < self.level_sizes[lvl])
            nxt = np.full(len(sids), -1, dtype=np.int64)
            nxt[ok] = self.children[lvl][node[ok], c[ok]]
            node = nxt
        out = np.full(len(sids), -1, dtype=np.int64)
        out[node >= 0] = self.leaf_item[node[node >= 0]]
        return out


def build_trie(codes: np.ndarray, level_sizes: list[int]) -> tuple[list[np.ndarray], np.ndarray]:
    """Dense per-level child tables of the prefix trie over unique code tuples.

    Args:
        codes: Shape ``(n_items, n_levels)`` unique code tuples.
        level_sizes: Code range per level.

    Returns:
        ``(children, leaf_item)`` as described in :class:`SemanticIds`.
    """
    n, n_levels = codes.shape
    parent = np.zeros(n, dtype=np.int64)
    n_parents = 1
    children = []
    for lvl in range(n_levels):
        key = parent * level_sizes[lvl] + codes[:, lvl]
        uniq, node = np.unique(key, return_inverse=True)
        table = np.full((n_parents, level_sizes[lvl]), -1, dtype=np.int64)
        table[uniq // level_sizes[lvl], uniq % level_sizes[lvl]] = np.arange(len(uniq))
        children.append(table)
        parent, n_parents = node.ravel(), len(uniq)
    leaf_item = np.full(n_parents, -1, dtype=np.int64)
    leaf_item[parent] = np.arange(n)
    return children, leaf_item


def residual_quantise(
    emb: np.ndarray, levels: int, codebook_size: int, rng: np.random.Generator, iters: int = 20
) -> SemanticIds:
    """Residual k-means semantic IDs with a collision-breaking last code.

    Args:
        emb: Shape ``(n_items, d)`` item embeddings.
        levels: Quantiser levels.
        codebook_size: Centroids per level (capped at ``n_items``).
        rng: Random stream for k-means seeding.
        iters: Lloyd iterations per level.

    Returns:
        :class:`SemanticIds` with ``levels + 1`` codes per item.
    """
    n = len(emb)
    k = max(1, min(codebook_size, n))
    resid = emb.astype(np.float64).copy()
    codes = np.zeros((n, levels + 1), dtype=np.int64)
    util = []
    for lvl in range(levels):
        centres = _kmeans(resid, k, iters, rng)
        dist = -2 * resid @ centres.T + np.einsum("kd,kd->k", centres, centres)[None]
        a = dist.argmin(axis=1)
        codes[:, lvl] = a
        resid -= centres[a]
        util.append(len(np.unique(a)) / k)
    _, group, counts = np.unique(codes[:, :levels], axis=0, return_inverse=True, return_counts=True)
    group = group.ravel()
    order = np.argsort(group, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - starts[group[order]]
    codes[:, levels] = rank
    collision = float((counts[group] > 1).mean()) if n else 0.0
    sizes = [k] * levels + [int(counts.max()) if n else 1]
    children, leaf = build_trie(codes, sizes)
    return SemanticIds(codes, sizes, children, leaf, util, collision)
