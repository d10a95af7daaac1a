"""The synthetic catalogue: vocabulary, items with latent topics, quality and titles.

Words are pronounceable syllable strings, deterministic per seed. The vocabulary has
``n_topics`` topic vocabularies, one shared generic vocabulary, and one *synonym* per
topic word: a word users may type for the topic that never occurs in any title
(vocabulary mismatch). Titles mix topic words (topic drawn from the item's topic
vector) with generic words, so search is informative but ambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config import CatalogConfig
from sim.types import CatalogView

__all__ = ["Catalog", "Vocabulary", "make_vocabulary", "zipf_weights"]

_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
_SYLLABLES = [c + v for c in _CONSONANTS for v in _VOWELS]


def zipf_weights(n: int, exponent: float) -> np.ndarray:
    """Normalised Zipf weights ``p_j ∝ (j + 1)^-exponent``, shape ``(n,)``."""
    w = (np.arange(n, dtype=np.float64) + 1.0) ** -exponent
    return w / w.sum()


@dataclass(frozen=True)
class Vocabulary:
    """All words of the world.

    Layout of word ids: topic ``k``'s words are ``k*W .. (k+1)*W - 1``; generic words
    follow (``G`` of them); then the synonyms, ``syn(k*W + j) = K*W + G + k*W + j``.

    Attributes:
        words: Every word string, indexed by word id.
        word_topic: Shape ``(n_words,)`` int32, topic of each word (-1 for generic).
        n_topics: ``K``.
        words_per_topic: ``W``.
        n_generic: ``G``.
        index: Word string to word id.
    """

    words: tuple[str, ...]
    word_topic: np.ndarray
    n_topics: int
    words_per_topic: int
    n_generic: int
    index: dict[str, int]

    @property
    def generic_offset(self) -> int:
        """Word id of the first generic word."""
        return self.n_topics * self.words_per_topic

    @property
    def synonym_offset(self) -> int:
        """Word id of the first synonym."""
        return self.generic_offset + self.n_generic


def make_vocabulary(cfg: CatalogConfig, rng: np.random.Generator) -> Vocabulary:
    """Draw distinct pronounceable words for topics, generic use and synonyms.

    Args:
        cfg: Catalogue configuration.
        rng: The ``catalog/vocabulary`` stream.

    Returns:
        The vocabulary.
    """
    n_topic_words = cfg.n_topics * cfg.words_per_topic
    n_words = 2 * n_topic_words + cfg.generic_vocab_size
    n_syl = len(_SYLLABLES)
    length = 2
    while n_syl**length < 4 * n_words:
        length += 1
    codes = rng.choice(n_syl**length, size=n_words, replace=False)
    words = []
    for code in codes.tolist():
        parts = []
        for _ in range(length):
            code, r = divmod(code, n_syl)
            parts.append(_SYLLABLES[r])
        words.append("".join(parts))
    topic_of = np.repeat(np.arange(cfg.n_topics, dtype=np.int32), cfg.words_per_topic)
    word_topic = np.concatenate(
        [topic_of, np.full(cfg.generic_vocab_size, -1, dtype=np.int32), topic_of]
    )
    return Vocabulary(
        words=tuple(words),
        word_topic=word_topic,
        n_topics=cfg.n_topics,
        words_per_topic=cfg.words_per_topic,
        n_generic=cfg.generic_vocab_size,
        index={w: i for i, w in enumerate(words)},
    )


def _categorical_rows(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw per row: ``probs`` shape ``(n, m)``, ``u`` shape ``(n, L)``."""
    cdf = np.cumsum(probs, axis=1)
    cdf[:, -1] = 1.0
    return (cdf[:, None, :] < u[:, :, None]).sum(axis=2)


