"""SID-Query alignment: a symmetric InfoNCE tying SID and text embeddings in one space.

An item's SID embedding is the sum of its code embeddings (the encoder's ``C_l`` tables),
projected, ``a = norm(sum_l C_l[c_l] Ps)``; a text (an item's title words, or a query that
preceded a click on the item) embeds as ``b = norm(mean_w Wemb[w] Pt)`` with the query
head's word table. The loss is ``(CE(a b^T / tau, diag) + CE(b a^T / tau, diag)) / 2``,
averaged over the batch of pairs.
"""

from __future__ import annotations

import numpy as np

from onefeed.encoder import scatter_rows
from onefeed.losses import log_softmax

Params = dict[str, np.ndarray]


def init_alignment(params: Params, rng: np.random.Generator, dim: int) -> None:
    """Add the projections (prefix ``aln.``) to ``params``."""
    params["aln.Ps"] = (np.eye(dim) + 0.01 * rng.standard_normal((dim, dim))).astype(np.float32)
    params["aln.Pt"] = (np.eye(dim) + 0.01 * rng.standard_normal((dim, dim))).astype(np.float32)


def _norm(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)
    return x / n, n


def _norm_back(y: np.ndarray, n: np.ndarray, dy: np.ndarray) -> np.ndarray:
    return (dy - y * (y * dy).sum(1, keepdims=True)) / n


def alignment_loss(
    params: Params, codes: np.ndarray, words: np.ndarray, tau: float = 0.1
) -> tuple[float, Params]:
    """InfoNCE over ``b`` (SID, text) pairs with in-batch negatives.

    Args:
        params: Model parameters.
        codes: Shape ``(b, n_levels)`` SIDs of the items.
        words: Shape ``(b, q)`` text word ids (``-1`` padded; rows need >= 1 word).
        tau: Temperature.

    Returns:
        ``(loss, grads)`` for ``enc.C*``, ``qry.Wemb``, ``aln.Ps``, ``aln.Pt``.
    """
    b = len(codes)
    s = sum(params[f"enc.C{lvl}"][codes[:, lvl]] for lvl in range(codes.shape[1]))
    valid = words >= 0
    cnt = np.maximum(valid.sum(1, keepdims=True), 1)
    t = (params["qry.Wemb"][np.clip(words, 0, None)] * valid[..., None]).sum(1) / cnt
    a_raw = s @ params["aln.Ps"]
    b_raw = t @ params["aln.Pt"]
    a, na = _norm(a_raw)
    bb, nb = _norm(b_raw)
    logits = (a @ bb.T / tau).astype(np.float64)
    eye = np.eye(b)
    lp_r = log_softmax(logits)
    lp_c = log_softmax(logits.T)
    loss = float(-(np.trace(lp_r) + np.trace(lp_c)) / (2 * b))
    dlog = ((np.exp(lp_r) - eye) + (np.exp(lp_c) - eye).T) / (2 * b)
    dlog = dlog.astype(np.float32) / tau
    da = dlog @ bb
    dbb = dlog.T @ a
    da_raw = _norm_back(a, na, da)
    db_raw = _norm_back(bb, nb, dbb)
    g: Params = {"aln.Ps": s.T @ da_raw, "aln.Pt": t.T @ db_raw}
    ds = da_raw @ params["aln.Ps"].T
    dt = db_raw @ params["aln.Pt"].T
    for lvl in range(codes.shape[1]):
        g[f"enc.C{lvl}"] = scatter_rows(codes[:, lvl], ds, params[f"enc.C{lvl}"].shape[0])
    per = np.broadcast_to((dt / cnt)[:, None, :], (*words.shape, dt.shape[1]))
    g["qry.Wemb"] = scatter_rows(words[valid], per[valid], params["qry.Wemb"].shape[0])
    return loss, g
