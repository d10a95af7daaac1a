"""The joint training objective of OneFeed: one forward/backward over a batch.

``L = rank_w * L_rank + sid_w * L_sid + query_w * L_query + align_w * L_align`` where
``L_rank`` is (weighted, unlikelihood for negatives) full-softmax item cross-entropy of
``u · v_i + bias_i`` (the dense next-item head; over every item, or a sampled softmax
over ``Batch.candidates``), ``L_sid`` the autoregressive SID loss
(:mod:`onefeed.sid_head`), ``L_query`` the query decoder loss and ``L_align`` the SID-text
InfoNCE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onefeed.alignment import alignment_loss
from onefeed.behaviour import PackedBatch
from onefeed.encoder import encode, encode_backward, item_vectors, item_vectors_backward
from onefeed.losses import sequence_loss
from onefeed.query_head import query_backward, query_forward, step_targets
from onefeed.semantic_ids import SemanticIds
from onefeed.sid_head import sid_loss

Params = dict[str, np.ndarray]


@dataclass
class Batch:
    """One training batch.

    Attributes:
        behaviour: Packed histories, ``(b, t)``.
        targets: Shape ``(b,)`` next items.
        weights: Shape ``(b,)`` item/SID example weights (normalised, e.g. ``1 / b``).
        negative: Shape ``(b,)`` bool, unlikelihood examples.
        queries: Shape ``(b, q)`` query targets, ``-1`` padded (all ``-1``: no query loss).
        query_weights: Shape ``(b,)`` normalised query example weights.
        query_negative: Shape ``(b,)`` bool.
        align_codes: Shape ``(a, n_levels)`` SIDs of alignment pairs (``a`` may be 0).
        align_words: Shape ``(a, q)`` texts of alignment pairs.
        candidates: Sorted item ids the dense head's softmax runs over (sampled softmax:
            the batch's targets plus sampled items); ``None``: every item.
    """

    behaviour: PackedBatch
    targets: np.ndarray
    weights: np.ndarray
    negative: np.ndarray
    queries: np.ndarray
    query_weights: np.ndarray
    query_negative: np.ndarray
    align_codes: np.ndarray
    align_words: np.ndarray
    candidates: np.ndarray | None = None


@dataclass(frozen=True)
class LossWeights:
    """Weights of the four loss terms and training-time settings."""

    rank: float = 1.0
    sid: float = 1.0
    query: float = 0.2
    align: float = 0.1
    tau: float = 0.1
    dropout: float = 0.0
    query_rows: int = 0


def _add(into: Params, g: Params, scale: float = 1.0) -> None:
    for k, v in g.items():
        into[k] = into[k] + scale * v if k in into else scale * v


def loss_and_grads(
    params: Params,
    sids: SemanticIds,
    batch: Batch,
    lw: LossWeights,
    rng: np.random.Generator | None = None,
) -> tuple[float, dict[str, float], Params]:
    """Joint loss and gradients of every parameter.

    Args:
        params: Model parameters.
        sids: The catalogue's semantic IDs (codes and trie).
        batch: The batch.
        lw: Loss weights (and dropout rate).
        rng: Dropout stream.

    Returns:
        ``(loss, parts, grads)``: total loss, per-term losses, gradients.
    """
    codes = sids.codes
    n_items = len(codes)
    v = item_vectors(params, codes)
    u, ecache = encode(params, v, batch.behaviour, lw.dropout, rng)
    grads: Params = {}
    parts: dict[str, float] = {}
    du = np.zeros_like(u)
    dv = np.zeros_like(v)
    if lw.rank:
        cand = batch.candidates
        vc = v if cand is None else v[cand]
        bias = params["rank.bias"] if cand is None else params["rank.bias"][cand]
        tgt = batch.targets if cand is None else np.searchsorted(cand, batch.targets)
        logits = u @ vc.T + bias
        lr_, (dl,) = sequence_loss([logits], tgt[:, None], batch.weights, batch.negative)
        parts["rank"] = lr_
        dl = dl * lw.rank
        du += dl @ vc
        if cand is None:
            dv += dl.T @ u
            grads["rank.bias"] = dl.sum(0)
        else:
            dv[cand] += dl.T @ u
            grads["rank.bias"] = np.zeros_like(params["rank.bias"])
            grads["rank.bias"][cand] = dl.sum(0)
    if lw.sid:
        ls, g, d = sid_loss(params, sids, u, batch.targets, batch.weights, batch.negative)
        parts["sid"] = ls
        _add(grads, g, lw.sid)
        du += lw.sid * d
    if lw.query and (batch.queries >= 0).any():
        nq = lw.query_rows or len(u)
        queries = batch.queries[:nq]
        ql, qm, qcache = query_forward(params, u[:nq], queries)
        tgt = step_targets(queries, params["qry.O"].shape[1] - 1)
        has = (queries >= 0).any(1)
        qw = batch.query_weights[:nq] * has * (len(u) / len(queries))
        lq, dql = sequence_loss(
            ql, np.where(has[:, None], tgt, -1), qw, batch.query_negative[:nq], qm
        )
        parts["query"] = lq
        g, d = query_backward(params, qcache, [x * lw.query for x in dql])
        _add(grads, g)
        du[:nq] += d
    g, dv_enc = encode_backward(params, ecache, du, n_items)
    _add(grads, g)
    _add(grads, item_vectors_backward(dv + dv_enc, codes, params))
    if lw.align and len(batch.align_codes) > 1:
        la, g = alignment_loss(params, batch.align_codes, batch.align_words, lw.tau)
        parts["align"] = la
        _add(grads, g, lw.align)
    total = (
        lw.rank * parts.get("rank", 0.0)
        + lw.sid * parts.get("sid", 0.0)
        + lw.query * parts.get("query", 0.0)
        + lw.align * parts.get("align", 0.0)
    )
    grads = {k: np.asarray(g, dtype=params[k].dtype) for k, g in grads.items()}
    return total, parts, grads
