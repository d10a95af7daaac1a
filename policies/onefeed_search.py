"""The search page of the OneFeed policy: re-ranking with a click model learnt from logs.

The engine returns BM25 candidates; OneFeed re-ranks them per user by a linear score
over the features of :data:`SEARCH_FEATURES`, for one (query, result) pair each:

* ``bm25``: the engine's score, z-scored within the query;
* ``query_text``: cosine of the query and the title in the policy's word-group space;
* ``aligned``: cosine of the query's text embedding and the item's semantic-ID
  embedding in the space the SID–query alignment objective trains (the model's own
  notion of which SIDs a query means);
* ``click_text``: how strongly the query's words led users to click the item before —
  query-log document expansion: every search click adds its query's words to the
  clicked item's *click text* (so words users type but titles lack, such as synonyms,
  become matchable), scored as the IDF-weighted mean over the query's words of
  ``log(1 + decayed clicks of (word, item))``;
* ``profile``: cosine of the user's title profile and the item;
* ``model``: the OneFeed user state's score of the item, z-scored within the query;
* ``popularity``, ``quality``: the item prior of the feed (recent clicks, examined click
  rate);
* ``search_rate``: logit of the item's smoothed click rate among the search results
  users examined;
* ``skipped``: 1 if the item is in the user's recent behaviour (skipped in the feed, or
  otherwise seen) but not consumed. Consumed items are not a feature: they always go
  last, as the feed never serves them again.

The weights start at hand-set values and are refitted after every episode as a
*cascade click model* (Craswell et al. 2008) by EM (:class:`CascadeRanker`): users scan
results top-down and stop at the first click, so a query clicked at position ``p``
says ``0 .. p - 1`` were skipped and ``p`` clicked, and an unclicked query's results
were skipped with the posterior probability that they were examined. The features are
those the policy computed when it ranked the results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from onefeed.text import word_tokens
from policies.log_view import names
from policies.onefeed_ranker import fit_logistic, linear_score

__all__ = [
    "SEARCH_FEATURES",
    "CascadeRanker",
    "SearchClickStats",
    "SearchFeatureMemory",
    "SearchQueries",
    "cascade_examined",
    "cascade_success",
    "clicked_result_lists",
    "no_click_examination",
    "reciprocal_rank_of_clicks",
    "search_ranker",
]

#: Search ranking features, in the column order of every feature array.
SEARCH_FEATURES: tuple[str, ...] = (
    "bm25",
    "query_text",
    "aligned",
    "click_text",
    "profile",
    "model",
    "popularity",
    "quality",
    "search_rate",
    "skipped",
)

#: Starting weights: BM25 plus the title-space relevance, a little personalisation and
#: prior; the learnt features start at 0 until feedback says what they are worth.
_START_WEIGHTS = {
    "bm25": 1.0,
    "query_text": 2.0,
    "aligned": 0.0,
    "click_text": 0.0,
    "profile": 0.5,
    "model": 0.3,
    "popularity": 0.5,
    "quality": 0.25,
    "search_rate": 0.0,
    "skipped": 0.0,
}


def search_ranker(memory_episodes: int) -> CascadeRanker:
    """A :class:`CascadeRanker` over :data:`SEARCH_FEATURES` with the starting weights."""
    start = np.array([_START_WEIGHTS[f] for f in SEARCH_FEATURES])
    return CascadeRanker(start, memory_episodes=memory_episodes)


def cascade_examined(events: pd.DataFrame) -> pd.DataFrame:
    """The search results a cascade model says were examined, with their outcome.

    Under the cascade model the user scans results top-down and stops at the first
    click; results below it were not examined. A query without a click was examined at
    least at position 0.

    Example: a query showing items ``[7, 3, 9]`` with a click on 3 (position 1) yields
    ``(7, skipped)`` and ``(3, clicked)``; without a click it yields ``(7, skipped)``.

    Args:
        events: A log slice (``event``, ``query_id``, ``item_id``, ``position``).

    Returns:
        Columns ``query_id, item_id, position, clicked`` (bool), one row per examined
        result.
    """
    kind = names(events["event"])
    shown = events.loc[kind == "search_impression", ["query_id", "item_id", "position"]]
    clicks = events.loc[kind == "search_click", ["query_id", "position"]]
    first = clicks.groupby("query_id")["position"].min()
    limit = shown["query_id"].map(first)
    clicked_query = limit.notna().to_numpy()
    pos = shown["position"].to_numpy(np.int64)
    lim = limit.fillna(0).to_numpy(np.int64)
    keep = pos <= lim
    out = shown.loc[keep, ["query_id", "item_id", "position"]].copy()
    out["clicked"] = (clicked_query & (pos == lim))[keep]
    return out.reset_index(drop=True)


def clicked_result_lists(events: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Every clicked query of a log slice with its displayed results.

    Returns:
        ``(texts, items, click_pos)``: the ``n`` query strings, shape ``(n, D)`` displayed
        item ids by position (``-1`` padded) and shape ``(n,)`` first-click positions.
    """
    kind = names(events["event"])
    clicks = events.loc[kind == "search_click", ["query_id", "position"]]
    first = clicks.groupby("query_id")["position"].min()
    issued = events.loc[kind == "query", ["query_id", "query"]].drop_duplicates("query_id")
    text_of = dict(zip(issued["query_id"].tolist(), issued["query"].tolist(), strict=True))
    qids = np.array([q for q in first.index.tolist() if q in text_of], dtype=np.int64)
    shown = events.loc[
        (kind == "search_impression") & events["query_id"].isin(qids),
        ["query_id", "item_id", "position"],
    ]
    if qids.size == 0 or shown.empty:
        return [], np.zeros((0, 1), np.int64), np.zeros(0, np.int64)
    row = np.searchsorted(qids, shown["query_id"].to_numpy(np.int64))
    pos = shown["position"].to_numpy(np.int64)
    items = np.full((qids.size, int(pos.max()) + 1), -1, dtype=np.int64)
    items[row, pos] = shown["item_id"].to_numpy(np.int64)
    texts = [str(text_of[int(q)]) for q in qids]
    return texts, items, first.loc[qids].to_numpy(np.int64)


