"""BPR matrix factorisation: the pairwise update by hand, and recovery of a known structure."""

from __future__ import annotations

import numpy as np
import pytest

from policies import make_policy
from policies.bpr import bpr_epochs
from tests.policies.conftest import click_log, feed_batch, make_context


def test_one_bpr_step_by_hand():
    # One triple (u=0, i=0, j=1), d=1: U=[[1]], V=[[1],[0]], b=0 -> x = 1*(1-0) = 1,
    # g = sigmoid(-1) = 0.268941; lr 0.1, reg 0:
    # U += 0.1*g*(1-0) = 0.0268941; V_i += 0.1*g*1; V_j -= 0.1*g*1; b_i += 0.1*g; b_j -= 0.1*g
    u_f, v_f, b = np.array([[1.0]]), np.array([[1.0], [0.0]]), np.zeros(2)

    class Fixed:
        def permutation(self, m):
            return np.arange(m)

        def integers(self, low, high, size):
            return np.ones(size, dtype=np.int64)  # always item 1 as the negative

    bpr_epochs(
        (np.array([0]), np.array([0])), lambda u, j: np.zeros(u.shape, bool), (u_f, v_f, b),
        2, 1, 0.1, 0.0, 8, Fixed(),
    )  # fmt: skip
    g = 1 / (1 + np.e)
    assert u_f[0, 0] == pytest.approx(1 + 0.1 * g)
    assert v_f[:, 0] == pytest.approx([1 + 0.1 * g, -0.1 * g])
    assert b == pytest.approx([0.1 * g, -0.1 * g])


def test_bpr_recovers_two_taste_groups():
    rng = np.random.default_rng(0)
    n_users, n_items = 40, 20
    users = np.repeat(np.arange(n_users), 5)
    items = np.concatenate(
        [rng.choice(10, 5, replace=False) + (10 if u >= 20 else 0) for u in range(n_users)]
    )
    pos = np.zeros((n_users, n_items), bool)
    pos[users, items] = True
    factors = (rng.normal(0, 0.1, (n_users, 8)), rng.normal(0, 0.1, (n_items, 8)), np.zeros(20))
    bpr_epochs((users, items), lambda u, j: pos[u, j], factors, n_items, 100, 0.05, 0.01, 32, rng)
    s = factors[0] @ factors[1].T + factors[2]
    # Unclicked items of the user's own group score above the other group's items.
    own = np.where(np.arange(n_users)[:, None] >= 20, np.arange(20) >= 10, np.arange(20) < 10)
    unclicked_own = np.nanmean(np.where(own & ~pos, s, np.nan), axis=1)
    other = np.nanmean(np.where(~own, s, np.nan), axis=1)
    assert (unclicked_own > other).all()


def test_bpr_policy_learns_from_clicks_and_excludes_them():
    policy = make_policy("bpr", n_factors=4, epochs=50)
    policy.bind(make_context(n_items=6, n_users=3, slate_size=2))
    policy.update(click_log([(0, 0), (0, 1), (1, 0), (1, 1), (2, 4), (2, 5)]))
    slates = policy.recommend(feed_batch([0, 2])).slates
    assert not set(slates[0]) & {0, 1} and not set(slates[1]) & {4, 5}
