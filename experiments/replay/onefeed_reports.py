"""What OneFeed's generative parts do in the replay bench: beam recall and list shares.

* :func:`beam_recall` — the share of users whose held-out item is among the items of the
  constrained SID beam search of width ``B`` (the generator as a retriever), beside the
  same share for the exact top ``B`` items by SID probability (what a perfect search of
  the same generator would give) and for the dense head's top ``B`` (the alternative
  retriever at the same budget);
* :func:`top_k_shares` — under the row's chosen ranking settings, where the final top 10
  comes from: the share of its items that the SID beam generated (the rest come from the
  dense head's fill of the candidate budget), and the share of hits that are beam items.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from onefeed import OneFeedModel
from onefeed.ranking import candidate_mask, combine

__all__ = ["WIDTHS", "beam_recall", "top_k_shares"]

#: Beam widths (and top-N sizes) at which recall is reported.
WIDTHS = (10, 50, 100, 200, 500, 1000)


def _rank_of_target(
    scores: np.ndarray, histories: list[np.ndarray], targets: np.ndarray
) -> np.ndarray:
    s = scores.astype(np.float64, copy=True)
    for r, h in enumerate(histories):
        s[r, h] = -np.inf
    t = s[np.arange(len(targets)), targets]
    # a target in the history is excluded like every history item: never retrieved
    return np.where(np.isfinite(t), (s > t[:, None]).sum(axis=1), s.shape[1])


def beam_recall(
    model: OneFeedModel,
    histories: list[np.ndarray],
    targets: np.ndarray,
    widths: tuple[int, ...] = WIDTHS,
    block: int = 256,
) -> dict[str, dict[str, float]]:
    """Recall of the SID beam, of the exact SID top-N and of the dense top-N, per width.

    Returns:
        ``{"beam_recall": {"@B": …}, "sid_exact_recall": {…}, "dense_recall": {…}}``.
    """
    hits = {k: np.zeros(len(widths)) for k in ("beam", "exact", "dense")}
    for i in range(0, len(histories), block):
        h, t = histories[i : i + block], targets[i : i + block]
        feats = model.score_features(h, widths, with_sid=True)
        assert feats.sid is not None
        sid_rank = _rank_of_target(feats.sid, h, t)
        dense_rank = _rank_of_target(feats.dense, h, t)
        for j, w in enumerate(widths):
            hits["beam"][j] += (feats.beams[w] == t[:, None]).any(axis=1).sum()
            hits["exact"][j] += (sid_rank < w).sum()
            hits["dense"][j] += (dense_rank < w).sum()
    n = max(len(targets), 1)
    name = {"beam": "beam_recall", "exact": "sid_exact_recall", "dense": "dense_recall"}
    return {
        name[k]: {f"@{w}": float(v[j] / n) for j, w in enumerate(widths)} for k, v in hits.items()
    }


def top_k_shares(
    rec: Any, histories: list[np.ndarray], targets: np.ndarray, k: int = 10
) -> dict[str, float]:
    """Where the final top ``k`` of the chosen settings comes from (beam or dense fill).

    Args:
        rec: A fitted :class:`~experiments.replay.onefeed_rec.OneFeedRecommender`.
        histories: Users' histories.
        targets: Held-out items.
        k: List length.

    Returns:
        ``beam_share_of_top{k}``, ``beam_share_of_hits@{k}``, ``hits@{k}`` (a hit rate
        with ties broken by item id, for these counts only) and ``candidate_recall``.
    """
    settings = rec.settings
    in_beam = n_items = beam_hits = n_hits = in_cands = 0
    for i in range(0, len(histories), 1024):
        h, t = histories[i : i + 1024], targets[i : i + 1024]
        feats = rec.features(h, [settings])
        scores = combine(feats, settings)
        cand, from_beam = candidate_mask(feats, settings)
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        valid = np.isfinite(np.take_along_axis(scores, top, 1))
        beam_top = np.take_along_axis(from_beam, top, 1) & valid
        hit = (top == t[:, None]) & valid
        in_beam += int(beam_top.sum())
        n_items += int(valid.sum())
        beam_hits += int((hit & beam_top).sum())
        n_hits += int(hit.sum())
        in_cands += int(cand[np.arange(len(t)), t].sum())
    return {
        f"beam_share_of_top{k}": in_beam / max(n_items, 1),
        f"beam_share_of_hits@{k}": beam_hits / max(n_hits, 1),
        f"hits@{k}": n_hits / max(len(targets), 1),
        "candidate_recall": in_cands / max(len(targets), 1),
    }
