"""BM25 search over item titles, backed by the ``bm25s`` library.

The index covers the currently available items and is rebuilt when the catalogue
changes. Ranking is by BM25 score (bm25s, Lucene variant, ``k1=1.5``, ``b=0.75``),
ties broken by ascending item id so results are deterministic.
"""

from __future__ import annotations

import bm25s
import numpy as np

__all__ = ["BM25Index", "search_terms"]


def search_terms(text: str) -> list[str]:
    """The search engine's analyser: lower-cased whitespace terms of a title or query.

    This is how the simulated engine (and the users who type into it) split text; the
    OneFeed model has its own word splitter, ``onefeed.text.word_tokens``, for its
    vocabulary. The two have different meanings and different names on purpose.
    """
    return text.lower().split()


class BM25Index:
    """A :class:`sim.types.SearchIndex` over the titles of available items.

    Args:
        titles: Title of every item, indexed by item id.
        available: Shape ``(n_items,)`` bool; only these items are indexed.
        k1: BM25 term-frequency saturation.
        b: BM25 length normalisation.
    """

    def __init__(
        self, titles: list[str], available: np.ndarray, k1: float = 1.5, b: float = 0.75
    ) -> None:
        self.k1 = k1
        self.b = b
        self.rebuild(titles, available)

    def rebuild(self, titles: list[str], available: np.ndarray) -> None:
        """Re-index the available items (call after the catalogue changes)."""
        self._doc_items = np.flatnonzero(np.asarray(available)).astype(np.int32)
        corpus = [search_terms(titles[i]) for i in self._doc_items.tolist()]
        self._retriever = bm25s.BM25(k1=self.k1, b=self.b)
        self._retriever.index(corpus, show_progress=False)
        self._vocab = self._retriever.vocab_dict
        sc = self._retriever.scores
        self._data = np.asarray(sc["data"], dtype=np.float32)
        self._indices = np.asarray(sc["indices"], dtype=np.int64)
        self._indptr = np.asarray(sc["indptr"], dtype=np.int64).tolist()

    @property
    def n_docs(self) -> int:
        """Number of indexed items."""
        return int(self._doc_items.shape[0])

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every indexed document, shape ``(n_docs,)`` float32."""
        vocab, ptr = self._vocab, self._indptr
        scores = np.zeros(self.n_docs, dtype=np.float32)
        # bm25s' eager index: per token, the documents containing it (each once) and
        # their precomputed scores; summed token by token in float32 as bm25s does.
        for t in search_terms(query):
            if t in vocab and t != "":
                a, b = ptr[vocab[t]], ptr[vocab[t] + 1]
                scores[self._indices[a:b]] += self._data[a:b]
        return scores

    def search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` items per query (see :class:`sim.types.SearchIndex`).

        Args:
            queries: ``n`` query strings.
            k: Results per query.

        Returns:
            ``(ids, scores)`` of shapes ``(n, k)``: int32 item ids padded with ``-1``
            and float32 scores padded with ``-inf``, best first; zero scores dropped.
        """
        n = len(queries)
        ids = np.full((n, k), -1, dtype=np.int32)
        scores = np.full((n, k), -np.inf, dtype=np.float32)
        for row, query in enumerate(queries):
            s = self.scores(query)
            hit = np.flatnonzero(s > 0)
            if hit.size == 0:
                continue
            if hit.size > k:
                # Keep the k best; stable order on (-score, doc) breaks ties by item id.
                part = hit[np.argpartition(-s[hit], k - 1)[:k]]
                cutoff = s[part].min()
                hit = hit[s[hit] >= cutoff]
            order = hit[np.lexsort((self._doc_items[hit], -s[hit]))][:k]
            ids[row, : order.size] = self._doc_items[order]
            scores[row, : order.size] = s[order]
        return ids, scores
