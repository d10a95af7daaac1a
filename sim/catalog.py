"""The synthetic catalogue: vocabulary, items with latent topics, quality and titles.

Words are pronounceable syllable strings, deterministic per seed. The vocabulary has
``n_topics`` topic vocabularies, one shared generic vocabulary, one *synonym* per
topic word (a second surface form of it: users may type it, and titles use it with
``title_synonym_prob``, 0 in world model v1, where synonyms never occur in titles) and
``brand_vocab_size`` *brand* words, unrelated to topics. Titles mix topic words (topic
drawn from the item's topic vector, or, with ``off_topic_share``, from a uniformly
drawn topic) with generic words and, with ``brand_prob``, start with the item's brand;
so titles are informative about an item's topics but noisy, and search is informative
but ambiguous.
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
    follow (``G`` of them); then the synonyms, ``syn(k*W + j) = K*W + G + k*W + j``;
    then the ``B`` brand words (topic -1, like generic words).

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
    n_brands: int = 0

    @property
    def generic_offset(self) -> int:
        """Word id of the first generic word."""
        return self.n_topics * self.words_per_topic

    @property
    def synonym_offset(self) -> int:
        """Word id of the first synonym."""
        return self.generic_offset + self.n_generic

    @property
    def brand_offset(self) -> int:
        """Word id of the first brand word."""
        return self.synonym_offset + self.n_topics * self.words_per_topic


def make_vocabulary(cfg: CatalogConfig, rng: np.random.Generator) -> Vocabulary:
    """Draw distinct pronounceable words for topics, generic use and synonyms.

    Args:
        cfg: Catalogue configuration.
        rng: The ``catalog/vocabulary`` stream.

    Returns:
        The vocabulary.
    """
    n_topic_words = cfg.n_topics * cfg.words_per_topic
    n_words = 2 * n_topic_words + cfg.generic_vocab_size + cfg.brand_vocab_size
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
        [
            topic_of,
            np.full(cfg.generic_vocab_size, -1, dtype=np.int32),
            topic_of,
            np.full(cfg.brand_vocab_size, -1, dtype=np.int32),
        ]
    )
    return Vocabulary(
        words=tuple(words),
        word_topic=word_topic,
        n_topics=cfg.n_topics,
        words_per_topic=cfg.words_per_topic,
        n_generic=cfg.generic_vocab_size,
        index={w: i for i, w in enumerate(words)},
        n_brands=cfg.brand_vocab_size,
    )


def standardised_lognormal(z: np.ndarray, log_sd: float) -> np.ndarray:
    """Map standard normal draws to a log-normal of mean 0 and standard deviation 1.

    ``(exp(s z) - m) / d`` with ``m = exp(s²/2)`` and ``d = sqrt((exp(s²) - 1) exp(s²))``,
    the mean and standard deviation of ``exp(s z)``: right-skewed (skewness 6.18 at
    ``s = 1``), bounded below by ``-m / d`` (-0.76 at ``s = 1``).

    Args:
        z: Standard normal draws, any shape.
        log_sd: ``s``, the standard deviation of the log.

    Returns:
        float64 array of ``z``'s shape.
    """
    m = np.exp(0.5 * log_sd**2)
    d = np.sqrt((np.exp(log_sd**2) - 1.0) * np.exp(log_sd**2))
    return (np.exp(log_sd * np.asarray(z, dtype=np.float64)) - m) / d


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
        brand: Shape ``(n_items,)`` int32 brand word id of each item (-1 without brands).
        observed_clicks: Shape ``(n_items,)`` float64, clicks by all users up to the end
            of the last episode, decayed per episode (the popularity users observe, for
            the conformity term; kept only when ``choice.conformity_weight > 0``).
        title_words: Shape ``(n_items, title_len_max)`` int32 word ids, padded with -1.
        titles: Title strings.
        vocab: The vocabulary.
        version: Incremented whenever items arrive or retire (caches key on it).
    """

    def __init__(self, cfg: CatalogConfig, vocab: Vocabulary, rng: np.random.Generator) -> None:
        """Draw the initial ``cfg.n_items`` items (all available, created before the run).

        Args:
            cfg: Catalogue configuration.
            vocab: Vocabulary from :func:`make_vocabulary`.
            rng: The ``catalog/items`` stream.
        """
        self._start_empty(cfg, vocab)
        created = -rng.uniform(0.0, 365.0 * 86400.0, size=cfg.n_items)
        self.add_items(cfg.n_items, np.sort(created), rng)
        self._used_words = np.zeros(len(vocab.words), dtype=bool)
        self._refresh_vocabulary()

    @classmethod
    def from_items(
        cls,
        cfg: CatalogConfig,
        vocab: Vocabulary,
        topics: np.ndarray,
        quality: np.ndarray,
        created_s: np.ndarray,
        titles: tuple[str, ...] | list[str],
        title_words: np.ndarray,
    ) -> Catalog:
        """A catalogue of given items (a calibrated world's real items), nothing drawn.

        Args:
            cfg: Catalogue configuration (``n_topics`` and ``title_len_max`` must fit
                the items; the rest applies to items added later).
            vocab: The vocabulary (:func:`sim.fitted.vocabulary_from_titles`).
            topics: Shape ``(n_items, n_topics)`` rows on the simplex.
            quality: Shape ``(n_items,)`` appeal (utility units).
            created_s: Shape ``(n_items,)`` creation times (seconds).
            titles: ``n_items`` title strings.
            title_words: Shape ``(n_items, title_len_max)`` word ids, padded with -1.

        Returns:
            The catalogue, every item available.
        """
        self = cls.__new__(cls)
        self._start_empty(cfg, vocab)
        n = len(titles)
        topics32 = np.asarray(topics, dtype=np.float32)
        self.version = 0
        self.topics = topics32
        self.topic_norm = np.linalg.norm(topics32, axis=1)
        self.quality = np.asarray(quality, dtype=np.float32)
        self.brand = np.full(n, -1, dtype=np.int32)
        self.observed_clicks = np.zeros(n)
        self._episode_clicks = np.zeros(n)
        self.created_s = np.asarray(created_s, dtype=np.float64)
        self.available = np.ones(n, dtype=bool)
        self.title_words = np.asarray(title_words, dtype=np.int32)
        self.titles = list(titles)
        self._used_words = np.zeros(len(vocab.words), dtype=bool)
        self._refresh_vocabulary()
        return self

    def _start_empty(self, cfg: CatalogConfig, vocab: Vocabulary) -> None:
        """Configuration, vocabulary, word weights and empty item arrays."""
        self.cfg = cfg
        self.vocab = vocab
        self._topic_zipf = zipf_weights(cfg.words_per_topic, cfg.word_zipf_exponent)
        self._generic_zipf = zipf_weights(max(vocab.n_generic, 1), cfg.word_zipf_exponent)
        self._brand_zipf = zipf_weights(max(cfg.brand_vocab_size, 1), cfg.word_zipf_exponent)
        self.topics = np.zeros((0, cfg.n_topics), dtype=np.float32)
        self.topic_norm = np.zeros(0, dtype=np.float32)
        self.quality = np.zeros(0, dtype=np.float32)
        self.brand = np.zeros(0, dtype=np.int32)
        self.observed_clicks = np.zeros(0, dtype=np.float64)
        self._episode_clicks = np.zeros(0, dtype=np.float64)
        self.created_s = np.zeros(0, dtype=np.float64)
        self.available = np.zeros(0, dtype=bool)
        self.title_words = np.zeros((0, cfg.title_len_max), dtype=np.int32)
        self.titles: list[str] = []

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
        if cfg.quality_distribution == "normal":
            quality = rng.normal(cfg.quality_mean, cfg.quality_sd, size=n)
        else:
            z = standardised_lognormal(rng.standard_normal(n), cfg.quality_log_sd)
            quality = cfg.quality_mean + cfg.quality_sd * z
        lengths = rng.integers(cfg.title_len_min, cfg.title_len_max + 1, size=n)
        lmax = cfg.title_len_max
        generic = rng.random((n, lmax)) < cfg.generic_word_share
        word_topic = _categorical_rows(topics, rng.random((n, lmax)))
        w = cfg.words_per_topic
        topic_word = word_topic * w + rng.choice(w, size=(n, lmax), p=self._topic_zipf)
        generic_word = self.vocab.generic_offset + rng.choice(
            self.vocab.n_generic, size=(n, lmax), p=self._generic_zipf
        )
        words = np.where(generic, generic_word, topic_word).astype(np.int32)
        words, brand = self._noisy_text(words, topic_word, generic, n, rng)
        words[np.arange(lmax)[None, :] >= lengths[:, None]] = -1
        start = self.n_items
        self.version = getattr(self, "version", -1) + 1
        vocab_words = self.vocab.words
        titles = [" ".join(vocab_words[i] for i in row if i >= 0) for row in words.tolist()]
        topics32 = topics.astype(np.float32)
        self.topics = np.concatenate([self.topics, topics32])
        self.topic_norm = np.concatenate([self.topic_norm, np.linalg.norm(topics32, axis=1)])
        self.quality = np.concatenate([self.quality, quality.astype(np.float32)])
        self.brand = np.concatenate([self.brand, brand])
        self.observed_clicks = np.concatenate([self.observed_clicks, np.zeros(n)])
        self._episode_clicks = np.concatenate([self._episode_clicks, np.zeros(n)])
        self.created_s = np.concatenate([self.created_s, np.asarray(created_s, np.float64)])
        self.available = np.concatenate([self.available, np.ones(n, dtype=bool)])
        self.title_words = np.concatenate([self.title_words, words])
        self.titles.extend(titles)
        if hasattr(self, "_used_words"):
            self._refresh_vocabulary()
        return np.arange(start, start + n, dtype=np.int32)

    def _noisy_text(
        self,
        words: np.ndarray,
        topic_word: np.ndarray,
        generic: np.ndarray,
        n: int,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Off-topic words, synonyms and brands in titles (world model v2's noisy text).

        Draws nothing when ``off_topic_share``, ``title_synonym_prob`` and ``brand_prob``
        are all 0 (world model v1), so v1 catalogues are unchanged draw for draw.

        Args:
            words: Shape ``(n, L)`` word ids (generic or topic words).
            topic_word: Shape ``(n, L)`` the topic word drawn for each slot.
            generic: Shape ``(n, L)`` bool, slots holding a generic word.
            n: Number of items.
            rng: The items' stream.

        Returns:
            ``(words, brand)``: the new word ids and shape ``(n,)`` each item's brand
            (word id, -1 without brands).
        """
        cfg, vocab = self.cfg, self.vocab
        lmax, w = words.shape[1], cfg.words_per_topic
        brand = np.full(n, -1, dtype=np.int32)
        if cfg.off_topic_share > 0:
            off = rng.random((n, lmax)) < cfg.off_topic_share
            other = rng.integers(0, cfg.n_topics, size=(n, lmax)) * w + topic_word % w
            words = np.where(off & ~generic, other, words)
        if cfg.title_synonym_prob > 0:
            syn = (rng.random((n, lmax)) < cfg.title_synonym_prob) & ~generic
            words = np.where(syn, words + vocab.synonym_offset, words)
        if cfg.brand_vocab_size > 0 and cfg.brand_prob > 0:
            brand = (
                vocab.brand_offset + rng.choice(cfg.brand_vocab_size, size=n, p=self._brand_zipf)
            ).astype(np.int32)
            shown = rng.random(n) < cfg.brand_prob
            words = words.copy()
            words[shown, 1:] = words[shown, :-1]
            words[shown, 0] = brand[shown]
        return words.astype(np.int32), brand

    def record_clicks(self, items: np.ndarray) -> None:
        """Count clicks (feed or search) of the current episode; shape ``(n,)`` item ids."""
        np.add.at(self._episode_clicks, np.asarray(items, dtype=np.int64), 1.0)

    def close_episode(self, decay: float) -> None:
        """Publish the episode's clicks: ``observed <- decay * observed + episode clicks``."""
        self.observed_clicks = decay * self.observed_clicks + self._episode_clicks
        self._episode_clicks = np.zeros_like(self._episode_clicks)

    def retire_items(self, items: np.ndarray) -> None:
        """Make ``items`` (shape ``(n,)`` ids) unavailable; ids and attributes are kept."""
        self.available[np.asarray(items, dtype=np.int64)] = False
        self.version += 1
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
