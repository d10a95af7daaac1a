"""Full-ranking Recall@K / NDCG@K with history masking and random tie-breaking.

Ranking rule: for each user the scores over all items are taken from the model; NaN
scores count as ``-inf`` (not retrieved). The user's history items are then removed from
the ranking (masked), except the target itself if it also occurs in the history (repeat
consumption; never the case on Beauty or MovieLens). The target's position is
``higher + U`` where ``higher`` is the number of unmasked items scored strictly higher and
``U`` is uniform on ``0 .. ties`` (``ties``: other unmasked items with an equal score):
ties are broken uniformly at random and every metric is its **expected value** under that
tie-breaking, computed exactly. Items a model did not retrieve (``-inf``) therefore share
the last places at random, so a model that retrieves few items is not favoured or
penalised by item ids.

With leave-one-out there is one target per user: Recall@K is the (expected) hit rate,
``P(position < K)``, and NDCG@K is ``E[1 / log2(position + 2); position < K]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_KS",
    "Outcomes",
    "evaluate_scores",
    "expected_metric",
    "mask_history",
    "metrics_from_outcomes",
    "target_outcomes",
]

#: Cut-offs of the published tables.
DEFAULT_KS = (5, 10)


@dataclass(frozen=True)
class Outcomes:
    """Where every user's target landed.

    Attributes:
        higher: Shape ``(m,)`` int64, unmasked items scored strictly above the target.
        ties: Shape ``(m,)`` int64, other unmasked items scored equal to the target.
    """

    higher: np.ndarray
    ties: np.ndarray

    def __len__(self) -> int:
        return len(self.higher)

    @property
    def expected_rank(self) -> np.ndarray:
        """Shape ``(m,)`` float64 expected 0-based rank ``higher + ties / 2``."""
        return self.higher + self.ties / 2.0

    @staticmethod
    def concat(parts: Sequence[Outcomes]) -> Outcomes:
        """Outcomes of consecutive user chunks, in order."""
        return Outcomes(
            np.concatenate([p.higher for p in parts]), np.concatenate([p.ties for p in parts])
        )


def mask_history(scores: np.ndarray, histories: Sequence[np.ndarray], targets: np.ndarray) -> None:
    """Remove each user's history items from the ranking (set to NaN), in place.

    The target is never masked. NaN takes part in no comparison, so masked items count
    neither as higher nor as ties; call this after turning a model's own NaN into ``-inf``.

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
    scores[rows[keep], cols[keep]] = np.nan


def target_outcomes(scores: np.ndarray, targets: np.ndarray) -> Outcomes:
    """Items above and tied with each target (masked items are NaN and not counted).

    Args:
        scores: Shape ``(b, n_items)``; masked items NaN; the targets are not NaN.
        targets: Shape ``(b,)``.

    Returns:
        The :class:`Outcomes` of the ``b`` users.
    """
    t = scores[np.arange(len(targets)), targets][:, None]
    higher = (scores > t).sum(axis=1).astype(np.int64)
    ties = ((scores == t).sum(axis=1) - 1).astype(np.int64)
    return Outcomes(higher, ties)


def expected_metric(outcomes: Outcomes, metric: str) -> np.ndarray:
    """Per-user expected ``recall@K`` or ``ndcg@K`` under uniform random tie-breaking.

    With ``h`` items above and ``t`` ties the position is uniform on ``h .. h + t``, so
    ``recall@K = #{p < K} / (t + 1)`` and ``ndcg@K = sum_{p=h}^{min(h+t, K-1)}
    1 / log2(p + 2) / (t + 1)``.

    Args:
        outcomes: Targets' outcomes.
        metric: ``"recall@K"`` or ``"ndcg@K"``.

    Returns:
        Shape ``(m,)`` float64.
    """
    name, _, k_text = metric.partition("@")
    k = int(k_text)
    h, t = outcomes.higher, outcomes.ties
    last = np.minimum(h + t, k - 1)  # last position that still counts
    n_in = np.clip(last - h + 1, 0, None)
    if name == "recall":
        return n_in / (t + 1.0)
    if name != "ndcg":
        raise ValueError(f"unknown metric {metric!r}")
    pos = np.arange(k)
    inside = (pos[None, :] >= h[:, None]) & (pos[None, :] <= last[:, None])
    gain = (inside / np.log2(pos + 2.0)[None, :]).sum(axis=1)
    return gain / (t + 1.0)


def metrics_from_outcomes(outcomes: Outcomes, ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """Recall@K and NDCG@K (means over users of the expected values).

    Returns:
        ``{"recall@5": …, "ndcg@5": …, "recall@10": …, "ndcg@10": …}``.
    """
    out: dict[str, float] = {}
    for k in ks:
        for name in ("recall", "ndcg"):
            values = expected_metric(outcomes, f"{name}@{k}")
            out[f"{name}@{k}"] = float(values.mean()) if len(values) else 0.0
    return out


def _chunk_outcomes(
    scores: np.ndarray, hist: list[np.ndarray], tgt: np.ndarray, n_hist: int
) -> Outcomes:
    scores = np.array(scores, dtype=np.float32, copy=True)
    if scores.ndim != 2 or scores.shape[0] != n_hist:
        raise ValueError(f"score() returned shape {scores.shape} for {n_hist} histories")
    scores[np.isnan(scores)] = -np.inf
    mask_history(scores, hist, tgt)
    return target_outcomes(scores, tgt)


def evaluate_scores(
    score_fn: Callable[[list[np.ndarray]], np.ndarray | Iterable[np.ndarray]],
    histories: Sequence[np.ndarray],
    targets: np.ndarray,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    chunk_size: int = 2048,
    progress: Callable[[int], None] | None = None,
    n_settings: int | None = None,
) -> list[tuple[dict[str, float], Outcomes]]:
    """Score users chunk by chunk, mask histories and measure every setting.

    Args:
        score_fn: ``histories -> (b, n_items)`` scores (a model's ``score``), or, with
            ``n_settings``, ``histories -> iterable of n_settings score arrays`` (one per
            setting, e.g. every blend weight of a model scored from shared features).
        histories: ``m`` int arrays.
        targets: Shape ``(m,)``.
        ks: Cut-offs.
        chunk_size: Users per chunk (memory ≈ ``chunk_size * n_items * 4`` bytes per
            score array).
        progress: Called with the number of users done after each chunk.
        n_settings: ``None``: ``score_fn`` returns one array; else the number of arrays
            it yields per chunk.

    Returns:
        Per setting ``(metrics, outcomes)`` (one element when ``n_settings`` is None).
    """
    targets = np.asarray(targets, dtype=np.int64)
    n = 1 if n_settings is None else n_settings
    parts: list[list[Outcomes]] = [[] for _ in range(n)]
    for start in range(0, len(targets), chunk_size):
        hist = list(histories[start : start + chunk_size])
        tgt = targets[start : start + chunk_size]
        produced = score_fn(hist)
        arrays = [produced] if n_settings is None else produced
        count = 0
        for j, scores in enumerate(arrays):  # type: ignore[arg-type]
            if j >= n:
                raise ValueError(f"score function yielded more than {n} settings")
            parts[j].append(_chunk_outcomes(scores, hist, tgt, len(hist)))
            count += 1
        if count != n:
            raise ValueError(f"score function yielded {count} settings, expected {n}")
        if progress is not None:
            progress(len(tgt))
    out = []
    for p in parts:
        oc = (
            Outcomes.concat(p)
            if p
            else Outcomes(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        )
        out.append((metrics_from_outcomes(oc, ks), oc))
    return out
