"""The pure title-content ranker (``content``): TF-IDF profiles by hand, ranking, exclusion."""

from __future__ import annotations

import numpy as np
import pytest

from policies import make_policy
from policies.base import PolicyContext
from policies.title_tfidf import TitleTfidf
from sim.types import CatalogView
from tests.policies.conftest import NoSearch, click_log, feed_batch

TITLES = ("red car", "red bike", "blue sea", "green tree fast", "blue car")


def _context(n_users: int = 2) -> PolicyContext:
    catalog = CatalogView(titles=TITLES, created_s=np.zeros(5), available=np.ones(5, dtype=bool))
    return PolicyContext(catalog, NoSearch(), n_users, 2, 2, np.random.default_rng(0))


def test_tfidf_affinity_by_hand():
    space = TitleTfidf(1)
    space.set_catalog(list(TITLES))
    space.add_episode(click_log([(0, 0)]))  # user 0 clicked "red car"
    # idf = log(5 / df): red, car, blue 2 titles -> log 2.5 = 0.9163; the rest log 5 = 1.6094
    a, b = np.log(2.5), np.log(5.0)
    profile = np.array([a, a])  # red, car
    expected = [
        1.0,  # red car: same vector
        a * a / (np.linalg.norm(profile) * np.hypot(a, b)),  # red bike: shares "red"
        0.0,  # blue sea
        0.0,  # green tree fast
        a * a / (np.linalg.norm(profile) * np.hypot(a, a)),  # blue car: shares "car"
    ]
    assert space.affinity(np.array([0]))[0] == pytest.approx(expected)


@pytest.mark.parametrize("name", ["content", "content-word-groups"])
def test_content_serves_titles_like_the_clicked_ones_never_the_clicked(name):
    policy = make_policy(name)
    policy.bind(_context())
    policy.update(click_log([(0, 0)]))
    slates = policy.recommend(feed_batch([0], slate_size=2))
    assert 0 not in slates.slates[0]
    assert (slates.origin == 6).all()  # Provenance.CONTENT
    if name == "content":
        assert set(slates.slates[0]) == {1, 4}  # the two titles sharing a word


def test_content_rejects_an_unknown_representation():
    with pytest.raises(ValueError, match="representation"):
        make_policy("content", representation="bag")
