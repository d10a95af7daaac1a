"""The feed SID generator: autoregressive over SID levels, a softmax over each trie node's children.

Level ``l`` reads the user state through its own layer, ``s_l = tanh(u W_l + bh_l)``, and
scores the children of the prefix decoded so far by their own embeddings:
``P(c_l | u, c_<l) = softmax_{x in children(prefix)} (s_l . N_l[x] + b_l[x])``, so
``P(sid | u) = prod_l P(c_l | u, c_<l)``. Every trie node has its own vector, so the
distribution over a level depends on the prefix; the decoder only ever puts mass on real
SIDs (real items).

Because ``s_l`` does not depend on the prefix, the log-probability of *every* item is
exact and cheap: one ``(b, n_nodes_l)`` product per level, a log-softmax within each
sibling set (contiguous node ranges) and a sum along each item's path
(:func:`sid_log_probs`). Beam search (:func:`beam_search`) keeps the ``beam`` best
prefixes per level from the same tables.
"""

from __future__ import annotations

import numpy as np

from onefeed.encoder import scatter_rows
from onefeed.losses import sequence_loss
from onefeed.semantic_ids import SemanticIds

Params = dict[str, np.ndarray]


def init_sid_head(
    params: Params, rng: np.random.Generator, sids: SemanticIds, dim: int, hidden: int
) -> None:
    """Add the SID head's parameters (prefix ``sid.``) to ``params``."""
    for lvl, n_nodes in enumerate(sids.n_nodes):
        params[f"sid.W{lvl}"] = (rng.standard_normal((dim, hidden)) / np.sqrt(dim)).astype(
            np.float32
        )
        params[f"sid.bh{lvl}"] = np.zeros(hidden, dtype=np.float32)
        params[f"sid.N{lvl}"] = (0.1 * rng.standard_normal((n_nodes, hidden))).astype(np.float32)
        params[f"sid.b{lvl}"] = np.zeros(n_nodes, dtype=np.float32)


def _n_levels(params: Params) -> int:
    return sum(1 for k in params if k.startswith("sid.N"))


def _level_state(params: Params, u: np.ndarray, lvl: int) -> np.ndarray:
    return np.tanh(u @ params[f"sid.W{lvl}"] + params[f"sid.bh{lvl}"])


def sid_loss(
    params: Params,
    sids: SemanticIds,
    u: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
    negative: np.ndarray,
) -> tuple[float, Params, np.ndarray]:
    """Weighted SID loss (``-log P`` or unlikelihood ``-log(1 - P)``) and its gradients.

    Args:
        params: Model parameters.
        sids: The catalogue's semantic IDs.
        u: Shape ``(b, dim)`` user states.
        targets: Shape ``(b,)`` target items.
        weights: Shape ``(b,)`` normalised example weights.
        negative: Shape ``(b,)`` bool, unlikelihood examples.

    Returns:
        ``(loss, grads, du)``.
    """
    nodes = sids.item_nodes[targets]
    states, sib_all, logits, masks, pos = [], [], [], [], []
    for lvl in range(sids.n_levels):
        s = _level_state(params, u, lvl)
        parent = np.zeros(len(u), np.int64) if lvl == 0 else nodes[:, lvl - 1]
        sib = sids.children[lvl][parent]  # (b, k_l) child node per code, -1 where absent
        ok = sib >= 0
        sc = np.clip(sib, 0, None)
        z = np.einsum("bh,bkh->bk", s, params[f"sid.N{lvl}"][sc]) + params[f"sid.b{lvl}"][sc]
        states.append(s)
        sib_all.append(sc)
        logits.append(z)
        masks.append(ok)
        pos.append(sids.codes[targets, lvl])  # the target's code = its column among siblings
    loss, dlogits = sequence_loss(logits, np.stack(pos, axis=1), weights, negative, masks)
    grads: Params = {}
    du = np.zeros_like(u)
    for lvl in range(sids.n_levels):
        dz = np.where(masks[lvl], dlogits[lvl], 0.0).astype(u.dtype)
        s, sc = states[lvl], sib_all[lvl]
        N = params[f"sid.N{lvl}"]
        ds = np.einsum("bk,bkh->bh", dz, N[sc])
        r, c = np.nonzero(masks[lvl])
        grads[f"sid.N{lvl}"] = scatter_rows(sc[r, c], dz[r, c, None] * s[r], N.shape[0])
        grads[f"sid.b{lvl}"] = np.bincount(sc[r, c], weights=dz[r, c], minlength=N.shape[0]).astype(
            N.dtype
        )
        dpre = ds * (1.0 - s * s)
        grads[f"sid.W{lvl}"] = u.T @ dpre
        grads[f"sid.bh{lvl}"] = dpre.sum(0)
        du += dpre @ params[f"sid.W{lvl}"].T
    return loss, grads, du


