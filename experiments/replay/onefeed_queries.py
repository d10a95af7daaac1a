"""OneFeed's query head on replay data: searchable targets, Query-Hit@K, expansion gain.

Search is BM25 (the ``bm25s`` library, Lucene scoring) over the item texts, tokenised
with the model's word splitter. Two jobs:

* :func:`retrieving_queries` — the training target of the query head: for every item,
  the query a searcher would type to find it, built from the item's own vocabulary words
  greedily (each step adds the word that moves the item highest in the BM25 ranking;
  ties go to the word found in more items, i.e. the less idiosyncratic one) until the
  item is in the top ``k`` or ``max_words`` are used;
* :func:`query_metrics` — how the generated queries do as a candidate source: Query-Hit@K
  (the user's next item among the query's top ``k`` results) and the expansion gain at
  an equal candidate budget ``B``: the model's top ``B`` candidates versus its top
  ``B - m`` plus the ``m`` best (by the model's own score) of the query's top results
  that are not already there, with a paired t-interval over users.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from onefeed import OneFeedModel, RankSettings
from onefeed.text import STOPWORDS, build_vocabulary, word_tokens

__all__ = ["Bm25", "query_metrics", "retrieving_queries"]


class Bm25:
    """BM25 (bm25s, Lucene variant) over item texts with the model's word splitter."""

    def __init__(self, texts: list[str]) -> None:
        import bm25s

        self.retriever = bm25s.BM25()
        self.retriever.index([word_tokens(t) or ["empty"] for t in texts], show_progress=False)
        self.n = len(texts)

    def search(self, queries: list[str], k: int) -> np.ndarray:
        """Shape ``(len(queries), k)`` item ids, best first."""
        toks = [word_tokens(q) or ["empty"] for q in queries]
        docs, _ = self.retriever.retrieve(toks, k=min(k, self.n), show_progress=False)
        return np.asarray(docs, dtype=np.int64)

    def scores(self, words: list[str]) -> np.ndarray:
        """BM25 score of every item for the query ``words``, shape ``(n_items,)``."""
        return np.asarray(self.retriever.get_scores(words), dtype=np.float64)


def _rank_of(scores: np.ndarray, item: int) -> int:
    """Worst-case 0-based rank of ``item``: every tie counted as ranked before it."""
    return int((scores >= scores[item]).sum()) - 1


def _greedy_query(
    bm25: Bm25, item: int, words: list[int], vocab: Any, df: np.ndarray, k: int, max_words: int
) -> tuple[list[str], int]:
    """Add the word that ranks ``item`` highest (ties: the commoner word) until top ``k``."""
    words = list(words)
    chosen: list[str] = []
    base = np.zeros(bm25.n)
    rank = bm25.n
    while words and len(chosen) < max_words:
        best: tuple[tuple[int, float], int, np.ndarray] | None = None
        for j in words:
            sc = base + bm25.scores([vocab.words[j]])
            key = (_rank_of(sc, item), -df[j])
            if best is None or key < best[0]:
                best = (key, j, sc)
        assert best is not None
        (rank, _), j, base = best
        chosen.append(vocab.words[j])
        words.remove(j)
        if rank < k:
            break
    return chosen, rank


def retrieving_queries(
    texts: list[str],
    bm25: Bm25 | None = None,
    k: int = 10,
    max_words: int = 4,
    min_items: int = 5,
) -> list[str]:
    """Per item, a query of its own words with which BM25 retrieves it (see module doc).

    Words a searcher would type come first: the query is built from the item's words
    found in at least ``min_items`` items (brand, product type, shade names shared by a
    line), and only when those cannot bring the item into the top ``k`` are its rarer
    words (model numbers, one-off names) allowed. Only words of the model's query
    vocabulary (:func:`onefeed.text.build_vocabulary`) are used, so the query head can
    generate every target. An item with no such word gets ``""`` (the model then keeps
    its default target).

    Args:
        texts: Item texts.
        bm25: The index over ``texts`` (built when omitted).
        k: Stop once the item ranks in the top ``k``.
        max_words: Longest query.
        min_items: Items a word must occur in to be tried first.

    Returns:
        One query string per item.
    """
    bm25 = bm25 or Bm25(texts)
    vocab = build_vocabulary(texts, max_words=max_words)
    df = np.zeros(vocab.size)
    for iw in vocab.item_words:
        df[iw] += 1
    out = []
    for item, iw in enumerate(vocab.item_words):
        words = [int(j) for j in iw if vocab.words[j] not in STOPWORDS]
        common = [j for j in words if df[j] >= min_items]
        chosen, rank = _greedy_query(bm25, item, common, vocab, df, k, max_words)
        if rank >= k and len(common) < len(words):
            chosen, _ = _greedy_query(bm25, item, words, vocab, df, k, max_words)
        out.append(" ".join(chosen))
    return out