class Catalog:
    """Items with latent topic vectors, quality, creation time and titles (ground truth).

    Attributes:
        topics: Shape ``(n_items, n_topics)`` float32, rows on the simplex.
        topic_norm: Shape ``(n_items,)`` float32, L2 norm of each topic row.
        quality: Shape ``(n_items,)`` float32.
        created_s: Shape ``(n_items,)`` float64, seconds since the run started.
        available: Shape ``(n_items,)`` bool.
        title_words: Shape ``(n_items, title_len_max)`` int32 word ids, padded with -1.
        titles: Title strings.
        vocab: The vocabulary.
    """

    def __init__(self, cfg: CatalogConfig, vocab: Vocabulary, rng: np.random.Generator) -> None:
        """Draw the initial ``cfg.n_items`` items (all available, created before the run).

        Args:
            cfg: Catalogue configuration.
            vocab: Vocabulary from :func:`make_vocabulary`.
            rng: The ``catalog/items`` stream.
        """
        self.cfg = cfg
        self.vocab = vocab
        self._topic_zipf = zipf_weights(cfg.words_per_topic, cfg.word_zipf_exponent)
        self._generic_zipf = zipf_weights(cfg.generic_vocab_size, cfg.word_zipf_exponent)
        self.topics = np.zeros((0, cfg.n_topics), dtype=np.float32)
        self.topic_norm = np.zeros(0, dtype=np.float32)
        self.quality = np.zeros(0, dtype=np.float32)
        self.created_s = np.zeros(0, dtype=np.float64)
        self.available = np.zeros(0, dtype=bool)
        self.title_words = np.zeros((0, cfg.title_len_max), dtype=np.int32)
        self.titles: list[str] = []
        created = -rng.uniform(0.0, 365.0 * 86400.0, size=cfg.n_items)
        self.add_items(cfg.n_items, np.sort(created), rng)
        self._used_words = np.zeros(len(vocab.words), dtype=bool)
        self._refresh_vocabulary()

    @property
    def n_items(self) -> int:
        """Number of items, available or not."""
        return int(self.topics.shape[0])

    def add_items(
        self,
        n: int,
        created_s: np.ndarray,
        rng: np.random.Generator,
        alpha: np.ndarray | None = None,
    ) -> np.ndarray:
        """Draw ``n`` new items and make them available.

        Args:
            n: Number of items.
            created_s: Shape ``(n,)`` creation times in seconds.
            rng: Stream to draw from.
            alpha: Shape ``(n_topics,)`` Dirichlet concentration of the topic vectors
                (topics with 0 get no mass); by default ``catalog.topic_concentration``
                on every topic.

        Returns:
            Shape ``(n,)`` int32 ids of the new items.
        """
        cfg = self.cfg
        if alpha is None:
            topics = rng.dirichlet(np.full(cfg.n_topics, cfg.topic_concentration), size=n)
        else:
            on = np.asarray(alpha, dtype=np.float64) > 0
            topics = np.zeros((n, cfg.n_topics))
            topics[:, on] = rng.dirichlet(np.asarray(alpha, dtype=np.float64)[on], size=n)
        # Tiny concentrations can underflow to an all-zero row; put it on one topic.
        bad = ~np.isfinite(topics).all(axis=1) | (topics.sum(axis=1) <= 0)
        if bad.any():
            topics[bad] = np.eye(cfg.n_topics)[rng.integers(0, cfg.n_topics, bad.sum())]
        quality = rng.normal(cfg.quality_mean, cfg.quality_sd, size=n)
        lengths = rng.integers(cfg.title_len_min, cfg.title_len_max + 1, size=n)
        lmax = cfg.title_len_max
        generic = rng.random((n, lmax)) < cfg.generic_word_share
        word_topic = _categorical_rows(topics, rng.random((n, lmax)))
        w = cfg.words_per_topic
        topic_word = word_topic * w + rng.choice(w, size=(n, lmax), p=self._topic_zipf)
        generic_word = self.vocab.generic_offset + rng.choice(
            cfg.generic_vocab_size, size=(n, lmax), p=self._generic_zipf
        )
        words = np.where(generic, generic_word, topic_word).astype(np.int32)
        words[np.arange(lmax)[None, :] >= lengths[:, None]] = -1
        start = self.n_items
        vocab_words = self.vocab.words
        titles = [" ".join(vocab_words[i] for i in row if i >= 0) for row in words.tolist()]
        topics32 = topics.astype(np.float32)
        self.topics = np.concatenate([self.topics, topics32])
        self.topic_norm = np.concatenate([self.topic_norm, np.linalg.norm(topics32, axis=1)])
        self.quality = np.concatenate([self.quality, quality.astype(np.float32)])
        self.created_s = np.concatenate([self.created_s, np.asarray(created_s, np.float64)])
        self.available = np.concatenate([self.available, np.ones(n, dtype=bool)])
        self.title_words = np.concatenate([self.title_words, words])
        self.titles.extend(titles)
        if hasattr(self, "_used_words"):
            self._refresh_vocabulary()
        return np.arange(start, start + n, dtype=np.int32)

    def retire_items(self, items: np.ndarray) -> None:
        """Make ``items`` (shape ``(n,)`` ids) unavailable; ids and attributes are kept."""
        self.available[np.asarray(items, dtype=np.int64)] = False
        self._refresh_vocabulary()

    def _refresh_vocabulary(self) -> None:
        used = np.zeros(len(self.vocab.words), dtype=bool)
        tw = self.title_words
        used[tw[tw >= 0]] = True
        self._used_words = used
        self._view_vocab = tuple(sorted(self.vocab.words[i] for i in np.flatnonzero(used)))
        dominant = np.argmax(self.topics, axis=1)
        avail = np.flatnonzero(self.available)
        order = avail[np.argsort(dominant[avail], kind="stable")]
        counts = np.bincount(dominant[avail], minlength=self.cfg.n_topics)
        self.items_by_topic = order.astype(np.int32)
        self.topic_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def view(self) -> CatalogView:
        """The policy-visible view: titles, creation times, availability, vocabulary."""
        created = self.created_s.copy()
        created.flags.writeable = False
        available = self.available.copy()
        available.flags.writeable = False
        return CatalogView(
            titles=tuple(self.titles),
            created_s=created,
            available=available,
            vocabulary=self._view_vocab,
        )
