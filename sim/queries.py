"""Explicit intents and the noisy queries users type for them.

An intent is a topic (drawn from the user's current interests) or, with probability
``known_item_share``, a specific known item (an available item whose dominant topic is
drawn from the interests). The query is ``1 + Poisson(mean - 1)`` intended words (the
item's title words, or Zipf-drawn words of the topic), each replaced by a generic word
with ``generic_word_prob``, or mismatched with ``mismatch_prob`` (a synonym absent from
every title, or a word of a wrong topic), then dropped with ``word_dropout``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import poisson

from sim.catalog import Catalog, zipf_weights
from sim.config import IntentConfig

__all__ = ["Draw", "QueryWriter", "choice_from_uniforms", "draw_rows"]

#: ``draw(purpose, width)``: shape ``(n, width)`` uniforms of one purpose for the rows
#: being served (:meth:`sim.crn.UserDraws.uniform` bound to the rows' users and requests).
Draw = Callable[[str, int], np.ndarray]


def choice_from_uniforms(p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws of indices ``0 .. len(p) - 1`` with probabilities ``p``, any shape."""
    cdf = np.cumsum(p)
    return np.minimum(np.searchsorted(cdf, u * cdf[-1], side="right"), p.shape[0] - 1)


def draw_rows(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One inverse-CDF categorical draw per row: ``probs`` ``(n, m)``, ``u`` ``(n,)``."""
    cdf = np.cumsum(probs, axis=1)
    idx = (cdf < (u * cdf[:, -1])[:, None]).sum(axis=1)
    return np.minimum(idx, probs.shape[1] - 1)


class QueryWriter:
    """Forms intents and writes queries for them.

    Args:
        cfg: Intent configuration.
        catalog: The catalogue (titles and vocabulary).
    """

    def __init__(self, cfg: IntentConfig, catalog: Catalog) -> None:
        self.cfg = cfg
        self.catalog = catalog
        vocab = catalog.vocab
        self._w = vocab.words_per_topic
        self._k = vocab.n_topics
        self._topic_p = zipf_weights(self._w, catalog.cfg.word_zipf_exponent)
        self._generic_p = zipf_weights(vocab.n_generic, catalog.cfg.word_zipf_exponent)

    def form_intents(self, interests: np.ndarray, draw: Draw) -> tuple[np.ndarray, np.ndarray]:
        """Draw an intent per user.

        Args:
            interests: Shape ``(n, K)`` current interests of the users.
            draw: The rows' behaviour draws (purposes ``intent/*``).

        Returns:
            ``(topic, item)``: shapes ``(n,)`` int32; ``item`` is -1 for topic intents.
        """
        n = interests.shape[0]
        topic = draw_rows(interests, draw("intent/topic", 1)[:, 0]).astype(np.int32)
        known = draw("intent/known", 1)[:, 0] < self.cfg.known_item_share
        u_item = draw("intent/item", 1)[:, 0]
        item = np.full(n, -1, dtype=np.int32)
        cat = self.catalog
        start = cat.topic_offsets[topic]
        count = cat.topic_offsets[topic + 1] - start
        has = known & (count > 0)
        pick = start + np.floor(u_item * count).astype(np.int64)
        item[has] = cat.items_by_topic[pick[has]]
        return topic, item

    def write(self, topic: np.ndarray, item: np.ndarray, draw: Draw) -> list[str]:
        """Write one query per intent.

        Args:
            topic: Shape ``(n,)`` intent topics.
            item: Shape ``(n,)`` known items, -1 for topic intents.
            draw: The rows' behaviour draws (purposes ``query/*``).

        Returns:
            ``n`` query strings (at least one word each).
        """
        cfg, vocab = self.cfg, self.catalog.vocab
        n, lmax = topic.shape[0], cfg.query_len_max
        # 1 + Poisson(mean - 1) words, at most lmax: inverse CDF of the Poisson up to lmax.
        cdf = poisson.cdf(np.arange(max(lmax - 1, 0)), cfg.query_len_mean - 1.0)
        lengths = 1 + (draw("query/length", 1)[:, 0][:, None] > cdf[None, :]).sum(axis=1)
        topic_words = topic[:, None] * self._w + choice_from_uniforms(
            self._topic_p, draw("query/topic_word", lmax)
        )
        title_perm = np.argsort(
            draw("query/title_order", self.catalog.title_words.shape[1]), axis=1
        )
        kind = draw("query/kind", lmax)
        synonym = draw("query/synonym", lmax) < cfg.synonym_share
        generic = vocab.generic_offset + choice_from_uniforms(
            self._generic_p, draw("query/generic", lmax)
        )
        n_other = max(self._k, 2) - 1  # a wrong topic is 1 .. K-1 topics away
        shift = 1 + np.floor(draw("query/wrong_topic", lmax) * n_other).astype(np.int64)
        wrong_topic = (topic[:, None] + shift) % self._k
        wrong = wrong_topic * self._w + choice_from_uniforms(
            self._topic_p, draw("query/wrong_word", lmax)
        )
        drop = draw("query/drop", lmax) < cfg.word_dropout
        p_gen, p_mis = cfg.generic_word_prob, cfg.generic_word_prob + cfg.mismatch_prob
        # Intended words, shape (n, lmax), -1 past each query's length: a known item's
        # title words in the order of the random permutation, or the topic's words.
        col = np.arange(lmax)[None, :]
        title = self.catalog.title_words[np.maximum(item, 0)]
        shuffled = np.take_along_axis(title, title_perm, axis=1)
        valid_first = np.argsort(shuffled < 0, axis=1, kind="stable")[:, :lmax]
        from_title = np.take_along_axis(shuffled, valid_first, axis=1)
        if from_title.shape[1] < lmax:
            pad = np.full((n, lmax - from_title.shape[1]), -1, dtype=from_title.dtype)
            from_title = np.concatenate([from_title, pad], axis=1)
        is_item = (item >= 0)[:, None]
        intended = np.where(is_item, from_title, topic_words)
        present = (col < lengths[:, None]) & (intended >= 0)
        # Replacements: a generic word, or a mismatch (a synonym absent from every
        # title for topic words, else a word of a wrong topic).
        safe = np.maximum(intended, 0)
        can_syn = synonym & (vocab.word_topic[safe] >= 0) & (safe < vocab.generic_offset)
        mismatched = np.where(can_syn, vocab.synonym_offset + safe, wrong)
        words = np.where(kind < p_gen, generic, np.where(kind < p_mis, mismatched, intended))
        # Kept: present, not dropped, and not a repeat of an earlier kept word.
        kept = present & ~drop
        for j in range(1, lmax):
            repeat = ((words[:, :j] == words[:, j : j + 1]) & kept[:, :j]).any(axis=1)
            kept[:, j] &= ~repeat
        empty = ~kept.any(axis=1)
        words[empty, 0] = intended[empty, 0]
        kept[empty, 0] = True
        words_all = vocab.words
        rows = np.where(kept, words, -1).tolist()
        return [" ".join([words_all[w] for w in row if w >= 0]) for row in rows]