def _interval(diff: np.ndarray) -> list[float]:
    m = len(diff)
    if m < 2:
        return [float("nan"), float("nan")]
    half = float(stats.t.ppf(0.975, m - 1) * diff.std(ddof=1) / np.sqrt(m))
    return [float(diff.mean() - half), float(diff.mean() + half)]


def query_metrics(
    model: OneFeedModel,
    settings: RankSettings,
    histories: list[np.ndarray],
    targets: np.ndarray,
    item_text: list[str],
    *,
    bm25: Bm25 | None = None,
    k: int = 10,
    budget: int = 50,
    n_query_items: int = 10,
    pool: int = 50,
    n_examples: int = 5,
    batch_size: int = 512,
) -> dict[str, Any]:
    """Query-Hit@K and the expansion gain of generated queries at an equal budget.

    Args:
        model: A fitted OneFeed model.
        settings: The ranking settings whose top ``budget`` candidates are the baseline.
        histories: Users' histories (items before the held-out one).
        targets: Shape ``(b,)`` held-out items.
        item_text: The BM25 corpus (one text per item).
        bm25: The index over ``item_text`` (built when omitted).
        k: Query-Hit cut-off (the query's BM25 top ``k`` must contain the target).
        budget: Candidates per user in both arms.
        n_query_items: ``m``: candidates given to the query's results in the merged arm.
        pool: Query results considered (BM25 top ``pool``) before the model picks ``m``.
        n_examples: Generated query examples returned.
        batch_size: Users per model call.

    Returns:
        ``query_hit@10``, ``model_recall`` (recall of the top ``budget`` candidates),
        ``merged_recall``, ``expansion_gain`` with ``expansion_gain_ci95`` (paired over
        users), ``distinct_query_share`` (distinct queries / users), ``budget`` and
        ``examples``.
    """
    bm25 = bm25 or Bm25(item_text)
    targets = np.asarray(targets, dtype=np.int64)
    queries: list[str] = []
    hit = np.zeros(len(targets), dtype=bool)
    base_hit = np.zeros(len(targets), dtype=bool)
    merged_hit = np.zeros(len(targets), dtype=bool)
    for i in range(0, len(histories), batch_size):
        h = histories[i : i + batch_size]
        qs = [q[0] for q in model.generate_queries(h, 1)]
        queries += qs
        found = bm25.search(qs, max(k, pool))
        scores = model.score_all(h, settings)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :budget]
        ranked = np.where(np.take_along_axis(scores, order, 1) > -np.inf, order, -1)
        for r in range(len(h)):
            u, target = i + r, targets[i + r]
            hit[u] = target in found[r][:k]
            top = [int(x) for x in ranked[r] if x >= 0]
            keep = top[: budget - n_query_items]
            seen = set(keep) | {int(x) for x in h[r]}
            extra = [int(x) for x in found[r] if int(x) not in seen]
            # the model orders the query's new results by its own score (ties: BM25 order)
            extra = sorted(extra, key=lambda x, s=scores[r]: -s[x])[:n_query_items]
            merged = keep + extra
            merged += [x for x in top[len(keep) :] if x not in merged][: budget - len(merged)]
            base_hit[u] = target in top
            merged_hit[u] = target in merged
    diff = merged_hit.astype(float) - base_hit.astype(float)
    examples = [
        {
            "last_item": item_text[int(histories[r][-1])][:80] if len(histories[r]) else "",
            "query": queries[r],
            "target": item_text[int(targets[r])][:80],
            "hit": bool(hit[r]),
        }
        for r in range(min(n_examples, len(targets)))
    ]
    return {
        f"query_hit@{k}": float(hit.mean()),
        "model_recall": float(base_hit.mean()),
        "merged_recall": float(merged_hit.mean()),
        "expansion_gain": float(diff.mean()),
        "expansion_gain_ci95": _interval(diff),
        "distinct_query_share": len(set(queries)) / max(len(queries), 1),
        "budget": budget,
        "n_query_items": n_query_items,
        "examples": examples,
    }
