"""Turning logged implicit feedback into OneFeed's inputs: behaviour and feedback logs.

Only observable, logged events are used (clicks, dwell, skips, queries, search clicks,
suggestions); never a user's latent state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from onefeed import BehaviourSequence, FeedbackLog
from onefeed import EventType as Behaviour
from onefeed.text import word_tokens
from policies.log_view import names
from policies.onefeed_feedback import EpisodeFeedback
from policies.ranking import stable_top_k, user_chunks
from sim.rowwise import rows_matmul

__all__ = ["ContentProfiles", "ServedLists", "UserHistories", "feedback_log"]


class UserHistories:
    """Each user's recent behaviour sequence, appended to after every episode.

    Args:
        n_users: Number of users.
        max_len: Events kept per user (the most recent).
        max_words: Query words kept per query event.
    """

    def __init__(self, n_users: int, max_len: int, max_words: int) -> None:
        self.max_len, self.max_words = int(max_len), int(max_words)
        empty_words = np.zeros((0, self.max_words), dtype=np.int64)
        self.sequences = [
            BehaviourSequence(np.zeros(0, np.int64), np.zeros(0, np.int64), empty_words)
            for _ in range(n_users)
        ]
        #: Per user, every item ever clicked (feed or search), sorted: unlike the
        #: sequences, never truncated, so consumed items are never served again.
        self.consumed = [np.zeros(0, np.int64) for _ in range(n_users)]
        self._keys: tuple[np.ndarray, np.ndarray] | None = None

    def add_episode(self, events: pd.DataFrame, encode_query, long_dwell_s: float) -> np.ndarray:
        """Append one episode's behaviour; return the ids of users who had any.

        Args:
            events: Log slice (columns of ``sim.events.EVENT_SCHEMA``).
            encode_query: Maps query text to vocabulary ids (``None`` before a model).
            long_dwell_s: Clicks with at least this dwell are ``LONG_DWELL`` events.
        """
        kind = names(events["event"])
        keep = np.isin(kind, ["click", "skip", "search_click", "query"])
        rows = events.loc[keep, ["user_id", "time_s", "item_id", "dwell_s", "query"]]
        kind = kind[keep]
        types = np.select(
            [kind == "click", kind == "skip", kind == "search_click", kind == "query"],
            [int(Behaviour.CLICK), int(Behaviour.SKIP), int(Behaviour.SEARCH_CLICK),
             int(Behaviour.QUERY)],
        )  # fmt: skip
        long = (kind == "click") & (rows["dwell_s"].to_numpy() >= long_dwell_s)
        types = np.where(long, int(Behaviour.LONG_DWELL), types)
        users = rows["user_id"].to_numpy(np.int64)
        order = np.lexsort((rows["time_s"].to_numpy(), users))
        users, types = users[order], types[order]
        items = rows["item_id"].to_numpy(np.int64)[order]
        texts = rows["query"].to_numpy(object)[order]
        words = np.full((users.shape[0], self.max_words), -1, dtype=np.int64)
        if encode_query is not None:
            for r in np.flatnonzero(types == int(Behaviour.QUERY)):
                ids = np.asarray(encode_query(texts[r] or ""), dtype=np.int64)[: self.max_words]
                words[r, : ids.shape[0]] = ids
        items = np.where(types == int(Behaviour.QUERY), -1, items)
        touched = np.unique(users)
        starts = np.searchsorted(users, touched, side="left")
        ends = np.searchsorted(users, touched, side="right")
        clicked = np.isin(types, [int(Behaviour.CLICK), int(Behaviour.LONG_DWELL),
                                  int(Behaviour.SEARCH_CLICK)])  # fmt: skip
        for user, start, end in zip(touched.tolist(), starts, ends, strict=True):
            new = items[start:end][clicked[start:end]]
            if new.size:
                self.consumed[user] = np.union1d(self.consumed[user], new)
            old = self.sequences[user]
            self.sequences[user] = BehaviourSequence(
                np.concatenate([old.items, items[start:end]])[-self.max_len :],
                np.concatenate([old.types, types[start:end]])[-self.max_len :],
                np.concatenate([old.query_words, words[start:end]])[-self.max_len :],
            )
        self._keys = None
        return touched

    def membership(self, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which ``(user, item)`` pairs were consumed, and which are in the recent sequence.

        Vectorised over pairs: each set is kept as one sorted array of ``user·2³² + item``
        keys, rebuilt after an episode is added.

        Args:
            users: Shape ``(n,)`` user ids.
            items: Shape ``(n, k)`` item ids (negative ids are never members).

        Returns:
            ``(consumed, recent)``: two bool arrays of shape ``(n, k)``.
        """
        if self._keys is None:
            self._keys = tuple(
                _pair_keys([np.asarray(part, np.int64) for part in parts])
                for parts in (self.consumed, [s.items[s.items >= 0] for s in self.sequences])
            )
        query = (np.asarray(users, np.int64)[:, None] << 32) + np.asarray(items, np.int64)
        out = []
        for keys in self._keys:
            at = np.clip(np.searchsorted(keys, query), 0, max(keys.size - 1, 0))
            hit = keys[at] == query if keys.size else np.zeros(query.shape, dtype=bool)
            out.append(hit & (np.asarray(items) >= 0))
        return out[0], out[1]


