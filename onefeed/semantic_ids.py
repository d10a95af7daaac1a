"""Semantic IDs: a residual k-means quantiser, collision breaking and a prefix trie."""

from __future__ import annotations

from dataclasses import dataclass

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

    @property
    def n_levels(self) -> int:
        """SID length including the collision code."""
        return self.codes.shape[1]

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
