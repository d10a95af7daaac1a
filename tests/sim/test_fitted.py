"""Calibrated worlds on the sim side (:mod:`sim.fitted`, ``Catalog.from_items``, ``build_world``).

The vocabulary laid out from four hand-made titles (exact ids), title word ids, a
catalogue of given items, and a small world built from a :class:`FittedWorld`: its
users, catalogue and search engine are the given ones and an episode runs.
"""

from __future__ import annotations

import numpy as np
import pytest

import policies.baselines  # noqa: F401  (registers the baselines)
from policies.registry import make_policy
from sim.catalog import Catalog
from sim.config import CatalogConfig, WorldConfig
from sim.fitted import FittedWorld, title_word_ids, vocabulary_from_titles
from sim.world import build_world

TITLES = ("red apple pie", "red cherry pie", "blue ocean pie", "blue whale pie")
TOPICS = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])


def test_vocabulary_layout_of_four_titles() -> None:
    vocab = vocabulary_from_titles(TITLES, TOPICS, words_per_topic=2, max_generic=3)
    # Topic blocks first (most characteristic first: "red" is in two topic-0 titles),
    # then the generic block ("pie" is in every title: lift 1; it qualifies for no
    # generic slot with 4 < GENERIC_MIN_ITEMS titles, so it is the fallback, the most
    # frequent word), then one misspelt synonym per block slot, then the other words.
    assert vocab.words == (
        "red", "apple", "blue", "ocean",
        "pie",
        "redd", "applee", "bluee", "oceann",
        "cherry", "whale",
    )  # fmt: skip
    assert vocab.word_topic.tolist() == [0, 0, 1, 1, -1, 0, 0, 1, 1, 0, 1]
    assert (vocab.n_topics, vocab.words_per_topic, vocab.n_generic) == (2, 2, 1)
    title_words = {w for t in TITLES for w in t.split()}
    synonyms = vocab.words[5:9]
    assert not title_words & set(synonyms)
    assert vocab.index["red"] == 0
    assert vocab.index["pie"] == 4
    assert vocab.index["whale"] == 10
    assert vocab.index["oceann"] == 8


def test_short_topic_blocks_repeat_their_words_and_index_the_first() -> None:
    vocab = vocabulary_from_titles(TITLES, TOPICS, words_per_topic=4, max_generic=1)
    assert vocab.words[:8] == ("red", "apple", "cherry", "red", "blue", "ocean", "whale", "blue")
    assert vocab.words[8] == "pie"
    # a repeated word's second synonym is a different misspelling
    assert vocab.words[9:17] == (
        "redd", "applee", "cherryy", "reddd", "bluee", "oceann", "whalee", "blueee",
    )  # fmt: skip
    assert len(vocab.words) == 17  # nothing left for the rest
    assert vocab.index["red"] == 0 and vocab.index["blue"] == 4


def test_generic_block_holds_frequent_words_of_no_topic() -> None:
    titles = tuple(f"the {w}" for w in ("a1", "a2", "a3", "b1", "b2", "b3"))
    topics = np.array([[1.0, 0.0]] * 3 + [[0.0, 1.0]] * 3)
    vocab = vocabulary_from_titles(titles, topics, words_per_topic=3, max_generic=5)
    assert vocab.n_generic == 1
    assert vocab.words[6] == "the" and vocab.word_topic[6] == -1
    assert vocab.words[:6] == ("a1", "a2", "a3", "b1", "b2", "b3")


def test_title_word_ids() -> None:
    vocab = vocabulary_from_titles(TITLES, TOPICS, words_per_topic=2, max_generic=1)
    ids = title_word_ids(TITLES, vocab, 4)
    assert ids.dtype == np.int32
    assert ids.tolist() == [[0, 1, 4, -1], [0, 9, 4, -1], [2, 3, 4, -1], [2, 10, 4, -1]]
    with pytest.raises(ValueError, match="title 0 has 3 words, more than 2"):
        title_word_ids(TITLES, vocab, 2)
    with pytest.raises(ValueError, match="grape"):
        title_word_ids(["red grape"], vocab, 4)