def _pair_keys(per_user: list[np.ndarray]) -> np.ndarray:
    """Sorted unique ``user·2³² + item`` keys of per-user item arrays."""
    sizes = [a.size for a in per_user]
    if not sum(sizes):
        return np.zeros(0, dtype=np.int64)
    users = np.repeat(np.arange(len(per_user), dtype=np.int64), sizes)
    return np.unique((users << 32) + np.concatenate(per_user))


@dataclass
class ServedLists:
    """What the policy prepared for each user for one episode.

    Attributes:
        items: Shape ``(n_users, L)`` ranked item ids (``-1`` padded).
        origin: Shape ``(n_users, L)`` int8 provenance codes.
        query_of_item: Shape ``(n_users, L)`` index of the generated query that
            retrieved each expansion item, ``-1`` for SID items.
        queries: Per user, the generated query strings (suggestions and expansion).
        histories: The behaviour sequences the model read when generating.
    """

    items: np.ndarray
    origin: np.ndarray
    query_of_item: np.ndarray
    queries: list[list[str]]
    histories: list[BehaviourSequence]

    @classmethod
    def empty(
        cls,
        n_users: int,
        length: int,
        queries: list[list[str]],
        histories: list[BehaviourSequence],
    ) -> ServedLists:
        """Lists of shape ``(n_users, length)`` to fill (uninitialised arrays)."""
        shape = (n_users, length)
        return cls(
            np.empty(shape, dtype=np.int64),
            np.empty(shape, dtype=np.int8),
            np.empty(shape, dtype=np.int64),
            queries,
            histories,
        )


def feedback_log(
    events: pd.DataFrame,
    served: ServedLists,
    encode_query,
    max_words: int,
    long_dwell_s: float,
    generated_origins: tuple[int, ...],
) -> FeedbackLog:
    """Feedback on the model's own outputs in one episode, per user.

    Positives: clicked or long-dwell generated feed items; items clicked in the results
    of a clicked suggested query; feed clicks on expansion items (credited to the query
    that retrieved them). Negatives: skipped or ignored generated items, suggested
    queries that were shown and not clicked.

    Args:
        events: The episode's log slice.
        served: What the policy prepared for the episode.
        encode_query: Maps query text to vocabulary ids.
        max_words: Query length of the model.
        long_dwell_s: Long-dwell threshold.
        generated_origins: Provenance codes (as logged names) of generated items.

    Returns:
        A :class:`onefeed.FeedbackLog` over users with any feedback.
    """
    feedback = EpisodeFeedback(
        events, served, encode_query, max_words, long_dwell_s, generated_origins
    )
    return FeedbackLog([feedback.record(i) for i in range(len(feedback))])


