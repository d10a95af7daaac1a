"""The ranking stage: candidates from the SID beam (and the dense head), and their scores.

Every item has three features for a user (all exact, over the whole catalogue):

* ``dense`` — ``log_softmax(u . v + bias)``, the dense next-item head;
* ``sid`` — ``log P(sid(i) | u)``, the SID generator's probability of the item's SID;
* ``trans`` — ``log(1e-4 + sum_{k<3} decay^k T[h_{-1-k}, i])``, item-transition evidence
  counted on the training sequences (not learnt: scaffolding, measured as such).

Candidates (:class:`RankSettings`): the ``beam`` items of the constrained SID beam search,
then the best items by the dense head not already in the beam until ``budget`` items are
reached (``budget = None``: the whole catalogue is a candidate). The final score of a
candidate is ``w_dense * dense + w_sid * sid + w_trans * trans``; other items get
``-inf``. Every candidate remembers its source (beam or dense), so what each part
contributes to a final list can be counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = [
    "RankSettings",
    "ScoreFeatures",
    "combine",
    "transition_feature",
    "transition_matrix",
    "transition_scores",
]


@dataclass(frozen=True)
class RankSettings:
    """How candidates are formed and scored.

    Attributes:
        beam: SID beam width (0: no beam candidates).
        budget: Candidates per user (beam items, then dense-head fill); ``None``: all items.
        w_dense: Weight of the dense head's log-softmax.
        w_sid: Weight of the SID log-probability.
        w_trans: Weight of the transition feature.
    """

    beam: int = 100
    budget: int | None = 100
    w_dense: float = 1.0
    w_sid: float = 0.1
    w_trans: float = 0.3

    def __post_init__(self) -> None:
        if self.beam < 0 or (self.budget is not None and self.budget < max(self.beam, 1)):
            raise ValueError("need beam >= 0 and budget >= max(beam, 1) (or budget None)")


@dataclass
class ScoreFeatures:
    """Whole-catalogue features of a batch of users (shapes ``(b, n_items)`` float32).

    Attributes:
        dense: Dense head log-softmax.
        sid: SID log-probability (exact; ``None`` when the SID head is not used).
        trans: Transition feature.
        beams: Beam width → ``(b, width)`` beam items (``-1`` padded), best first.
        excluded: ``b`` item arrays never to be candidates (the users' histories).
    """

    dense: np.ndarray
    sid: np.ndarray | None
    trans: np.ndarray
    beams: dict[int, np.ndarray]
    excluded: list[np.ndarray]


def candidate_mask(feats: ScoreFeatures, s: RankSettings) -> tuple[np.ndarray, np.ndarray]:
    """Which items are candidates, and which came from the beam.

    Returns:
        ``(candidate, from_beam)``: shape ``(b, n_items)`` bool each.
    """
    b, n = feats.dense.shape
    from_beam = np.zeros((b, n), dtype=bool)
    if s.beam:
        items = feats.beams[s.beam]
        rows = np.broadcast_to(np.arange(b)[:, None], items.shape)
        ok = items >= 0
        from_beam[rows[ok], items[ok]] = True
    if s.budget is None:
        cand = np.ones((b, n), dtype=bool)
    else:
        cand = from_beam.copy()
        fill = s.budget - from_beam.sum(axis=1)
        dense = feats.dense.copy()
        dense[from_beam] = -np.inf
        for r, h in enumerate(feats.excluded):
            dense[r, h] = -np.inf
        width = int(min(max(fill.max(initial=0), 0), n))
        if width:
            top = np.argpartition(-dense, width - 1, axis=1)[:, :width]
            top = np.take_along_axis(
                top, np.argsort(-np.take_along_axis(dense, top, 1), axis=1, kind="stable"), 1
            )
            take = np.arange(width)[None, :] < fill[:, None]
            take &= np.isfinite(np.take_along_axis(dense, top, 1))
            rows = np.broadcast_to(np.arange(b)[:, None], top.shape)
            cand[rows[take], top[take]] = True
    for r, h in enumerate(feats.excluded):
        cand[r, h] = False
    return cand, from_beam


def combine(
    feats: ScoreFeatures, s: RankSettings, candidates: np.ndarray | None = None
) -> np.ndarray:
    """Final scores, shape ``(b, n_items)`` float32; ``-inf`` for non-candidates.

    Args:
        feats: The users' features.
        s: The settings.
        candidates: :func:`candidate_mask`'s first array for ``s`` (computed if omitted).
    """
    score = np.zeros_like(feats.dense)
    for weight, part in ((s.w_dense, feats.dense), (s.w_sid, feats.sid), (s.w_trans, feats.trans)):
        if weight:
            if part is None:
                raise ValueError("w_sid > 0 but the SID feature was not computed")
            score += np.float32(weight) * part
    cand = candidate_mask(feats, s)[0] if candidates is None else candidates
    np.copyto(score, np.float32(-np.inf), where=~cand)
    return score


def transition_scores(
    trans: sp.csr_matrix, positives: list[np.ndarray], decay: float
) -> np.ndarray:
    """``log(1e-4 + sum_{k<3} decay^k T[h_{-1-k}, i])`` for every item, shape ``(b, n)``.

    Args:
        trans: Shape ``(n_items, n_items)`` row-normalised transition matrix.
        positives: Per user, the engaged items of the history (chronological).
        decay: Weight decay per step back in the history.

    Returns:
        Shape ``(b, n_items)`` float32.
    """
    b, n = len(positives), trans.shape[0]
    rows, cols, vals = [], [], []
    for k in range(3):
        last = np.array([p[-1 - k] if len(p) > k else -1 for p in positives], dtype=np.int64)
        has = np.nonzero(last >= 0)[0]
        rows.append(has)
        cols.append(last[has])
        vals.append(np.full(len(has), decay**k))
    sel = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(b, n)
    )
    feat = np.asarray((sel @ trans).toarray(), dtype=np.float32)
    return np.log(np.float32(1e-4) + feat)


def transition_feature(
    trans: sp.csr_matrix, positives: list[np.ndarray], items: np.ndarray, decay: float
) -> np.ndarray:
    """The transition feature of given candidates, shape ``items.shape``.

    Args:
        trans: Shape ``(n_items, n_items)`` row-normalised transition matrix.
        positives: Per user, the engaged items of the history (chronological).
        items: Shape ``(b, c)`` candidates (``-1`` padding scores like any item 0).
        decay: Weight decay per step back in the history.

    Returns:
        Shape ``(b, c)`` float64.
    """
    full = transition_scores(trans, positives, decay)
    return np.take_along_axis(full, np.clip(items, 0, None), 1).astype(np.float64)


def transition_matrix(clicks: list[np.ndarray], n_items: int) -> sp.csr_matrix:
    """Row-normalised next-item transition counts, shape ``(n_items, n_items)``."""
    rows = [s[:-1] for s in clicks if len(s) > 1]
    cols = [s[1:] for s in clicks if len(s) > 1]
    if not rows:
        return sp.csr_matrix((n_items, n_items))
    r, c = np.concatenate(rows), np.concatenate(cols)
    m = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n_items, n_items))
    deg = np.asarray(m.sum(1)).ravel()
    return (sp.diags(1.0 / np.maximum(deg, 1)) @ m).tocsr()