def level_log_probs(params: Params, sids: SemanticIds, u: np.ndarray) -> list[np.ndarray]:
    """Per level, shape ``(b, n_nodes_l)``: ``log P(node | u, parent)`` of every node."""
    out = []
    for lvl in range(sids.n_levels):
        s = _level_state(params, u, lvl)
        z = (s @ params[f"sid.N{lvl}"].T + params[f"sid.b{lvl}"]).astype(np.float64)
        starts = sids.sibling_starts(lvl)
        counts = np.diff(np.append(starts, z.shape[1]))
        top = np.repeat(np.maximum.reduceat(z, starts, axis=1), counts, axis=1)
        e = np.exp(z - top)
        lse = np.repeat(np.log(np.add.reduceat(e, starts, axis=1)), counts, axis=1)
        out.append(z - top - lse)
    return out


def sid_log_probs(
    params: Params,
    sids: SemanticIds,
    u: np.ndarray,
    level_lp: list[np.ndarray] | None = None,
) -> np.ndarray:
    """Exact ``log P(sid(i) | u)`` of every item, shape ``(b, n_items)`` float64.

    Args:
        params: Model parameters.
        sids: Semantic IDs and trie.
        u: Shape ``(b, dim)`` user states.
        level_lp: Precomputed :func:`level_log_probs` of ``u`` (optional).
    """
    nodes = sids.item_nodes
    total = np.zeros((len(u), len(nodes)))
    lps = level_lp if level_lp is not None else level_log_probs(params, sids, u)
    for lvl, lp in enumerate(lps):
        total += lp[:, nodes[:, lvl]]
    return total


def beam_search(
    params: Params,
    u: np.ndarray,
    sids: SemanticIds,
    beam: int,
    exclude: list[np.ndarray] | None = None,
    level_lp: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Constrained beam search over the SID trie: only real items come out.

    Args:
        params: Model parameters.
        u: Shape ``(b, dim)`` user states.
        sids: Semantic IDs and trie of the catalogue.
        beam: Beam width (also the number of items returned).
        exclude: Optional per-row item ids to exclude (e.g. the user's history); prefixes
            whose items are all excluded are pruned during the search.
        level_lp: Precomputed :func:`level_log_probs` of ``u`` (optional).

    Returns:
        ``(items, logp)`` of shape ``(b, beam)``, best first: item ids (``-1`` where fewer
        valid items exist) and their SID log-probabilities (``-inf`` for padding).
    """
    b = len(u)
    lps = level_lp if level_lp is not None else level_log_probs(params, sids, u)
    full = _exhausted_nodes(sids, exclude, b) if exclude is not None else None
    nodes = np.zeros((b, 1), dtype=np.int64)
    scores = np.zeros((b, 1))
    rows = np.arange(b)[:, None]
    for lvl in range(sids.n_levels):
        table = sids.children[lvl]
        child = np.where(nodes[..., None] >= 0, table[np.clip(nodes, 0, None)], -1)
        cc = np.clip(child, 0, None)
        total = np.where(child >= 0, scores[..., None] + lps[lvl][rows[..., None], cc], -np.inf)
        if full is not None:
            total = np.where(full[lvl][rows[..., None], cc], -np.inf, total)
        flat = total.reshape(b, -1)
        width = min(beam, flat.shape[1])
        top = np.argpartition(-flat, width - 1, axis=1)[:, :width]
        top = top[rows, np.argsort(-flat[rows, top], axis=1, kind="stable")]
        scores = flat[rows, top]
        nodes = np.where(np.isfinite(scores), child.reshape(b, -1)[rows, top], -1)
    items = np.where(nodes >= 0, sids.leaf_item[np.clip(nodes, 0, None)], -1)
    items = np.pad(items, ((0, 0), (0, max(0, beam - items.shape[1]))), constant_values=-1)
    scores = np.pad(scores, ((0, 0), (0, max(0, beam - scores.shape[1]))), constant_values=-np.inf)
    return items, np.where(items >= 0, scores, -np.inf)


def _exhausted_nodes(sids: SemanticIds, exclude: list[np.ndarray], b: int) -> list[np.ndarray]:
    """Per level, shape ``(b, n_nodes_l)`` bool: every item under the node is excluded.

    Pruning such prefixes during the search keeps the beam on items it may return.
    """
    n_items = len(sids.codes)
    nodes = sids.item_nodes
    rows, cols = [], []
    for r, ex in enumerate(exclude):
        ex = np.unique(np.asarray(ex, dtype=np.int64))
        ex = ex[(ex >= 0) & (ex < n_items)]
        rows.append(np.full(len(ex), r))
        cols.append(ex)
    row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    item = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    out = []
    for lvl, n_nodes in enumerate(sids.n_nodes):
        size = np.bincount(nodes[:, lvl], minlength=n_nodes)
        cnt = np.zeros((b, n_nodes), dtype=np.int32)
        np.add.at(cnt, (row, nodes[item, lvl]), 1)
        out.append(cnt >= size[None, :])
    return out
