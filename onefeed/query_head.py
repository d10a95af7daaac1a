"""The intent query generator: short queries (1-4 distinct words) from the user state.

Step ``j`` reads the state and the words decoded so far,
``hid_j = tanh((u + sum_{i<j} Wemb[w_i]) W + bh)``, ``logits_j = hid_j O + bo`` over the
vocabulary plus an end token (id ``v``). Words already used are masked (no repeats) and the
end token is masked at step 0 (at least one word).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from onefeed.encoder import scatter_rows
from onefeed.losses import log_softmax

Params = dict[str, np.ndarray]


def init_query_head(
    params: Params, rng: np.random.Generator, vocab_size: int, dim: int, hidden: int
) -> None:
    """Add the query head's parameters (prefix ``qry.``) to ``params``."""
    params["qry.Wemb"] = (0.1 * rng.standard_normal((max(vocab_size, 1), dim))).astype(np.float32)
    params["qry.W"] = (rng.standard_normal((dim, hidden)) / np.sqrt(dim)).astype(np.float32)
    params["qry.bh"] = np.zeros(hidden, dtype=np.float32)
    params["qry.O"] = (0.1 * rng.standard_normal((hidden, vocab_size + 1))).astype(np.float32)
    params["qry.bo"] = np.zeros(vocab_size + 1, dtype=np.float32)


def step_targets(queries: np.ndarray, vocab_size: int) -> np.ndarray:
    """Per-step targets: the words, then the end token, then ``-1`` (ignored).

    Args:
        queries: Shape ``(b, q)`` word ids, ``-1`` padded at the end.
        vocab_size: ``v``; the end token id.

    Returns:
        Shape ``(b, q)`` int64 targets.
    """
    t = queries.copy()
    n = (queries >= 0).sum(1)
    short = n < queries.shape[1]
    t[np.nonzero(short)[0], n[short]] = vocab_size
    return t


def _step_mask(prev: np.ndarray, step: int, vocab_size: int) -> np.ndarray:
    """Allowed classes at ``step`` given previous words ``prev`` (shape ``(b, step)``)."""
    b = prev.shape[0]
    m = np.ones((b, vocab_size + 1), dtype=bool)
    if step == 0:
        m[:, vocab_size] = False
    for j in range(prev.shape[1]):
        ok = prev[:, j] >= 0
        m[np.nonzero(ok)[0], prev[ok, j]] = False
    return m


def query_forward(
    params: Params, u: np.ndarray, queries: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray], dict[str, Any]]:
    """Teacher-forced step logits.

    Args:
        params: Model parameters.
        u: Shape ``(b, dim)`` user states.
        queries: Shape ``(b, q)`` target word ids, ``-1`` padded.

    Returns:
        ``(logits, masks, cache)``; per step ``(b, v + 1)`` logits and allowed masks.
    """
    v = params["qry.O"].shape[1] - 1
    ctx = u.copy()
    logits, masks, ctxs, hids = [], [], [], []
    for j in range(queries.shape[1]):
        if j > 0:
            w = queries[:, j - 1]
            ctx = ctx + np.where((w >= 0)[:, None], params["qry.Wemb"][np.clip(w, 0, None)], 0)
        hid = np.tanh(ctx @ params["qry.W"] + params["qry.bh"])
        ctxs.append(ctx)
        hids.append(hid)
        logits.append(hid @ params["qry.O"] + params["qry.bo"])
        masks.append(_step_mask(queries[:, :j], j, v))
    return logits, masks, {"ctxs": ctxs, "hids": hids, "queries": queries}


def query_backward(
    params: Params, cache: dict[str, Any], dlogits: list[np.ndarray]
) -> tuple[Params, np.ndarray]:
    """Backward of :func:`query_forward`: ``(grads, du)``."""
    q = cache["queries"]
    g: Params = {"qry.O": 0, "qry.bo": 0, "qry.W": 0, "qry.bh": 0}  # type: ignore[dict-item]
    dctx_acc = np.zeros_like(cache["ctxs"][0])
    dwemb = np.zeros_like(params["qry.Wemb"])
    # iterate backwards so that dctx_acc holds sum over steps >= j of dctx
    for j in range(len(dlogits) - 1, -1, -1):
        hid, ctx, dl = cache["hids"][j], cache["ctxs"][j], dlogits[j]
        g["qry.O"] = g["qry.O"] + hid.T @ dl
        g["qry.bo"] = g["qry.bo"] + dl.sum(0)
        dpre = (dl @ params["qry.O"].T) * (1.0 - hid * hid)
        g["qry.W"] = g["qry.W"] + ctx.T @ dpre
        g["qry.bh"] = g["qry.bh"] + dpre.sum(0)
        dctx_acc = dctx_acc + dpre @ params["qry.W"].T
        if j > 0:
            w = q[:, j - 1]
            ok = w >= 0
            dwemb += scatter_rows(w[ok], dctx_acc[ok], dwemb.shape[0])
    g["qry.Wemb"] = dwemb
    return g, dctx_acc


def generate_queries(
    params: Params,
    u: np.ndarray,
    max_words: int = 4,
    n_queries: int = 1,
    allowed: np.ndarray | None = None,
) -> np.ndarray:
    """Decode queries: the ``n_queries`` best first words, each continued greedily.

    Args:
        params: Model parameters.
        u: Shape ``(b, dim)`` user states.
        max_words: Maximum query length (1-4 in the paper's setting).
        n_queries: Distinct queries per user (they differ in their first word).
        allowed: Optional shape ``(v,)`` bool mask of words that may be generated.

    Returns:
        Shape ``(b, n_queries, max_words)`` int64 word ids, ``-1`` padded; every query has
        at least one word and no repeated word.
    """
    v = params["qry.O"].shape[1] - 1
    b = len(u)
    out = np.full((b, n_queries, max_words), -1, dtype=np.int64)
    ctx = np.repeat(u, n_queries, axis=0)
    done = np.zeros(b * n_queries, dtype=bool)
    seqs = out.reshape(b * n_queries, max_words)
    for j in range(max_words):
        hid = np.tanh(ctx @ params["qry.W"] + params["qry.bh"])
        lp = log_softmax(hid @ params["qry.O"] + params["qry.bo"])
        mask = _step_mask(seqs[:, :j], j, v)
        if allowed is not None:
            mask[:, :v] &= allowed[None, :]
        lp = np.where(mask, lp, -np.inf)
        if j == 0:
            first = np.argsort(-lp[::n_queries], axis=1, kind="stable")[:, :n_queries]
            pick = first.reshape(-1)
        else:
            pick = lp.argmax(1)
        stop = done | (pick == v)
        seqs[~stop, j] = pick[~stop]
        done = stop
        ctx = ctx + np.where(done[:, None], 0, params["qry.Wemb"][np.clip(pick, 0, v - 1)])
    return seqs.reshape(b, n_queries, max_words)
