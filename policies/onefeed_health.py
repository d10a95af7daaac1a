"""Health of the generative model across retraining rounds (for ``health_metrics``).

Reported after every update: codebook usage entropy and collapse per SID level,
collision rate, distinct-n of the generated queries, the shift of the training-label
distribution between self-enhancement rounds, SID stability across rebuilds, the
held-out quality of the SID–query alignment on the episode's search clicks, the learnt
weights of the feed and search rankers, and the candidate sources of the prepared lists.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from onefeed import FeedbackLog, OneFeedModel
from sim.events import Provenance

__all__ = ["HealthTracker", "adjusted_rand_index", "distinct_n", "js_divergence_bits"]


def js_divergence_bits(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon divergence (base 2, in ``[0, 1]``) of two count vectors."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        return float("nan")
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return 0.5 * kl(p) + 0.5 * kl(q)


def distinct_n(queries: list[str], n: int) -> float:
    """Distinct n-grams over all n-grams of the queries (Li et al. 2016); NaN if none."""
    grams = [
        tuple(words[i : i + n])
        for words in (q.split() for q in queries)
        for i in range(len(words) - n + 1)
    ]
    return len(set(grams)) / len(grams) if grams else float("nan")


def adjusted_rand_index(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index of two labelings of the same items (1 = identical partition)."""
    a = np.unique(np.asarray(a), return_inverse=True)[1]
    b = np.unique(np.asarray(b), return_inverse=True)[1]
    table = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(table, (a, b), 1.0)

    def pairs(x: np.ndarray) -> float:
        return float(np.sum(x * (x - 1) / 2.0))

    index, rows, cols = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    total = a.shape[0] * (a.shape[0] - 1) / 2.0
    expected = rows * cols / total if total else 0.0
    maximum = 0.5 * (rows + cols)
    return 1.0 if maximum == expected else (index - expected) / (maximum - expected)


class HealthTracker:
    """Accumulates the model-health figures of the latest update."""

    def __init__(self) -> None:
        self._values: dict[str, float] = {}
        self._previous_labels: np.ndarray | None = None

    def record_fit(self, model: OneFeedModel) -> None:
        """Codebook usage entropy (bits), collapse and collision rate of new SIDs."""
        codes = model.sids.codes
        for level, size in enumerate(model.sids.level_sizes):
            counts = np.bincount(codes[:, level], minlength=size).astype(np.float64)
            share = counts[counts > 0] / counts.sum()
            entropy = float(-(share * np.log2(share)).sum())
            self._values[f"sid_entropy_l{level}_bits"] = entropy
            # Collapse: 1 - entropy / log2(size); 0 = uniform usage, 1 = one code.
            self._values[f"sid_collapse_l{level}"] = 1.0 - entropy / max(np.log2(size), 1e-12)
        self._values["sid_collision_rate"] = float(model.sids.collision_rate)

    def record_rebuild(self, old_codes: np.ndarray, new_codes: np.ndarray) -> None:
        """SID stability across a rebuild: ARI of the first-level partitions."""
        n = min(old_codes.shape[0], new_codes.shape[0])
        self._values["sid_stability_ari"] = adjusted_rand_index(old_codes[:n, 0], new_codes[:n, 0])

    def record_labels(self, feedback: FeedbackLog, codes: np.ndarray) -> None:
        """JS shift of positive training labels (first SID level) since the last round."""
        positives = [
            int(item)
            for uf in feedback.users
            for item, hit in zip(uf.shown_items, uf.clicked | uf.long_dwell, strict=True)
            if hit and item < codes.shape[0]
        ]
        labels = np.bincount(codes[positives, 0], minlength=int(codes[:, 0].max()) + 1)
        if self._previous_labels is not None and labels.shape == self._previous_labels.shape:
            self._values["label_shift_js_bits"] = js_divergence_bits(self._previous_labels, labels)
        self._previous_labels = labels

    def record_alignment(self, mrr: float, chance_mrr: float) -> None:
        """Held-out SID–query alignment: how the aligned space ranks clicked results.

        ``align_click_mrr`` is the mean reciprocal rank of each search-clicked item among
        its query's displayed results when they are sorted by the cosine of the query's
        aligned text embedding and their aligned SID embeddings, on an episode the model
        has not been trained on yet; ``align_click_mrr_chance`` is the same under a
        random order (the expected value without alignment).
        """
        self._values["align_click_mrr"] = mrr
        self._values["align_click_mrr_chance"] = chance_mrr

    def record_queries(self, queries: list[list[str]]) -> None:
        """Diversity of the generated queries (distinct-1 and distinct-2)."""
        flat = [q for row in queries for q in row]
        self._values["query_distinct_1"] = distinct_n(flat, 1)
        self._values["query_distinct_2"] = distinct_n(flat, 2)

    def record_rankers(self, feed: Any, search: Any) -> None:
        """The learnt weights of the feed and search rankers.

        ``ranker_w_<feature>``, ``ranker_intercept`` and ``ranker_fits`` for the feed
        ranker; ``search_w_<feature>`` etc. for the search page's click model.
        """
        from policies.onefeed_ranker import FEATURES
        from policies.onefeed_search import SEARCH_FEATURES

        pairs = (("ranker", feed, FEATURES), ("search", search, SEARCH_FEATURES))
        for prefix, ranker, names in pairs:
            for name, weight in zip(names, ranker.weights, strict=True):
                self._values[f"{prefix}_w_{name}"] = float(weight)
            self._values[f"{prefix}_intercept"] = float(ranker.intercept)
            self._values[f"{prefix}_fits"] = float(ranker.n_fits)

    def record_sources(self, origin: np.ndarray, also_content: np.ndarray) -> None:
        """Shares of the prepared lists' items by source, and the overlap of sources.

        Args:
            origin: Shape ``(n_users, L)`` provenance codes of the prepared lists.
            also_content: Shape ``(n_users, L)`` whether each item was also among the
                user's content (title-profile) candidates.
        """
        total = max(origin.size, 1)
        for code in (Provenance.SID_BEAM, Provenance.QUERY_EXPANSION, Provenance.CONTENT,
                     Provenance.POPULAR):  # fmt: skip
            self._values[f"list_share_{code.name.lower()}"] = float((origin == code).sum() / total)
        generated = origin == int(Provenance.SID_BEAM)
        self._values["sid_beam_also_content"] = (
            float(also_content[generated].mean()) if generated.any() else float("nan")
        )

    def snapshot(self) -> dict[str, float]:
        """The latest values."""
        return dict(self._values)
