"""A hand-written policy for the feed environments (an example and a test baseline)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from sim.events import EventType

__all__ = ["title_match_policy"]

_POSITIVE = (int(EventType.CLICK), int(EventType.SEARCH_CLICK))


def title_match_policy(env: Any, seed: int = 0) -> Callable[[dict[str, Any]], np.ndarray]:
    """More-like-what-you-clicked-or-searched: TF-IDF title match, from observations only.

    The user profile is the sum of the IDF-weighted title words of the items clicked in
    the observed history plus the words of the session's last query; items are scored
    by their title's match with the profile. Items already in the history are not
    shown again. Without a profile, page ``p`` shows ranks ``p*S .. (p+1)*S - 1`` of a
    fixed random order of the available items.

    Args:
        env: A feed env (single or population, possibly wrapped); only its public
            catalogue view is read.
        seed: Seed of the fixed random order (tie-breaks and cold start).

    Returns:
        ``policy(obs) -> action``, one observation to one slate (shape ``(S,)``).
    """
    base = env.unwrapped
    view = base.catalog_view()
    size = base.slate_size
    word_id = {w: i for i, w in enumerate(view.vocabulary)}
    rows, cols = [], []
    for item, title in enumerate(view.titles):
        for w in set(title.split()):
            rows.append(item)
            cols.append(word_id[w])
    n_items, n_words = len(view.titles), len(view.vocabulary)
    m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_items, n_words + 1))
    df = np.asarray(m.sum(axis=0)).ravel()
    idf = np.log((1.0 + n_items) / (1.0 + df))
    m = (m @ sp.diags(idf)).tocsr()
    rng = np.random.default_rng(seed)
    tiebreak = rng.random(n_items) * 1e-6
    available = np.asarray(view.available)
    cold = rng.permutation(np.flatnonzero(available))

    def policy(obs: dict[str, Any]) -> np.ndarray:
        items, kinds = obs["history_item_ids"], obs["history_behaviour"]
        liked = items[np.isin(kinds, _POSITIVE) & (items >= 0)]
        query = obs["query_word_ids"][obs["query_word_ids"] >= 0]
        profile = np.asarray(m[liked].sum(axis=0)).ravel() if liked.size else np.zeros(n_words + 1)
        profile[query] += idf[query] * 2.0
        if not profile.any():
            start = int(obs["page_index"]) * size
            return cold[(start + np.arange(size)) % cold.shape[0]]
        score = m @ profile + tiebreak
        score[~available] = -np.inf
        score[items[items >= 0]] = -np.inf
        return np.argsort(-score, kind="stable")[:size].astype(np.int64)

    return policy