def reciprocal_rank_of_clicks(
    scores: np.ndarray, items: np.ndarray, click_pos: np.ndarray
) -> float:
    """Mean reciprocal rank of each clicked result when its list is re-sorted by ``scores``.

    Ties count against the clicked result (its rank is 1 + the number of other displayed
    results scoring at least as high). Example: scores ``[0.1, 0.9, 0.5]`` with the click
    at position 2 rank it second (only 0.9 is higher): reciprocal rank 1/2.

    Args:
        scores: Shape ``(n, D)`` a score of every displayed result.
        items: Shape ``(n, D)`` displayed item ids (``-1`` padded).
        click_pos: Shape ``(n,)`` positions of the clicked results.

    Returns:
        The mean over the ``n`` lists (NaN for none).
    """
    if click_pos.size == 0:
        return float("nan")
    n = click_pos.size
    clicked = scores[np.arange(n), click_pos]
    others = (items >= 0) & (scores >= clicked[:, None])
    others[np.arange(n), click_pos] = False
    return float(np.mean(1.0 / (1.0 + others.sum(axis=1))))


class SearchClickStats:
    """What logged search feedback says about items: click text and search click rate.

    Args:
        n_items: Catalogue size (grows with :meth:`grow`).
        rate_prior: Pseudo-examinations of the click-rate prior.
    """

    def __init__(self, n_items: int, rate_prior: float = 10.0) -> None:
        self.rate_prior = float(rate_prior)
        self.word_index: dict[str, int] = {}
        self.counts = sp.csr_matrix((0, n_items))
        self.examined = np.zeros(n_items)
        self.clicked = np.zeros(n_items)
        #: Sorted ``word·2³² + item`` keys of the (word, item) click counts, and
        #: ``log(1 + count)`` of each.
        self._keys = np.zeros(0, dtype=np.int64)
        self._log_counts = np.zeros(0)
        self._idf = np.zeros(0)

    @property
    def n_items(self) -> int:
        """Number of items covered."""
        return int(self.examined.shape[0])

    def grow(self, n_items: int) -> None:
        """Cover ``n_items`` items (new items start with no search feedback)."""
        extra = n_items - self.n_items
        if extra > 0:
            self.examined = np.pad(self.examined, (0, extra))
            self.clicked = np.pad(self.clicked, (0, extra))
            self.counts = sp.csr_matrix(
                (self.counts.data, self.counts.indices, self.counts.indptr),
                shape=(self.counts.shape[0], n_items),
            )
            self._refresh()

    def add_episode(self, events: pd.DataFrame, decay: float) -> None:
        """Decay the statistics by ``decay``, then add one episode's search feedback."""
        seen = cascade_examined(events)
        item = seen["item_id"].to_numpy(np.int64)
        ok = (item >= 0) & (item < self.n_items)
        self.examined *= decay
        self.clicked *= decay
        np.add.at(self.examined, item[ok], 1.0)
        np.add.at(self.clicked, item[ok & seen["clicked"].to_numpy(bool)], 1.0)
        kind = names(events["event"])
        issued = events.loc[kind == "query", ["query_id", "query"]]
        text_of = dict(zip(issued["query_id"].tolist(), issued["query"].tolist(), strict=True))
        click = events.loc[kind == "search_click", ["query_id", "item_id"]]
        rows, cols = [], []
        for qid, it in zip(click["query_id"].tolist(), click["item_id"].tolist(), strict=True):
            text = text_of.get(qid)
            if not 0 <= it < self.n_items or text is None:
                continue
            for word in dict.fromkeys(word_tokens(str(text))):
                rows.append(self.word_index.setdefault(word, len(self.word_index)))
                cols.append(it)
        shape = (len(self.word_index), self.n_items)
        new = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)
        old = self.counts * decay
        old.resize(shape)
        self.counts = (old + new).tocsr()
        self._refresh()

    def _refresh(self) -> None:
        """Cache ``log(1 + counts)`` per (word, item) pair and the words' IDF."""
        coo = self.counts.tocoo()
        keys = (coo.row.astype(np.int64) << 32) + coo.col.astype(np.int64)
        order = np.argsort(keys, kind="stable")
        self._keys, self._log_counts = keys[order], np.log1p(coo.data)[order]
        items_per_word = np.diff(self.counts.indptr)
        self._idf = np.log1p(self.n_items / (1.0 + items_per_word))

    def click_text(self, queries: list[str], candidates: np.ndarray) -> np.ndarray:
        """Click-text match of each candidate with its query, shape ``(n, k)``.

        ``sum_w idf_w log(1 + c_wi) / sum_w idf_w`` over the query's words ``w`` seen in
        earlier queries (0 for a query without such words or a ``-1`` candidate); the
        terms are added in the order of the query's words. Each distinct query text is
        analysed once; the pairs are looked up in the sorted (word, item) keys.

        Args:
            queries: ``n`` query strings.
            candidates: Shape ``(n, k)`` item ids, ``-1`` padded.
        """
        n, k = candidates.shape
        out = np.zeros((n, k))
        if n == 0 or self._keys.size == 0:
            return out
        index: dict[str, int] = {}
        row_text = np.fromiter(
            (index.setdefault(q or "", len(index)) for q in queries), np.int64, count=n
        )
        word_lists = []
        for text in index:
            ids = [self.word_index.get(w) for w in dict.fromkeys(word_tokens(text))]
            word_lists.append([j for j in ids if j is not None])
        width = max((len(w) for w in word_lists), default=0)
        if width == 0:
            return out
        words = np.full((len(word_lists), width), -1, dtype=np.int64)
        for t, ids in enumerate(word_lists):
            words[t, : len(ids)] = ids
        words = words[row_text]
        cand = candidates.astype(np.int64)
        total = np.zeros(n)
        for slot in range(width):
            has = words[:, slot] >= 0
            word = np.where(has, words[:, slot], 0)
            weight = np.where(has, self._idf[word], 0.0)
            query = (word << 32)[:, None] + cand
            at = np.clip(np.searchsorted(self._keys, query), 0, self._keys.size - 1)
            value = np.where(self._keys[at] == query, self._log_counts[at], 0.0)
            out[has] += weight[has, None] * value[has]
            total[has] += weight[has]
        out /= np.maximum(total, 1e-12)[:, None]
        return np.where(candidates >= 0, out, 0.0)

    def rate_logit(self) -> np.ndarray:
        """Shape ``(n_items,)`` logit of the smoothed search click rate of each item."""
        prior = (self.clicked.sum() + 1.0) / (self.examined.sum() + 2.0)
        rate = (self.clicked + self.rate_prior * prior) / (self.examined + self.rate_prior)
        return np.log(rate / (1.0 - rate))


