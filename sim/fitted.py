"""A world whose catalogue and users are given as data (a calibrated world), not drawn.

:class:`FittedWorld` holds arrays only — real titles, item topic vectors and appeal,
users' interests and session rates — made by ``experiments.calibration`` from a real
log (``sim`` never reads files). :func:`vocabulary_from_titles` lays the real words out
as the synthetic :class:`~sim.catalog.Vocabulary` is laid out, so that queries,
suggestions and search work unchanged:

* each topic's block of ``words_per_topic`` words holds its most *characteristic*
  title words, most characteristic first (the Zipf draws of queries favour the first):
  a word's score for topic ``k`` is ``m_wk * max(log lift_wk, 0)``, ``m_wk`` the
  topic-``k`` mass of the items whose titles contain it and ``lift_wk = P(k | w) /
  P(k)``; a word goes to its best-scoring topic; a topic with fewer words repeats them
  (a topic without any takes its highest-mass words, which then also stand for it);
* the generic block holds the most frequent words that characterise no topic (largest
  lift below :data:`GENERIC_MAX_LIFT`, in at least :data:`GENERIC_MIN_ITEMS` titles);
* the synonym of a topic word is a misspelling absent from every title (the word with
  its last character doubled), what a user types and no title contains;
* every other title word follows, with the topic of its largest mass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.catalog import Vocabulary

__all__ = [
    "GENERIC_MAX_LIFT",
    "GENERIC_MIN_ITEMS",
    "FittedWorld",
    "title_word_ids",
    "vocabulary_from_titles",
]

#: A word whose largest topic lift is below this characterises no topic.
GENERIC_MAX_LIFT = 1.5
#: Generic words occur in at least this many titles.
GENERIC_MIN_ITEMS = 5


@dataclass(frozen=True)
class FittedWorld:
    """The catalogue and the users of a calibrated world.

    Attributes:
        titles: ``n_items`` titles, lower-case words separated by single spaces.
        item_topics: Shape ``(n_items, K)`` float64, rows on the simplex.
        appeal: Shape ``(n_items,)`` item quality (utility units).
        created_s: Shape ``(n_items,)`` creation times (seconds; negative: before the run).
        interests: Shape ``(n_users, K)`` float64, rows on the simplex.
        rate_per_day: Shape ``(n_users,)`` baseline session rates (sessions per day).
        source_user: Shape ``(n_users,)`` int64, the real user each simulated user was
            fitted from (the identity with one simulated user per real user).
        dataset: Name of the dataset.
    """

    titles: tuple[str, ...]
    item_topics: np.ndarray
    appeal: np.ndarray
    created_s: np.ndarray
    interests: np.ndarray
    rate_per_day: np.ndarray
    source_user: np.ndarray
    dataset: str = ""

    @property
    def n_items(self) -> int:
        """Number of items."""
        return len(self.titles)

    @property
    def n_users(self) -> int:
        """Number of users."""
        return int(self.interests.shape[0])

    @property
    def n_topics(self) -> int:
        """Number of topics."""
        return int(self.item_topics.shape[1])

    @property
    def max_title_words(self) -> int:
        """Words of the longest title (at least 1)."""
        return max([len(t.split()) for t in self.titles] + [1])


def _misspelling(word: str, taken: set[str]) -> str:
    """A form of ``word`` not in ``taken``: its last character doubled, then more."""
    form = word + word[-1]
    while form in taken:
        form += word[-1]
    return form


def vocabulary_from_titles(
    titles: tuple[str, ...] | list[str],
    item_topics: np.ndarray,
    words_per_topic: int,
    max_generic: int,
) -> Vocabulary:
    """The real title words laid out as a :class:`~sim.catalog.Vocabulary` (module doc).

    Args:
        titles: ``n_items`` titles (single-spaced lower-case words).
        item_topics: Shape ``(n_items, K)`` topic vectors.
        words_per_topic: ``W``, the size of each topic's block.
        max_generic: Most generic words kept (at least one block slot is always filled:
            the most frequent word when no word qualifies).

    Returns:
        The vocabulary; ``index`` maps a word to its first id.
    """
    k = item_topics.shape[1]
    token_lists = [t.split() for t in titles]
    distinct = sorted({w for toks in token_lists for w in toks})
    pos = {w: j for j, w in enumerate(distinct)}
    n_words = len(distinct)
    mass = np.zeros((n_words, k))
    n_titles = np.zeros(n_words)
    for i, toks in enumerate(token_lists):
        ids = np.fromiter({pos[w] for w in toks}, dtype=np.int64)
        mass[ids] += item_topics[i]
        n_titles[ids] += 1
    prior = item_topics.mean(axis=0) + 1e-12
    p_topic = mass / np.maximum(mass.sum(axis=1, keepdims=True), 1e-12)
    lift = p_topic / prior
    score = mass * np.maximum(np.log(np.maximum(lift, 1e-12)), 0.0)
    generic_ok = (lift.max(axis=1) < GENERIC_MAX_LIFT) & (n_titles >= GENERIC_MIN_ITEMS)
    generic = np.flatnonzero(generic_ok)
    generic = generic[np.argsort(-n_titles[generic], kind="stable")][: max(max_generic, 1)]
    if generic.size == 0:
        generic = np.array([int(np.argmax(n_titles))])
    best = np.argmax(score, axis=1)
    has_score = score.max(axis=1) > 0
    is_generic = np.zeros(n_words, dtype=bool)
    is_generic[generic] = True
    blocks: list[np.ndarray] = []
    for topic in range(k):
        mine = np.flatnonzero((best == topic) & has_score & ~is_generic)
        mine = mine[np.argsort(-score[mine, topic], kind="stable")]
        if mine.size == 0:
            mine = np.argsort(-mass[:, topic], kind="stable")[:words_per_topic]
        blocks.append(np.resize(mine[:words_per_topic], words_per_topic))
    block_ids = np.concatenate(blocks)
    in_block = np.zeros(n_words, dtype=bool)
    in_block[block_ids] = True
    rest = np.flatnonzero(~in_block & ~is_generic)
    taken = set(distinct)
    synonyms = []
    for j in block_ids.tolist():
        form = _misspelling(distinct[j], taken)
        taken.add(form)
        synonyms.append(form)
    words = (
        [distinct[j] for j in block_ids.tolist()]
        + [distinct[j] for j in generic.tolist()]
        + synonyms
        + [distinct[j] for j in rest.tolist()]
    )
    block_topic = np.repeat(np.arange(k, dtype=np.int32), words_per_topic)
    rest_topic = np.where(mass[rest].sum(axis=1) > 0, np.argmax(mass[rest], axis=1), -1)
    word_topic = np.concatenate(
        [
            block_topic,
            np.full(generic.size, -1, dtype=np.int32),
            block_topic,
            rest_topic.astype(np.int32),
        ]
    )
    index: dict[str, int] = {}
    for i, w in enumerate(words):
        index.setdefault(w, i)
    return Vocabulary(
        words=tuple(words),
        word_topic=word_topic,
        n_topics=k,
        words_per_topic=words_per_topic,
        n_generic=int(generic.size),
        index=index,
        n_brands=0,
    )


def title_word_ids(
    titles: tuple[str, ...] | list[str], vocab: Vocabulary, width: int
) -> np.ndarray:
    """Word ids of each title, shape ``(n_items, width)`` int32, padded with -1.

    Raises:
        ValueError: If a title has more than ``width`` words or a word the vocabulary lacks.
    """
    out = np.full((len(titles), width), -1, dtype=np.int32)
    for i, title in enumerate(titles):
        toks = title.split()
        if len(toks) > width:
            raise ValueError(f"title {i} has {len(toks)} words, more than {width}")
        missing = [w for w in toks if w not in vocab.index]
        if missing:
            raise ValueError(f"title {i} has words the vocabulary lacks: {missing}")
        out[i, : len(toks)] = [vocab.index[w] for w in toks]
    return out
