"""Full-ranking Recall@K / NDCG@K with history masking, evaluated in user chunks.

Ranking rule: for each user the scores over all items are taken from the model; the
user's history items are set to ``-inf`` (masked), except the target itself if it also
occurs in the history (repeat consumption; never the case on Beauty or MovieLens). The
target's 0-based rank is the number of items scored strictly higher plus the number of
items with an equal score and a smaller id (ties broken by item id, deterministic).
A target scored ``-inf`` (not retrieved, or NaN) is a miss at every K.
With leave-one-out there is one target per user, so Recall@K is the hit rate and
NDCG@K is ``1 / log2(rank + 2)`` when ``rank < K`` and 0 otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "DEFAULT_KS",
    "MISSED_RANK",
    "evaluate_scores",
    "mask_history",
    "metrics_from_ranks",
    "target_ranks",
]

#: Cut-offs of the published tables.
DEFAULT_KS = (5, 10)
#: Rank given to a target the model did not retrieve (score ``-inf`` or NaN).
MISSED_RANK = 2**62


def mask_history(scores: np.ndarray, histories: Sequence[np.ndarray], targets: np.ndarray) -> None:
    """Set each user's history items to ``-inf`` in place (the target is never masked).

    Args:
        scores: Shape ``(b, n_items)`` float array, modified in place.
        histories: ``b`` int arrays of item ids.
        targets: Shape ``(b,)`` target item ids.
    """
    lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
    if lengths.sum() == 0:
        return
    rows = np.repeat(np.arange(len(histories)), lengths)
    cols = np.concatenate([np.asarray(h, dtype=np.int64) for h in histories])
    keep = cols != targets[rows]
    scores[rows[keep], cols[keep]] = -np.inf


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based rank of each target (ties broken by item id; ``-inf``/NaN → ``MISSED_RANK``).

    Args:
        scores: Shape ``(b, n_items)``; masked items already ``-inf``.
        targets: Shape ``(b,)``.

    Returns:
        Shape ``(b,)`` int64 ranks in ``0 .. n_items - 1``, or :data:`MISSED_RANK` for a
        target that was not retrieved.
    """
    b, n = scores.shape
    t = scores[np.arange(b), targets][:, None]
    higher = (scores > t).sum(axis=1)
    ties_before = ((scores == t) & (np.arange(n)[None, :] < targets[:, None])).sum(axis=1)
    ranks = (higher + ties_before).astype(np.int64)
    ranks[~(t[:, 0] > -np.inf)] = MISSED_RANK  # -inf or NaN: not retrieved
    return ranks


def metrics_from_ranks(ranks: np.ndarray, ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """Recall@K and NDCG@K (means over users) from 0-based target ranks.

    Args:
        ranks: Shape ``(m,)`` 0-based ranks (one target per user).
        ks: Cut-offs.

    Returns:
        ``{"recall@5": …, "ndcg@5": …, "recall@10": …, "ndcg@10": …}``.
    """
    ranks = np.asarray(ranks, dtype=np.int64)
    out: dict[str, float] = {}
    gain = 1.0 / np.log2(ranks.astype(np.float64) + 2.0)
    for k in ks:
        hit = ranks < k
        out[f"recall@{k}"] = float(hit.mean()) if len(ranks) else 0.0
        out[f"ndcg@{k}"] = float(np.where(hit, gain, 0.0).mean()) if len(ranks) else 0.0
    return out


def evaluate_scores(
    score_fn: Callable[[list[np.ndarray]], np.ndarray],
    histories: Sequence[np.ndarray],
    targets: np.ndarray,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    chunk_size: int = 2048,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, float], np.ndarray]:
    """Score users chunk by chunk, mask histories, rank targets and average metrics.

    Args:
        score_fn: ``histories -> (b, n_items)`` scores (a model's ``score``).
        histories: ``m`` int arrays.
        targets: Shape ``(m,)``.
        ks: Cut-offs.
        chunk_size: Users per chunk (memory ≈ ``chunk_size * n_items * 4`` bytes).
        progress: Called with the number of users done after each chunk.

    Returns:
        ``(metrics, ranks)`` with ranks of shape ``(m,)``.
    """
    targets = np.asarray(targets, dtype=np.int64)
    ranks = np.empty(len(targets), dtype=np.int64)
    for start in range(0, len(targets), chunk_size):
        hist = list(histories[start : start + chunk_size])
        tgt = targets[start : start + chunk_size]
        scores = np.array(score_fn(hist), dtype=np.float32, copy=True)
        if scores.shape != (len(hist), scores.shape[1]) or scores.ndim != 2:
            raise ValueError(f"score() returned shape {scores.shape} for {len(hist)} histories")
        scores[np.isnan(scores)] = -np.inf
        mask_history(scores, hist, tgt)
        ranks[start : start + len(tgt)] = target_ranks(scores, tgt)
        if progress is not None:
            progress(len(tgt))
    return metrics_from_ranks(ranks, ks), ranks
