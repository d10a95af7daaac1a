"""BM25 search over item titles, backed by the ``bm25s`` library.

The index covers the currently available items and is rebuilt when the catalogue
changes. Ranking is by BM25 score (bm25s, Lucene variant, ``k1=1.5``, ``b=0.75``),
ties broken by ascending item id so results are deterministic.

A batch of queries is scored at once: the queries' term counts (one entry per
occurrence, in query order) times bm25s' term-document score matrix, a sparse product
that sums each document's term scores in float32 in query order, exactly as bm25s'
own per-query loop does; the top ``k`` per query are then selected without sorting a
query's whole result list (a per-row partition finds the ``k``-th score first).
"""

from __future__ import annotations

import bm25s
import numpy as np
import scipy.sparse as sp

__all__ = ["BM25Index", "search_terms", "top_k_per_row"]

_QUERY_BLOCK = 4096  # queries scored per sparse product (bounds the product's size)
_TERM_CACHE_MAX = 200_000  # distinct query strings whose term ids are remembered


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
        indptr = np.asarray(sc["indptr"], dtype=np.int64)
        self._indptr = indptr.tolist()
        #: Shape ``(n_terms, n_docs)`` float32: a term's score in each document containing it.
        self._term_docs = sp.csr_matrix(
            (self._data, self._indices, indptr), shape=(indptr.shape[0] - 1, self.n_docs)
        )
        self._terms: dict[str, list[int]] = {}

    @property
    def n_docs(self) -> int:
        """Number of indexed items."""
        return int(self._doc_items.shape[0])

    def _term_ids(self, query: str) -> list[int]:
        """Index term ids of ``query``'s terms in order, repeats kept, unknown dropped."""
        ids = self._terms.get(query)
        if ids is None:
            vocab = self._vocab
            ids = [vocab[t] for t in search_terms(query) if t in vocab and t != ""]
            if len(self._terms) < _TERM_CACHE_MAX:
                self._terms[query] = ids
        return ids

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every indexed document, shape ``(n_docs,)`` float32."""
        ptr = self._indptr
        scores = np.zeros(self.n_docs, dtype=np.float32)
        # bm25s' eager index: per token, the documents containing it (each once) and
        # their precomputed scores; summed token by token in float32 as bm25s does.
        for t in self._term_ids(query):
            a, b = ptr[t], ptr[t + 1]
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
        for start in range(0, n, _QUERY_BLOCK):
            block = queries[start : start + _QUERY_BLOCK]
            terms = [self._term_ids(q) for q in block]
            indptr = np.zeros(len(block) + 1, dtype=np.int64)
            np.cumsum([len(t) for t in terms], out=indptr[1:])
            flat = np.fromiter((t for ts in terms for t in ts), np.int64, int(indptr[-1]))
            counts = sp.csr_matrix(
                (np.ones(flat.shape[0], np.float32), flat, indptr),
                shape=(len(block), self._term_docs.shape[0]),
            )
            # One stored entry per term occurrence, in query order: the product adds a
            # document's term scores in that order, in float32 (as :meth:`scores`).
            product = counts @ self._term_docs
            rows, docs, vals = top_k_per_row(product, k)
            ids[start + rows[0], rows[1]] = self._doc_items[docs]
            scores[start + rows[0], rows[1]] = vals
        return ids, scores


def top_k_per_row(
    matrix: sp.csr_matrix, k: int
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
    """The ``k`` largest positive entries of each row of a sparse matrix, best first.

    Ties are broken by ascending column. A row's ``k``-th largest value is found by a
    partition of its entries (rows grouped by power-of-two length and padded), so only
    about ``k`` entries per row are sorted.

    Args:
        matrix: Shape ``(n, m)`` CSR matrix.
        k: Entries kept per row.

    Returns:
        ``((row, rank), column, value)``: for every kept entry its row, its rank within
        the row (0 = best), its column and its value; each a shape ``(t,)`` array.
    """
    n = matrix.shape[0]
    indptr = matrix.indptr.astype(np.int64, copy=False)
    counts = np.diff(indptr)
    vals = matrix.data
    keep = vals > 0
    big = np.flatnonzero(counts > k)
    if big.size:
        # The k-th largest value of each long row: partition rows grouped by the power
        # of two that bounds their length (padding with -inf at most doubles the work).
        threshold = np.zeros(n, dtype=vals.dtype)
        width = np.left_shift(1, np.ceil(np.log2(counts[big])).astype(np.int64))
        masked = np.where(keep, vals, -np.inf).astype(vals.dtype, copy=False)
        for w in np.unique(width).tolist():
            group = big[width == w]
            at = indptr[group][:, None] + np.arange(w)[None, :]
            inside = np.arange(w)[None, :] < counts[group][:, None]
            padded = np.where(inside, masked[np.minimum(at, vals.shape[0] - 1)], -np.inf)
            threshold[group] = np.partition(padded, w - k, axis=1)[:, w - k]
        rows_all = np.repeat(np.arange(n, dtype=np.int64), counts)
        keep &= vals >= threshold[rows_all]
        kept = np.flatnonzero(keep)
        rows = rows_all[kept]
    else:
        kept = np.flatnonzero(keep)
        rows = np.repeat(np.arange(n, dtype=np.int64), counts)[kept]
    cols = matrix.indices[kept].astype(np.int64)
    vals = vals[kept]
    order = np.lexsort((cols, -vals, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    rank = np.arange(rows.shape[0]) - np.searchsorted(rows, rows, side="left")
    top = rank < k
    return (rows[top], rank[top]), cols[top], vals[top]
