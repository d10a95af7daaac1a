"""The shared behaviour encoder: event embeddings pooled into one user state.

An item event embeds as ``E[item] + sum_l C_l[code_l(item)] + T[type]``; a query event as
the mean of its words' embeddings (the query head's input table ``qry.Wemb``) plus
``T[QUERY]``. Events are pooled by attention with a learned recency bias,
``alpha = softmax_t(p[recency_t] + q · e_t)``, and the state is
``z = (sum_t alpha_t e_t) W1 + e_last W2 + b`` followed by a residual ReLU layer,
``u = z + relu(z W3 + b3) W4``. Both heads read ``u``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from onefeed.behaviour import N_EVENT_TYPES, PackedBatch

Params = dict[str, np.ndarray]


def scatter_rows(index: np.ndarray, values: np.ndarray, n_rows: int) -> np.ndarray:
    """``out[index[i]] += values[i]`` as one sparse product.

    Args:
        index: Shape ``(m,)`` int row ids in ``[0, n_rows)``.
        values: Shape ``(m, d)``.
        n_rows: Output rows.

    Returns:
        Shape ``(n_rows, d)`` sums.
    """
    m = sp.csr_matrix(
        (np.ones(len(index), dtype=values.dtype), (index, np.arange(len(index)))),
        shape=(n_rows, len(index)),
    )
    return np.asarray(m @ values)


def init_encoder(
    params: Params,
    rng: np.random.Generator,
    n_items: int,
    level_sizes: list[int],
    dim: int,
    max_len: int,
) -> None:
    """Add the encoder's parameters (prefix ``enc.``) to ``params``."""
    s = 0.1
    params["enc.E"] = (s * rng.standard_normal((n_items, dim))).astype(np.float32)
    for lvl, k in enumerate(level_sizes):
        params[f"enc.C{lvl}"] = (s * rng.standard_normal((k, dim))).astype(np.float32)
    params["enc.T"] = (s * rng.standard_normal((N_EVENT_TYPES, dim))).astype(np.float32)
    params["enc.p"] = np.zeros(max_len, dtype=np.float32)
    params["enc.q"] = np.zeros(dim, dtype=np.float32)
    eye = np.eye(dim, dtype=np.float32)
    params["enc.W1"] = eye.copy()
    params["enc.W2"] = eye.copy()
    params["enc.b"] = np.zeros(dim, dtype=np.float32)
    params["enc.W3"] = (rng.standard_normal((dim, dim)) / np.sqrt(dim)).astype(np.float32)
    params["enc.b3"] = np.zeros(dim, dtype=np.float32)
    params["enc.W4"] = np.zeros((dim, dim), dtype=np.float32)


def item_vectors(params: Params, codes: np.ndarray) -> np.ndarray:
    """Item vectors ``E + sum_l C_l[codes[:, l]]``, shape ``(n_items, dim)``."""
    v = params["enc.E"].copy()
    for lvl in range(codes.shape[1]):
        v += params[f"enc.C{lvl}"][codes[:, lvl]]
    return v


def item_vectors_backward(dv: np.ndarray, codes: np.ndarray, params: Params) -> Params:
    """Gradients of ``E`` and every ``C_l`` from ``dv`` (shape ``(n_items, dim)``)."""
    grads = {"enc.E": dv}
    for lvl in range(codes.shape[1]):
        k = params[f"enc.C{lvl}"].shape[0]
        grads[f"enc.C{lvl}"] = scatter_rows(codes[:, lvl], dv, k)
    return grads


