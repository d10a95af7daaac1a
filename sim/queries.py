"""Explicit intents and the noisy queries users type for them.

An intent is a topic (drawn from the user's current interests) or, with probability
``known_item_share``, a specific known item (an available item whose dominant topic is
drawn from the interests). The query is ``1 + Poisson(mean - 1)`` intended words (the
item's title words, or Zipf-drawn words of the topic), each replaced by a generic word
with ``generic_word_prob``, or mismatched with ``mismatch_prob`` (a synonym absent from
every title, or a word of a wrong topic), then dropped with ``word_dropout``.
"""

from __future__ import annotations

import numpy as np

from sim.catalog import Catalog, zipf_weights
from sim.config import IntentConfig

__all__ = ["QueryWriter", "draw_rows"]


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

    def form_intents(
        self, interests: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw an intent per user.

        Args:
            interests: Shape ``(n, K)`` current interests of the users.
            rng: The ``intent`` stream.

        Returns:
            ``(topic, item)``: shapes ``(n,)`` int32; ``item`` is -1 for topic intents.
        """
        n = interests.shape[0]
        topic = draw_rows(interests, rng.random(n)).astype(np.int32)
        known = rng.random(n) < self.cfg.known_item_share
        u_item = rng.random(n)
        item = np.full(n, -1, dtype=np.int32)
        cat = self.catalog
        start = cat.topic_offsets[topic]
        count = cat.topic_offsets[topic + 1] - start
        has = known & (count > 0)
        pick = start + np.floor(u_item * count).astype(np.int64)
        item[has] = cat.items_by_topic[pick[has]]
        return topic, item

    def write(self, topic: np.ndarray, item: np.ndarray, rng: np.random.Generator) -> list[str]:
        """Write one query per intent.

        Args:
            topic: Shape ``(n,)`` intent topics.
            item: Shape ``(n,)`` known items, -1 for topic intents.
            rng: The ``query`` stream.

        Returns:
            ``n`` query strings (at least one word each).
        """
        cfg, vocab = self.cfg, self.catalog.vocab
        n, lmax = topic.shape[0], cfg.query_len_max
        lengths = np.minimum(1 + rng.poisson(cfg.query_len_mean - 1.0, size=n), lmax)
        topic_words = topic[:, None] * self._w + rng.choice(
            self._w, size=(n, lmax), p=self._topic_p
        )
        title_perm = np.argsort(rng.random((n, self.catalog.title_words.shape[1])), axis=1)
        kind = rng.random((n, lmax))
        synonym = rng.random((n, lmax)) < cfg.synonym_share
        generic = vocab.generic_offset + rng.choice(
            vocab.n_generic, size=(n, lmax), p=self._generic_p
        )
        wrong_topic = (topic[:, None] + rng.integers(1, max(self._k, 2), size=(n, lmax))) % self._k
        wrong = wrong_topic * self._w + rng.choice(self._w, size=(n, lmax), p=self._topic_p)
        drop = rng.random((n, lmax)) < cfg.word_dropout
        p_gen, p_mis = cfg.generic_word_prob, cfg.generic_word_prob + cfg.mismatch_prob
        words_all, word_topic = vocab.words, vocab.word_topic
        queries = []
        for r in range(n):
            if item[r] >= 0:
                title = self.catalog.title_words[item[r]]
                order = title_perm[r][title[title_perm[r]] >= 0]
                intended = title[order[: lengths[r]]].tolist()
            else:
                intended = topic_words[r, : lengths[r]].tolist()
            out: list[int] = []
            for j, w in enumerate(intended):
                if kind[r, j] < p_gen:
                    w = int(generic[r, j])
                elif kind[r, j] < p_mis:
                    if synonym[r, j] and word_topic[w] >= 0 and w < vocab.generic_offset:
                        w = vocab.synonym_offset + w
                    else:
                        w = int(wrong[r, j])
                if not drop[r, j] and w not in out:
                    out.append(w)
            if not out:
                out.append(intended[0])
            queries.append(" ".join(words_all[w] for w in out))
        return queries