class SearchFeatureMemory:
    """The features each ranked search result had, kept until the episode's update.

    Attributes:
        parts: Per ranked batch, ``(query ids, items, features)`` of its results; the
            order of the parts does not matter (each query is ranked once).
    """

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def remember(self, query_ids: np.ndarray, candidates: np.ndarray, x: np.ndarray) -> None:
        """Keep ``x`` (shape ``(n, k, F)``) of ``candidates`` (``(n, k)``) per query."""
        qid = np.broadcast_to(np.asarray(query_ids, np.int64)[:, None], candidates.shape)
        ok = candidates >= 0
        self.parts.append((qid[ok], candidates[ok].astype(np.int64), x[ok].astype(np.float32)))

    def displayed(self, events: pd.DataFrame) -> SearchQueries:
        """The episode's ranked queries as displayed, with their features; then forget.

        Joins the remembered features with the logged search impressions (the results
        as displayed, by position) and clicks.
        """
        parts, self.parts = self.parts, []
        n_feat = parts[0][2].shape[1] if parts else len(SEARCH_FEATURES)
        kind = names(events["event"])
        shown = events.loc[kind == "search_impression", ["query_id", "item_id", "position"]]
        if not parts or shown.empty:
            return SearchQueries.empty(n_feat)
        keys = pd.DataFrame({
            "query_id": np.concatenate([p[0] for p in parts]),
            "item_id": np.concatenate([p[1] for p in parts]),
        })  # fmt: skip
        x = np.concatenate([p[2] for p in parts])
        keys["row"] = np.arange(len(keys))
        keys = keys.drop_duplicates(["query_id", "item_id"], keep="last")
        joined = shown.merge(keys, on=["query_id", "item_id"], how="inner")
        qids, q_index = np.unique(joined["query_id"].to_numpy(np.int64), return_inverse=True)
        pos = joined["position"].to_numpy(np.int64)
        depth = int(pos.max()) + 1
        features = np.full((qids.size, depth, n_feat), np.nan)
        features[q_index, pos] = x[joined["row"].to_numpy(np.int64)]
        valid = np.zeros((qids.size, depth), dtype=bool)
        valid[q_index, pos] = True
        clicks = events.loc[kind == "search_click", ["query_id", "position"]]
        first = clicks.groupby("query_id")["position"].min()
        click_pos = pd.Series(qids).map(first).fillna(-1).to_numpy(np.int64)
        # A query whose displayed prefix lacks features (ranked before the first fit)
        # cannot be used; so is a click on a result without features.
        complete = np.array([valid[i, : max(c, 0) + 1].all() for i, c in enumerate(click_pos)])
        return SearchQueries(features[complete], valid[complete], click_pos[complete])

    def clear(self) -> None:
        """Forget the remembered features."""
        self.parts = []


