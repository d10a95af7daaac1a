"""Pure functions of the feed-browsing model: examination, affinity, choice, dwell.

Everything is vectorised over a batch of ``n`` slates of ``S`` items.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "affinity",
    "affinity_pairs",
    "choice_probabilities",
    "examination_probabilities",
    "sample_choice",
    "sigmoid",
    "tempered_interests",
]


def examination_probabilities(slate_size: int, exponent: float) -> np.ndarray:
    """Position bias ``rho_p = (1 + p)^-exponent`` for 0-based positions, shape ``(S,)``."""
    return (1.0 + np.arange(slate_size, dtype=np.float64)) ** -exponent


def tempered_interests(interests: np.ndarray, temperature: float) -> np.ndarray:
    """Interests tempered and rescaled so the favourite topic has weight 1.

    ``p_k = (I_k / max_j I_j)^(1/T)``: the dot product ``p · θ_i`` is then 1 for an item
    entirely about the user's favourite topic and lower for any other topic or mix.

    Args:
        interests: Shape ``(n, K)`` non-negative rows (on the simplex).
        temperature: ``T > 0``; 1 keeps the interests' proportions.

    Returns:
        Shape ``(n, K)`` float64, each row's maximum 1.
    """
    interests = np.asarray(interests, dtype=np.float64)
    top = np.maximum(interests.max(axis=1, keepdims=True), 1e-300)
    rel = interests / top
    return rel if temperature == 1.0 else rel ** (1.0 / temperature)


def affinity(
    interests: np.ndarray,
    item_topics: np.ndarray,
    item_norm: np.ndarray,
    mode: str = "cosine",
    temperature: float = 1.0,
) -> np.ndarray:
    """Affinity of each user for each of their items (``choice.affinity``).

    ``cosine``: ``I_u·θ_i / (|I_u| |θ_i|)``. ``dot``: ``p_u·θ_i`` with ``p_u`` the
    tempered interests of :func:`tempered_interests` — the dominant topic wins: for
    interests ``(0.5, 0.3, 0.2)`` an item entirely of topic 0 scores 1 and an item with
    the user's own mix ``(0.5·0.5 + 0.3·0.3 + 0.2·0.2) / 0.5 = 0.76`` (its cosine is 1).

    Args:
        interests: Shape ``(n, K)``.
        item_topics: Shape ``(n, S, K)``.
        item_norm: Shape ``(n, S)`` L2 norms of ``item_topics`` rows (``cosine`` only).
        mode: ``"cosine"`` or ``"dot"``.
        temperature: Temperature of the ``dot`` affinity.

    Returns:
        Shape ``(n, S)`` float64 in ``[0, 1]`` (both vectors are non-negative).
    """
    if mode == "dot":
        p = tempered_interests(interests, temperature)
        return np.einsum("nsk,nk->ns", item_topics, p)
    dot = np.einsum("nsk,nk->ns", item_topics, interests)
    user_norm = np.linalg.norm(interests, axis=1)
    return dot / np.maximum(item_norm * user_norm[:, None], 1e-12)


def affinity_pairs(
    interests: np.ndarray,
    item_topics: np.ndarray,
    item_norm: np.ndarray,
    mode: str = "cosine",
    temperature: float = 1.0,
) -> np.ndarray:
    """:func:`affinity` of one item per user: shapes ``(n, K)``, ``(n, K)``, ``(n,)`` → ``(n,)``."""
    return affinity(interests, item_topics[:, None, :], item_norm[:, None], mode, temperature)[:, 0]


def choice_probabilities(
    utilities: np.ndarray, examined: np.ndarray, no_click_logit: float
) -> np.ndarray:
    """Multinomial-logit choice among examined items with an explicit no-click option.

    ``P(j) = e_j exp(v_j) / (exp(v_0) + sum_l e_l exp(v_l))`` for items, and
    ``P(none) = exp(v_0) / (same denominator)``, where ``e_j`` is 1 if item ``j`` was
    examined and ``v_0`` is ``no_click_logit``.

    Args:
        utilities: Shape ``(n, S)`` item utilities ``v_j``.
        examined: Shape ``(n, S)`` bool.
        no_click_logit: ``v_0``.

    Returns:
        Shape ``(n, S + 1)``: item probabilities, then the no-click probability last.
    """
    v = np.asarray(utilities, dtype=np.float64)
    shift = np.maximum(np.max(np.where(examined, v, -np.inf), axis=1), no_click_logit)
    w = np.where(examined, np.exp(v - shift[:, None]), 0.0)
    w0 = np.exp(no_click_logit - shift)
    denom = w.sum(axis=1) + w0
    return np.concatenate([w, w0[:, None]], axis=1) / denom[:, None]


def sample_choice(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of one option per row.

    Option ``j`` is drawn when ``cdf[j-1] <= u < cdf[j]``, an interval of width
    ``probs[j]``, so an option of probability 0 (an unexamined item) is never drawn,
    also at ``u = 0``.

    Args:
        probs: Shape ``(n, S + 1)`` from :func:`choice_probabilities`.
        u: Shape ``(n,)`` uniforms in ``[0, 1)``.

    Returns:
        Shape ``(n,)`` int64: the chosen item position, or ``-1`` for no click.
    """
    cdf = np.cumsum(probs, axis=1)
    idx = (cdf <= u[:, None]).sum(axis=1)
    idx = np.minimum(idx, probs.shape[1] - 1)
    return np.where(idx == probs.shape[1] - 1, -1, idx)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-x))``."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))