class ContentProfiles:
    """Users' interests in a title-text space, from their logged behaviour only.

    Words and items embed in a space of topic-like word groups learnt from title
    co-occurrence (see :meth:`set_catalog`). A user's profile is a
    decayed sum of the embeddings of the items they clicked (long dwell counts double,
    search clicks count once) and of the words of the queries they typed.

    Args:
        n_users: Number of users.
        svd_dim: Dimension of the word co-occurrence SVD.
        n_clusters: Word groups (need not equal the world's number of topics).
        temp: Softness of the word-to-group assignment.
        n_init: k-means restarts (the tightest grouping is kept).
        smooth: Context-distribution smoothing exponent of the PMI (1 = none).
        decay: Profile decay per episode.
        query_weight: Weight of a typed query relative to a click.
        seed: Seed of the SVD start vector.
    """

    def __init__(
        self, n_users: int, svd_dim: int = 20, n_clusters: int = 32, temp: float = 0.1,
        decay: float = 0.85, query_weight: float = 0.5, seed: int = 0, n_init: int = 3,
        smooth: float = 0.75,
    ) -> None:  # fmt: skip
        self.svd_dim, self.n_clusters, self.temp, self.n_init = svd_dim, n_clusters, temp, n_init
        self.smooth = smooth
        self.decay, self.query_weight, self.seed = decay, query_weight, seed
        self.dim = n_clusters
        self.profiles = np.zeros((n_users, n_clusters))
        self.item_emb = np.zeros((0, n_clusters))

    def set_catalog(self, titles: list[str]) -> None:
        """(Re)build the word and item embeddings for the current titles.

        Words embed by an SVD (``svd_dim``) of their positive PMI of co-occurrence in
        titles (context counts raised to ``smooth``, which keeps rare words from
        dominating); k-means on the unit word vectors gives ``n_clusters`` word groups
        (items of one topic share title words, so groups are topic-like); a word's
        vector is its soft assignment to the groups (softmax of cosines / ``temp``)
        scaled by the assignment's concentration, so generic words, spread over all
        groups, weigh little. An item is the sum of its words' vectors, L2-normalised.
        """
        toks = [sorted(set(word_tokens(t))) for t in titles]
        self.words = sorted({w for ts in toks for w in ts})
        self.word_index = {w: j for j, w in enumerate(self.words)}
        rows = np.repeat(np.arange(len(toks)), [len(ts) for ts in toks])
        cols = np.array([self.word_index[w] for ts in toks for w in ts], dtype=np.int64)
        incidence = sp.csr_matrix(
            (np.ones(rows.shape[0]), (rows, cols)), shape=(len(toks), len(self.words))
        )
        co = (incidence.T @ incidence).toarray()
        np.fill_diagonal(co, 0.0)
        deg = co.sum(axis=1)
        context = deg**self.smooth  # context-distribution smoothing (Levy et al. 2015)
        with np.errstate(divide="ignore", invalid="ignore"):
            joint = co / max(co.sum(), 1e-12)
            pmi = np.log(
                joint
                / np.maximum(
                    np.outer(deg / max(deg.sum(), 1e-12), context / max(context.sum(), 1e-12)),
                    1e-12,
                )
            )
        ppmi = np.where(co > 0, np.maximum(pmi, 0.0), 0.0)
        u, sv, _ = np.linalg.svd(ppmi)
        k = min(self.svd_dim, u.shape[1])
        vecs = u[:, :k] * np.sqrt(sv[:k])
        vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        rng = np.random.default_rng(self.seed)
        n_clusters = min(self.n_clusters, vecs.shape[0])
        best, best_fit = None, -np.inf
        for _ in range(self.n_init):  # k-means restarts; keep the tightest groups
            centres = vecs[rng.choice(vecs.shape[0], n_clusters, replace=False)]
            for _ in range(30):
                label = (vecs @ centres.T).argmax(axis=1)
                for c in range(n_clusters):
                    if (label == c).any():
                        centres[c] = vecs[label == c].mean(axis=0)
                centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
            fit = float((vecs @ centres.T).max(axis=1).sum())
            if fit > best_fit:
                best, best_fit = centres, fit
        centres = best
        sim = vecs @ centres.T / self.temp
        soft = np.exp(sim - sim.max(axis=1, keepdims=True))
        soft /= soft.sum(axis=1, keepdims=True)
        self.word_vecs = soft * (soft**2).sum(axis=1, keepdims=True)
        self.word_vecs[np.asarray(incidence.sum(axis=0)).ravel() < 2] = 0.0
        emb = np.asarray(incidence @ self.word_vecs)
        self.item_emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        self.dim = self.word_vecs.shape[1]
        if self.profiles.shape[1] != self.dim:
            self.profiles = np.zeros((self.profiles.shape[0], self.dim))

    def extend_catalog(self, titles: list[str]) -> None:
        """Embed items added after :meth:`set_catalog` in the existing word space.

        ``titles`` is the whole current catalogue; the items beyond the embedded ones
        get the normalised sum of their known words' vectors (words first seen in them
        count as zero). The word groups are not re-learnt: users' profiles are sums of
        item embeddings in this space, so re-clustering the words would scramble them.
        """
        start = self.item_emb.shape[0]
        new = np.zeros((max(len(titles) - start, 0), self.dim))
        for row, title in enumerate(titles[start:]):
            ids = [self.word_index[w] for w in set(word_tokens(title)) if w in self.word_index]
            if ids:
                new[row] = self.word_vecs[ids].sum(axis=0)
        new /= np.maximum(np.linalg.norm(new, axis=1, keepdims=True), 1e-12)
        self.item_emb = np.concatenate([self.item_emb, new])

    def query_vector(self, text: str) -> np.ndarray:
        """Mean embedding of the known words of ``text`` (zeros if none)."""
        ids = [self.word_index[w] for w in word_tokens(text or "") if w in self.word_index]
        return self.word_vecs[ids].mean(axis=0) if ids else np.zeros(self.dim)

    def add_episode(self, events: pd.DataFrame, long_dwell_s: float) -> None:
        """Decay every profile, then add the episode's clicks and typed queries."""
        self.profiles *= self.decay
        kind = names(events["event"])
        users = events["user_id"].to_numpy(np.int64)
        items = events["item_id"].to_numpy(np.int64)
        dwell = np.nan_to_num(events["dwell_s"].to_numpy(np.float64))
        pos = np.isin(kind, ["click", "search_click"]) & (items >= 0)
        pos &= items < self.item_emb.shape[0]
        weight = np.where((kind == "click") & (dwell >= long_dwell_s), 2.0, 1.0)[pos]
        np.add.at(self.profiles, users[pos], weight[:, None] * self.item_emb[items[pos]])
        texts = events["query"].to_numpy(object)
        typed = np.flatnonzero(kind == "query")
        if typed.size:
            vecs = np.stack([self.query_vector(texts[r]) for r in typed])
            np.add.at(self.profiles, users[typed], self.query_weight * vecs)

    def unit_profiles(self, users: np.ndarray | None = None) -> np.ndarray:
        """L2-normalised profiles (zero rows for users without behaviour)."""
        p = self.profiles if users is None else self.profiles[users]
        return p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)

    def affinity(self, users: np.ndarray | None = None) -> np.ndarray:
        """Shape ``(n, n_items)`` cosine of each user's profile with each item."""
        return rows_matmul(self.unit_profiles(users), self.item_emb.T)

    def top_words(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Per user, the ``k`` words closest to the profile: ``(ids, scores)``.

        Scored a chunk of users at a time (:func:`~policies.ranking.user_chunks`), so no
        users × words array of the whole population is built.
        """
        n = self.profiles.shape[0]
        width = min(k, self.word_vecs.shape[0])
        ids = np.zeros((n, width), dtype=np.int64)
        values = np.zeros((n, width))
        for users in user_chunks(n, 4096):
            scores = self.unit_profiles(users) @ self.word_vecs.T
            top = stable_top_k(scores, k)
            ids[users], values[users] = top, np.take_along_axis(scores, top, axis=1)
        return ids, values