@dataclass(frozen=True)
class SearchQueries:
    """Displayed search results of many queries, padded to a common depth ``D``.

    Attributes:
        features: Shape ``(n, D, F)`` features of the result at each position (NaN pad).
        valid: Shape ``(n, D)`` which positions showed a result.
        click_pos: Shape ``(n,)`` position of the first click, ``-1`` for none.
    """

    features: np.ndarray
    valid: np.ndarray
    click_pos: np.ndarray

    @classmethod
    def empty(cls, n_features: int) -> SearchQueries:
        """No queries."""
        return cls(np.zeros((0, 1, n_features)), np.zeros((0, 1), bool), np.zeros(0, np.int64))

    @staticmethod
    def concat(parts: list[SearchQueries]) -> SearchQueries:
        """Queries of several episodes, padded to the largest depth."""
        depth = max(p.valid.shape[1] for p in parts)
        n_feat = parts[0].features.shape[2]

        def pad(a: np.ndarray, value: float) -> np.ndarray:
            width = [(0, 0), (0, depth - a.shape[1])] + [(0, 0)] * (a.ndim - 2)
            return np.pad(a, width, constant_values=value)

        return SearchQueries(
            np.concatenate([pad(p.features, np.nan) for p in parts]).reshape(-1, depth, n_feat),
            np.concatenate([pad(p.valid, False) for p in parts]),
            np.concatenate([p.click_pos for p in parts]),
        )


