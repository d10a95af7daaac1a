"""The feed SID generator: autoregressive over SID levels, with constrained beam search.

Level ``l`` reads the user state and the codes already decoded:
``hid_l = tanh(u W_l + bh_l + sum_{j<l} P_{l,j}[c_j])``, ``logits_l = hid_l O_l + bo_l``,
so ``P(sid | u) = prod_l softmax(logits_l)[c_l]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from onefeed.encoder import scatter_rows
from onefeed.losses import log_softmax
from onefeed.semantic_ids import SemanticIds

Params = dict[str, np.ndarray]


def init_sid_head(
    params: Params, rng: np.random.Generator, level_sizes: list[int], dim: int, hidden: int
) -> None:
    """Add the SID head's parameters (prefix ``sid.``) to ``params``."""
    for lvl, k in enumerate(level_sizes):
        params[f"sid.W{lvl}"] = (rng.standard_normal((dim, hidden)) / np.sqrt(dim)).astype(
            np.float32
        )
        params[f"sid.bh{lvl}"] = np.zeros(hidden, dtype=np.float32)
        for j in range(lvl):
            params[f"sid.P{lvl}_{j}"] = (
                0.1 * rng.standard_normal((level_sizes[j], hidden))
            ).astype(np.float32)
        params[f"sid.O{lvl}"] = (0.1 * rng.standard_normal((hidden, k))).astype(np.float32)
        params[f"sid.bo{lvl}"] = np.zeros(k, dtype=np.float32)


def _n_levels(params: Params) -> int:
    return sum(1 for k in params if k.startswith("sid.O"))


def sid_forward(
    params: Params, u: np.ndarray, codes: np.ndarray
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Teacher-forced level logits.

    Args:
        params: Model parameters.
        u: Shape ``(b, dim)`` user states.
        codes: Shape ``(b, n_levels)`` target SIDs.

    Returns:
        ``(logits, cache)``; ``logits[l]`` has shape ``(b, k_l)``.
    """
    logits, hids = [], []
    for lvl in range(_n_levels(params)):
        pre = u @ params[f"sid.W{lvl}"] + params[f"sid.bh{lvl}"]
        for j in range(lvl):
            pre = pre + params[f"sid.P{lvl}_{j}"][codes[:, j]]
        hid = np.tanh(pre)
        hids.append(hid)
        logits.append(hid @ params[f"sid.O{lvl}"] + params[f"sid.bo{lvl}"])
    return logits, {"u": u, "codes": codes, "hids": hids}


def sid_backward(
    params: Params, cache: dict[str, Any], dlogits: list[np.ndarray]
) -> tuple[Params, np.ndarray]:
    """Backward of :func:`sid_forward`: ``(grads, du)``."""
    u, codes = cache["u"], cache["codes"]
    g: Params = {}
    du = np.zeros_like(u)
    for lvl, (hid, dl) in enumerate(zip(cache["hids"], dlogits, strict=True)):
        g[f"sid.O{lvl}"] = hid.T @ dl
        g[f"sid.bo{lvl}"] = dl.sum(0)
        dpre = (dl @ params[f"sid.O{lvl}"].T) * (1.0 - hid * hid)
        g[f"sid.W{lvl}"] = u.T @ dpre
        g[f"sid.bh{lvl}"] = dpre.sum(0)
        du += dpre @ params[f"sid.W{lvl}"].T
        for j in range(lvl):
            name = f"sid.P{lvl}_{j}"
            g[name] = scatter_rows(codes[:, j], dpre, params[name].shape[0])
    return g, du


def beam_search(
    params: Params,
    u: np.ndarray,
    sids: SemanticIds,
    beam: int,
    exclude: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Constrained beam search over the SID trie: only real items come out.

    Args:
        params: Model parameters.
        u: Shape ``(b, dim)`` user states.
        sids: Semantic IDs and trie of the catalogue.
        beam: Beam width (also the number of items returned).
        exclude: Optional per-row item ids to exclude (e.g. the user's history).

    Returns:
        ``(items, logp)`` of shape ``(b, beam)``, best first: item ids (``-1`` where fewer
        valid items exist) and their SID log-probabilities (``-inf`` for padding).
    """
    b = len(u)
    full = _exhausted_nodes(sids, exclude, b) if exclude is not None else None
    nodes = np.zeros((b, 1), dtype=np.int64)
    scores = np.zeros((b, 1))
    prefix = np.zeros((b, 1, 0), dtype=np.int64)
    n_lv = sids.n_levels
    rows = np.arange(b)[:, None]
    for lvl in range(n_lv):
        pre = (u @ params[f"sid.W{lvl}"] + params[f"sid.bh{lvl}"])[:, None, :]
        for j in range(lvl):
            pre = pre + params[f"sid.P{lvl}_{j}"][prefix[:, :, j]]
        logits = np.tanh(pre) @ params[f"sid.O{lvl}"] + params[f"sid.bo{lvl}"]
        logp = log_softmax(logits.astype(np.float64))
        table = sids.children[lvl]
        child = np.where(nodes[..., None] >= 0, table[np.clip(nodes, 0, None)], -1)
        total = np.where(child >= 0, scores[..., None] + logp, -np.inf)
        if full is not None:
            total = np.where(full[lvl][rows[..., None], np.clip(child, 0, None)], -np.inf, total)
        k = total.shape[2]
        flat = total.reshape(b, -1)
        width = min(beam, flat.shape[1])
        top = np.argpartition(-flat, width - 1, axis=1)[:, :width]
        top = top[rows, np.argsort(-flat[rows, top], axis=1, kind="stable")]
        scores = flat[rows, top]
        src, code = top // k, top % k
        nodes = np.where(np.isfinite(scores), child.reshape(b, -1)[rows, top], -1)
        prefix = np.concatenate([prefix[rows, src], code[..., None]], axis=2)
    items = np.where(nodes >= 0, sids.leaf_item[np.clip(nodes, 0, None)], -1)
    return items, np.where(items >= 0, scores, -np.inf)


def item_nodes(sids: SemanticIds) -> np.ndarray:
    """Trie node of every item at every depth, shape ``(n_items, n_levels)``."""
    node = np.zeros(len(sids.codes), dtype=np.int64)
    out = np.empty(sids.codes.shape, dtype=np.int64)
    for lvl in range(sids.n_levels):
        node = sids.children[lvl][node, sids.codes[:, lvl]]
        out[:, lvl] = node
    return out


def _exhausted_nodes(sids: SemanticIds, exclude: list[np.ndarray], b: int) -> list[np.ndarray]:
    """Per level, shape ``(b, n_nodes_l)`` bool: every item under the node is excluded.

    Pruning such prefixes during the search keeps the beam on items it may return.
    """
    n_items = len(sids.codes)
    nodes = item_nodes(sids)
    rows, cols = [], []
    for r, ex in enumerate(exclude):
        ex = np.unique(np.asarray(ex, dtype=np.int64))
        ex = ex[(ex >= 0) & (ex < n_items)]
        rows.append(np.full(len(ex), r))
        cols.append(ex)
    row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    item = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    out = []
    for lvl in range(sids.n_levels):
        n_nodes = sids.children[lvl].max() + 1
        size = np.bincount(nodes[:, lvl], minlength=n_nodes)
        cnt = np.zeros((b, n_nodes), dtype=np.int32)
        np.add.at(cnt, (row, nodes[item, lvl]), 1)
        out.append(cnt >= size[None, :])
    return out
