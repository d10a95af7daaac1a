"""Item text: tokenising, a query vocabulary, and TF-IDF/SVD and collaborative embeddings."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

_TOKEN = re.compile(r"[a-z][a-z0-9'\-]*[a-z0-9]|[a-z]")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "or",
        "the",
        "of",
        "for",
        "to",
        "in",
        "on",
        "with",
        "by",
        "at",
        "from",
        "as",
        "is",
        "are",
        "be",
        "it",
        "its",
        "this",
        "that",
        "oz",
        "fl",
        "ml",
        "g",
        "x",
        "pack",
        "count",
        "pcs",
        "pc",
        "set",
        "new",
        "size",
        "one",
        "two",
        "unknown",
    ]
)


def word_tokens(text: str) -> list[str]:
    """The model's word splitter: lower-cased word tokens (letters first, digits inside).

    Used to build the model's vocabulary and text embeddings; the simulated search
    engine's own analyser is ``sim.search.search_terms``.
    """
    return _TOKEN.findall(text.lower())


@dataclass
class Vocabulary:
    """The catalogue word vocabulary the query head decodes from.

    Attributes:
        words: Shape ``(v,)`` list of words; id = position.
        idf: Shape ``(v,)`` float64 inverse document frequency over items.
        item_words: Per item, int64 ids of its distinct title words (title order).
        item_query: Shape ``(n_items, max_words)`` int64 canonical query of each item
            (its most specific words, highest IDF first), ``-1`` padded.
    """

    words: list[str]
    idf: np.ndarray
    item_words: list[np.ndarray]
    item_query: np.ndarray

    @property
    def size(self) -> int:
        """Number of words."""
        return len(self.words)

    def index(self) -> dict[str, int]:
        """Word → id mapping."""
        return {w: i for i, w in enumerate(self.words)}

    def encode(self, text: str, index: dict[str, int] | None = None) -> np.ndarray:
        """Vocabulary ids of the known words of ``text`` (distinct, in order).

        Args:
            text: Any text.
            index: :meth:`index` (pass it when encoding many texts).
        """
        ix = index if index is not None else self.index()
        out: list[int] = []
        for t in word_tokens(text):
            j = ix.get(t)
            if j is not None and j not in out:
                out.append(j)
        return np.array(out, dtype=np.int64)

    def set_item_queries(self, queries: list[str]) -> None:
        """Replace every item's canonical query by the known words of ``queries[i]``.

        Items whose text has no known word keep their current query.

        Args:
            queries: One query text per item.
        """
        if len(queries) != len(self.item_query):
            raise ValueError(f"{len(queries)} queries for {len(self.item_query)} items")
        q, ix = self.item_query.shape[1], self.index()
        for i, text in enumerate(queries):
            ids = self.encode(text, ix)[:q]
            if len(ids):
                self.item_query[i] = -1
                self.item_query[i, : len(ids)] = ids

    def decode(self, ids: np.ndarray) -> str:
        """Space-joined words of ``ids`` (``-1`` ignored)."""
        return " ".join(self.words[int(i)] for i in ids if i >= 0)


def build_vocabulary(
    texts: list[str], min_df: int = 2, max_df_frac: float = 0.2, max_words: int = 4
) -> Vocabulary:
    """Build the query vocabulary and each item's canonical query.

    Args:
        texts: ``n_items`` item texts.
        min_df: Minimum number of items a word must occur in.
        max_df_frac: Words in more than this fraction of items are dropped.
        max_words: Length of canonical item queries.

    Returns:
        A :class:`Vocabulary`.
    """
    toks = [[t for t in dict.fromkeys(word_tokens(s)) if t not in STOPWORDS] for s in texts]
    df = Counter(t for ts in toks for t in ts)
    n = max(len(texts), 1)
    words = sorted(
        w for w, c in df.items() if min_df <= c <= max_df_frac * n or (c >= min_df and n < 20)
    )
    ix = {w: i for i, w in enumerate(words)}
    idf = np.log((1 + n) / (1 + np.array([df[w] for w in words], dtype=np.float64))) + 1.0
    item_words = [np.array([ix[t] for t in ts if t in ix], dtype=np.int64) for ts in toks]
    item_query = np.full((len(texts), max_words), -1, dtype=np.int64)
    for i, iw in enumerate(item_words):
        if len(iw):
            best = iw[np.argsort(-idf[iw], kind="stable")][:max_words]
            item_query[i, : len(best)] = best
    return Vocabulary(words, idf, item_words, item_query)


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _truncated_svd(m: sp.spmatrix, k: int, seed: int) -> np.ndarray:
    """Left singular vectors scaled by singular values (rows of ``m`` embedded)."""
    k = max(1, min(k, min(m.shape) - 1))
    v0 = np.random.default_rng(seed).standard_normal(min(m.shape))
    u, s, _ = svds(m.astype(np.float64), k=k, v0=v0)
    order = np.argsort(-s)
    return u[:, order] * s[order]


def text_embeddings(texts: list[str], dim: int = 64, seed: int = 0) -> np.ndarray:
    """TF-IDF (sublinear, unigrams) + truncated SVD item embeddings.

    Args:
        texts: ``n_items`` item texts.
        dim: Embedding dimension.
        seed: Seed of the SVD start vector.

    Returns:
        Shape ``(n_items, dim)`` float64, rows L2-normalised (all zero without any text).
    """
    toks = [word_tokens(s) for s in texts]
    vocab = {w: i for i, w in enumerate(sorted({t for ts in toks for t in ts}))}
    rows, cols, vals = [], [], []
    for r, ts in enumerate(toks):
        for w, c in Counter(ts).items():
            rows.append(r)
            cols.append(vocab[w])
            vals.append(1.0 + np.log(c))
    m = sp.csr_matrix((vals, (rows, cols)), shape=(len(texts), max(len(vocab), 2)))
    df = np.bincount(m.indices, minlength=m.shape[1])
    m = m @ sp.diags(np.log((1 + len(texts)) / (1 + df)) + 1.0)
    m = sp.csr_matrix(_normalise_rows_sparse(m))
    out = np.zeros((len(texts), dim))
    if m.nnz == 0:  # no text at all: no text signal (SIDs then come from behaviour alone)
        return out
    emb = _truncated_svd(m, dim, seed)
    out[:, : emb.shape[1]] = emb
    return _normalise_rows(out)


def _normalise_rows_sparse(m: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    return sp.diags(1.0 / np.maximum(norms, 1e-12)) @ m


def collaborative_embeddings(
    sequences: list[np.ndarray], n_items: int, dim: int = 32, window: int = 3, seed: int = 0
) -> np.ndarray:
    """Item factors from an SVD of the positive PMI of windowed co-occurrence.

    Args:
        sequences: Chronological training item sequences.
        n_items: Number of items.
        dim: Factor dimension.
        window: Items within this distance co-occur.
        seed: Seed of the SVD start vector.

    Returns:
        Shape ``(n_items, dim)`` float64, rows L2-normalised (zero rows for unseen items).
    """
    rows, cols = [], []
    for s in sequences:
        s = np.asarray(s, dtype=np.int64)
        for k in range(1, window + 1):
            if len(s) > k:
                rows.append(s[:-k])
                cols.append(s[k:])
    out = np.zeros((n_items, dim))
    if not rows:
        return out
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    co = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n_items, n_items))
    co = (co + co.T).tocsr()
    co.sum_duplicates()
    tot = co.sum()
    deg = np.asarray(co.sum(axis=1)).ravel()
    coo = co.tocoo()
    pmi = np.log(coo.data * tot / (deg[coo.row] * deg[coo.col]))
    keep = pmi > 0
    ppmi = sp.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=co.shape)
    emb = _truncated_svd(ppmi, dim, seed)
    out[:, : emb.shape[1]] = emb
    return _normalise_rows(out)