def cascade_success(click: np.ndarray, valid: np.ndarray, continue_prob: float) -> np.ndarray:
    """Probability of a click on a ranked result list under the cascade model.

    ``sum_j (prod_{i<j} c (1 - r_i)) r_j`` over the displayed positions ``j``.
    Example: ``r = (0.5, 0.5)``, ``c = 0.5``: ``0.5 + 0.5 · 0.5 · 0.5 = 0.625``.

    Args:
        click: Shape ``(n, D)`` click probabilities of examined results, in rank order.
        valid: Shape ``(n, D)`` displayed positions.
        continue_prob: ``c``.

    Returns:
        Shape ``(n,)``.
    """
    r = np.where(valid, click, 0.0)
    reach = np.ones_like(r)
    reach[:, 1:] = np.cumprod(continue_prob * (1.0 - r[:, :-1]), axis=1)
    return (reach * r).sum(axis=1)


def no_click_examination(
    relevance: np.ndarray, valid: np.ndarray, continue_prob: float
) -> np.ndarray:
    """``P(position j examined | no click on the query)`` under the cascade model.

    The user examines position 0, clicks an examined result with probability ``r_j``,
    and after a skip goes on to the next displayed result with probability ``c``. With
    ``s_j = 1 - r_j``: ``P(reach j, no click before j) = prod_{i<j} c s_i``, and the
    probability of no click from ``j`` on given ``j`` is reached is
    ``T_j = s_j ((1 - c) + c T_{j+1})`` (``T`` of the last displayed result is ``s``).
    Then ``P(examined j | no click) = A_j T_j / T_0``.

    Example: two results with ``r = (0.5, 0.5)`` and ``c = 0.5``: ``T_1 = 0.5``,
    ``T_0 = 0.5 (0.5 + 0.5 · 0.5) = 0.375``, ``A_1 = 0.25``; so position 1 was examined
    with probability ``0.25 · 0.5 / 0.375 = 1/3``.

    Args:
        relevance: Shape ``(n, D)`` click probabilities ``r`` of examined results.
        valid: Shape ``(n, D)`` displayed positions (a prefix of each row).
        continue_prob: ``c``.

    Returns:
        Shape ``(n, D)``; 0 where not displayed.
    """
    n, depth = relevance.shape
    skip = np.where(valid, 1.0 - relevance, 1.0)
    tail = np.ones((n, depth + 1))
    for j in range(depth - 1, -1, -1):
        last = ~valid[:, j + 1] if j + 1 < depth else np.ones(n, dtype=bool)
        after = np.where(last, 1.0, (1.0 - continue_prob) + continue_prob * tail[:, j + 1])
        tail[:, j] = np.where(valid[:, j], skip[:, j] * after, 1.0)
    reach = np.ones((n, depth))
    reach[:, 1:] = np.cumprod(continue_prob * skip[:, :-1], axis=1)
    out = reach * tail[:, :depth] / np.maximum(tail[:, :1], 1e-300)
    return np.where(valid, out, 0.0)


