"""Softmax losses with hand-written gradients (weighted, with unlikelihood negatives)."""

from __future__ import annotations

import numpy as np


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Log-softmax over the last axis (``-inf`` entries stay ``-inf``)."""
    m = np.max(x, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    z = x - m
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))


def sequence_loss(
    level_logits: list[np.ndarray],
    targets: np.ndarray,
    weights: np.ndarray,
    negative: np.ndarray | None = None,
    masks: list[np.ndarray | None] | None = None,
) -> tuple[float, list[np.ndarray]]:
    """Weighted loss of a code sequence under per-level softmaxes.

    A positive example costs ``w * -log P``, a negative one ``w * -log(1 - P)``
    (unlikelihood), where ``P = prod_l p_l(targets[:, l])``. With one level this is plain
    (weighted) cross-entropy over items.

    Args:
        level_logits: Per level, shape ``(b, k_l)`` logits.
        targets: Shape ``(b, n_levels)`` int target codes (``-1``: level ignored, used for
            variable-length token sequences).
        weights: Shape ``(b,)`` example weights (already normalised by the caller).
        negative: Shape ``(b,)`` bool, True for unlikelihood examples.
        masks: Optional per-level ``(b, k_l)`` bool masks of allowed classes.

    Returns:
        ``(loss, dlogits)`` with ``dlogits[l]`` of shape ``(b, k_l)``.
    """
    b = targets.shape[0]
    rows = np.arange(b)
    neg = np.zeros(b, dtype=bool) if negative is None else negative
    probs, logp_tot = [], np.zeros(b)
    for lvl, x in enumerate(level_logits):
        if masks is not None and masks[lvl] is not None:
            x = np.where(masks[lvl], x, -np.inf)
        m = np.max(x, axis=-1, keepdims=True)
        z = x - m
        p = np.exp(z)
        tot = p.sum(-1, keepdims=True)
        p /= tot
        tgt = targets[:, lvl]
        on = tgt >= 0
        lp_t = z[rows, np.clip(tgt, 0, None)].astype(np.float64) - np.log(tot[:, 0])
        logp_tot += np.where(on, lp_t, 0.0)
        probs.append(p)
    p_tot = np.minimum(np.exp(logp_tot), 1.0 - 1e-6)
    loss_each = np.where(neg, -np.log1p(-p_tot), -logp_tot)
    loss = float(np.sum(weights * loss_each))
    # d(-log P)/dz = p - onehot ; d(-log(1-P))/dz = P/(1-P) (onehot - p)
    coef = np.where(neg, -p_tot / (1.0 - p_tot), 1.0) * weights
    grads = []
    for lvl, d in enumerate(probs):
        tgt = targets[:, lvl]
        on = tgt >= 0
        d[rows[on], tgt[on]] -= 1.0
        d *= (coef * on).astype(d.dtype)[:, None]
        grads.append(d)
    return loss, grads