def encode(
    params: Params,
    v: np.ndarray,
    batch: PackedBatch,
    dropout: float = 0.0,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Forward pass of the encoder.

    Args:
        params: Model parameters.
        v: Shape ``(n_items, dim)`` item vectors from :func:`item_vectors`.
        batch: Packed behaviour, ``(b, t)`` arrays.
        dropout: Event-embedding dropout rate (training only).
        rng: Stream for dropout masks (required when ``dropout > 0``).

    Returns:
        ``(u, cache)``: user states of shape ``(b, dim)`` and the backward cache.
    """
    items, mask = batch.items, batch.mask
    t = items.shape[1]
    has_item = (items >= 0) & mask
    e = np.where(has_item[..., None], v[np.clip(items, 0, None)], 0.0).astype(v.dtype)
    e += params["enc.T"][batch.types] * mask[..., None]
    wvalid = (batch.words >= 0) & mask[..., None]
    wcount = wvalid.sum(-1)
    if wvalid.any():
        we = params["qry.Wemb"][np.clip(batch.words, 0, None)] * wvalid[..., None]
        e += we.sum(2) / np.maximum(wcount, 1)[..., None]
    dmask = None
    if dropout > 0 and rng is not None:
        dmask = (rng.random(e.shape) >= dropout).astype(e.dtype) / (1.0 - dropout)
        e = e * dmask
    rec = (
        params["enc.p"][::-1][-t:]
        if t <= len(params["enc.p"])
        else np.pad(params["enc.p"][::-1], (t - len(params["enc.p"]), 0))
    )
    s = rec[None, :] + e @ params["enc.q"]
    s = np.where(mask, s, -np.inf)
    smax = np.max(s, axis=1, keepdims=True)
    smax = np.where(np.isfinite(smax), smax, 0.0)
    a = np.where(mask, np.exp(s - smax), 0.0)
    alpha = (a / np.maximum(a.sum(1, keepdims=True), 1e-30)).astype(e.dtype)
    h = np.einsum("bt,btd->bd", alpha, e)
    el = e[:, -1]
    z = h @ params["enc.W1"] + el @ params["enc.W2"] + params["enc.b"]
    pre = z @ params["enc.W3"] + params["enc.b3"]
    f = np.maximum(pre, 0.0)
    u = z + f @ params["enc.W4"]
    cache = dict(
        batch=batch,
        e=e,
        alpha=alpha,
        h=h,
        el=el,
        z=z,
        pre=pre,
        f=f,
        dmask=dmask,
        has_item=has_item,
        wvalid=wvalid,
        wcount=wcount,
    )
    return u, cache


def encode_backward(
    params: Params, cache: dict[str, Any], du: np.ndarray, n_items: int
) -> tuple[Params, np.ndarray]:
    """Backward pass of :func:`encode`.

    Args:
        params: Model parameters.
        cache: Cache returned by :func:`encode`.
        du: Shape ``(b, dim)`` gradient of the loss w.r.t. ``u``.
        n_items: Number of items (rows of the item-vector gradient).

    Returns:
        ``(grads, dv)``: parameter gradients (``enc.*`` and ``qry.Wemb`` when queries
        occur) and the gradient w.r.t. the item vectors, shape ``(n_items, dim)``.
    """
    batch = cache["batch"]
    e, alpha, h, el, z, pre, f = (cache[k] for k in ("e", "alpha", "h", "el", "z", "pre", "f"))
    t = e.shape[1]
    g: Params = {}
    g["enc.W4"] = f.T @ du
    dpre = (du @ params["enc.W4"].T) * (pre > 0)
    g["enc.W3"] = z.T @ dpre
    g["enc.b3"] = dpre.sum(0)
    dz = du + dpre @ params["enc.W3"].T
    g["enc.W1"] = h.T @ dz
    g["enc.W2"] = el.T @ dz
    g["enc.b"] = dz.sum(0)
    dh = dz @ params["enc.W1"].T
    de = alpha[..., None] * dh[:, None, :]
    de[:, -1] += dz @ params["enc.W2"].T
    dalpha = np.einsum("btd,bd->bt", e, dh)
    ds = alpha * (dalpha - (alpha * dalpha).sum(1, keepdims=True))
    p_len = len(params["enc.p"])
    dp = np.zeros(p_len, dtype=ds.dtype)
    col = ds.sum(0)[::-1]
    dp[: min(t, p_len)] = col[: min(t, p_len)]
    g["enc.p"] = dp
    g["enc.q"] = np.einsum("bt,btd->d", ds, e)
    de += ds[..., None] * params["enc.q"]
    if cache["dmask"] is not None:
        de = de * cache["dmask"]
    mask = batch.mask
    de = de * mask[..., None]
    g["enc.T"] = scatter_rows(batch.types[mask], de[mask], params["enc.T"].shape[0])
    hi = cache["has_item"]
    dv = scatter_rows(batch.items[hi], de[hi], n_items)
    wvalid = cache["wvalid"]
    if wvalid.any():
        per = de / np.maximum(cache["wcount"], 1)[..., None]
        rows = np.broadcast_to(per[:, :, None, :], (*wvalid.shape, per.shape[-1]))
        g["qry.Wemb"] = scatter_rows(batch.words[wvalid], rows[wvalid], params["qry.Wemb"].shape[0])
    return g, dv