@dataclass
class CascadeRanker:
    """A linear search ranking score fitted as a cascade click model by EM.

    ``P(click | examined) = sigmoid(b + w · x)``; examination follows the cascade model
    with a continuation probability ``c`` estimated from the logs too. A query clicked
    at position ``p`` says positions ``0 .. p - 1`` were examined and skipped and ``p``
    clicked; a query without a click says only that no examined result was clicked,
    so its results count as skips weighted by :func:`no_click_examination` (E-step).
    The M-step is a weighted logistic regression for ``(b, w)`` and the expected share
    of continuations for ``c``. Dropping the unclicked queries' lower results instead
    would keep mostly negatives the current ranking put on top, and the fit would learn
    to invert it.

    Args:
        weights: Shape ``(F,)`` initial weights (used until the first fit).
        memory_episodes: Episodes of search feedback kept for the fit.
        l2: L2 penalty on the weights.
        min_clicks: Clicked queries needed in memory before the first fit.
        em_iterations: EM iterations per fit.
    """

    weights: np.ndarray
    memory_episodes: int = 3
    l2: float = 1e-3
    min_clicks: int = 50
    em_iterations: int = 5
    intercept: float = -1.0
    continue_prob: float = 0.5
    n_fits: int = 0
    _memory: list[SearchQueries] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.weights = np.asarray(self.weights, dtype=np.float64).copy()

    def score(self, features: list[np.ndarray]) -> np.ndarray:
        """Weighted sum of feature arrays of any common shape (one per feature)."""
        return linear_score(self.weights, features)

    def observe(self, queries: SearchQueries) -> None:
        """Remember one episode's displayed queries (older episodes are dropped)."""
        self._memory.append(queries)
        del self._memory[: -self.memory_episodes]

    def fit(self) -> bool:
        """Refit ``(b, w, c)`` on the remembered queries; ``False`` if too few clicks."""
        if not self._memory:
            return False
        q = SearchQueries.concat(self._memory)
        if (q.click_pos >= 0).sum() < self.min_clicks:
            return False
        depth = q.valid.shape[1]
        pos = np.arange(depth)[None, :]
        clicked = q.click_pos >= 0
        # Clicked queries: positions up to the click are examined for sure.
        sure = clicked[:, None] & (pos <= q.click_pos[:, None]) & q.valid
        label = (pos == q.click_pos[:, None]).astype(np.float64)
        open_rows = ~clicked[:, None] & q.valid
        x = np.nan_to_num(q.features)
        theta = np.concatenate([[self.intercept], self.weights])
        c = self.continue_prob
        # Continuation trials of clicked queries: every skip before the click went on.
        clicked_trials = float(np.maximum(q.click_pos, 0).sum())
        for _ in range(self.em_iterations):
            r = 1.0 / (1.0 + np.exp(-(theta[0] + x @ theta[1:])))
            seen = no_click_examination(r, open_rows, c)
            weight = np.where(sure, 1.0, np.where(open_rows, seen, 0.0))
            use = weight > 1e-6
            theta = fit_logistic(x[use], label[use], weight[use], theta, self.l2)
            # c: expected continuations / expected decisions (not at a row's last result).
            has_next = np.zeros_like(open_rows)
            has_next[:, :-1] = open_rows[:, 1:]
            went_on = (np.where(has_next[:, :-1], seen[:, 1:], 0.0)).sum()
            decisions = np.where(has_next, seen, 0.0).sum()
            c = float(np.clip(
                (clicked_trials + went_on) / max(clicked_trials + decisions, 1e-12), 0.01, 0.99
            ))  # fmt: skip
        self.intercept, self.weights, self.continue_prob = float(theta[0]), theta[1:].copy(), c
        self.n_fits += 1
        return True