def test_catalog_from_items_keeps_the_given_items() -> None:
    cfg = CatalogConfig(n_items=4, n_topics=2, words_per_topic=2, title_len_min=1, title_len_max=4)
    vocab = vocabulary_from_titles(TITLES, TOPICS, 2, 1)
    quality = np.array([0.5, -1.0, 2.0, 0.0])
    created = np.array([-10.0, -5.0, -1.0, -2.0])
    words = title_word_ids(TITLES, vocab, 4)
    catalog = Catalog.from_items(cfg, vocab, TOPICS, quality, created, TITLES, words)
    assert catalog.titles == list(TITLES)
    np.testing.assert_array_equal(catalog.topics, TOPICS.astype(np.float32))
    np.testing.assert_array_equal(catalog.quality, quality.astype(np.float32))
    np.testing.assert_array_equal(catalog.created_s, created)
    np.testing.assert_array_equal(catalog.title_words, words)
    assert catalog.available.all() and catalog.available.shape == (4,)
    assert (catalog.brand == -1).all()


def small_fitted(n_users: int = 6, n_items: int = 12, seed: int = 0) -> FittedWorld:
    rng = np.random.default_rng(seed)
    words = [("apple", "cherry", "plum"), ("ocean", "whale", "reef")]
    titles = tuple(
        f"{words[i % 2][i % 3]} {words[i % 2][(i + 1) % 3]} story {i}" for i in range(n_items)
    )
    topics = np.zeros((n_items, 2))
    topics[np.arange(n_items), np.arange(n_items) % 2] = 1.0
    interests = rng.dirichlet([1.0, 1.0], n_users)
    return FittedWorld(
        titles=titles,
        item_topics=topics,
        appeal=rng.normal(0.0, 1.0, n_items),
        created_s=-rng.uniform(0.0, 1e6, n_items),
        interests=interests,
        rate_per_day=rng.uniform(2.0, 6.0, n_users),
        source_user=np.arange(n_users, dtype=np.int64),
        dataset="toy",
    )


def fitted_config(fitted: FittedWorld, **catalog: object) -> WorldConfig:
    return WorldConfig.model_validate(
        {
            "catalog": {
                "n_items": fitted.n_items,
                "n_topics": fitted.n_topics,
                "words_per_topic": 3,
                "generic_vocab_size": 2,
                "title_len_min": 1,
                "title_len_max": fitted.max_title_words,
                **catalog,
            },
            "users": {"n_users": fitted.n_users},
            "feed": {"slate_size": 4},
            "episode_length_days": 0.5,
        }
    )


def test_build_world_uses_the_fitted_users_and_items() -> None:
    fitted = small_fitted()
    world = build_world(fitted_config(fitted), 1, make_policy("random"), fitted)
    pop = world.population
    np.testing.assert_array_equal(pop.interests, fitted.interests)
    np.testing.assert_array_equal(pop.initial_interests, fitted.interests)
    np.testing.assert_array_equal(pop.rate_per_day, fitted.rate_per_day)
    assert world.catalog.titles == list(fitted.titles)
    np.testing.assert_allclose(world.catalog.quality, fitted.appeal, rtol=1e-6)
    result = world.run_episode(0)
    assert result.n_sessions > 0
    items = result.events["item_id"].to_numpy()
    assert items.max() < fitted.n_items
    # the search engine indexes the real titles: "whale" is in items 3 and 7 (topic 1)
    ids, _ = world.index.search(["whale"], 5)
    found = set(ids[0][ids[0] >= 0].tolist())
    assert found == {i for i, t in enumerate(fitted.titles) if "whale" in t.split()}
    assert found


def test_build_world_rejects_a_size_mismatch() -> None:
    fitted = small_fitted()
    config = fitted_config(fitted, n_items=13)
    with pytest.raises(ValueError, match="fitted world has 12 items on 2 topics; the "
                       "configuration says 13 on 2"):  # fmt: skip
        build_world(config, 1, make_policy("random"), fitted)
    wrong_users = config.model_copy(
        update={
            "catalog": fitted_config(fitted).catalog,
            "users": config.users.model_copy(update={"n_users": 7}),
        }
    )
    with pytest.raises(ValueError, match=r"fitted users: interests \(6, 2\)"):
        build_world(wrong_users, 1, make_policy("random"), fitted)
