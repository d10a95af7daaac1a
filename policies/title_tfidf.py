"""TF-IDF title vectors and users' title profiles (the textbook content-based recommender).

Items are their titles' binary word vectors weighted by inverse document frequency; a
user's profile is the decayed sum of the word vectors of the items they clicked; an
item's score is the cosine of the two in the idf-weighted space (Pazzani & Billsus
2007). Only titles and logged clicks are read. Storage is sparse: profiles grow with
the words users clicked, never with users × vocabulary.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from onefeed.text import word_tokens
from policies.history import positive_interactions

__all__ = ["TitleTfidf"]


class TitleTfidf:
    """TF-IDF title space and per-user profiles.

    Args:
        n_users: Number of users.
        decay: Per-episode decay of the profiles, in ``(0, 1]``.
    """

    def __init__(self, n_users: int, decay: float = 0.85) -> None:
        self.n_users = int(n_users)
        self.decay = float(decay)
        self.word_index: dict[str, int] = {}
        self.items = sp.csr_matrix((0, 0))
        self.profiles = sp.csr_matrix((self.n_users, 0))

    def set_catalog(self, titles: list[str]) -> None:
        """(Re)build the item word vectors for the whole current catalogue.

        New words get new columns (existing profiles keep theirs); inverse document
        frequencies ``log(n_items / df)`` are recomputed over every title.
        """
        toks = [sorted(set(word_tokens(t))) for t in titles]
        for ts in toks:
            for w in ts:
                self.word_index.setdefault(w, len(self.word_index))
        n_words = len(self.word_index)
        rows = np.repeat(np.arange(len(toks)), [len(ts) for ts in toks])
        cols = np.array([self.word_index[w] for ts in toks for w in ts], dtype=np.int64)
        self.items = sp.csr_matrix(
            (np.ones(rows.shape[0]), (rows, cols)), shape=(len(toks), n_words)
        )
        df = np.asarray(self.items.sum(axis=0)).ravel()
        self.idf = np.log(max(len(toks), 1) / np.maximum(df, 1.0))
        weighted = self.items @ sp.diags(self.idf)
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        self._item_unit = (sp.diags(1.0 / np.maximum(norms, 1e-12)) @ weighted).tocsr()
        if self.profiles.shape[1] < n_words:
            self.profiles.resize((self.n_users, n_words))

    def add_episode(self, events: pd.DataFrame) -> None:
        """Decay the profiles, then add the binary title vectors of the clicked items."""
        pos = positive_interactions(events)
        users = pos["user_id"].to_numpy(np.int64)
        items = pos["item_id"].to_numpy(np.int64)
        ok = items < self.items.shape[0]
        clicks = sp.csr_matrix(
            (np.ones(int(ok.sum())), (users[ok], items[ok])),
            shape=(self.n_users, self.items.shape[0]),
        )
        self.profiles = (self.profiles * self.decay + clicks @ self.items).tocsr()

    def affinity(self, users: np.ndarray) -> np.ndarray:
        """Shape ``(n, n_items)`` cosine of each user's profile with every item (idf space).

        Users without a profile score 0 everywhere.
        """
        prof = self.profiles[np.asarray(users, dtype=np.int64)] @ sp.diags(self.idf)
        norms = np.sqrt(np.asarray(prof.multiply(prof).sum(axis=1)).ravel())
        prof = sp.diags(1.0 / np.maximum(norms, 1e-12)) @ prof
        return np.asarray((prof @ self._item_unit.T).todense())
