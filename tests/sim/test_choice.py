import numpy as np
import pytest

from sim.choice import choice_probabilities, examination_probabilities, sample_choice
from sim.population import Population

from .helpers import make_world, small_config


def test_choice_probabilities_by_hand():
    # v = [1, 0, 5], the third item not examined; v0 = 1.
    # weights: e^1 = 2.718282, e^0 = 1, (unexamined) 0, no-click e^1 = 2.718282
    # denominator = 6.436564 -> P = [0.422319, 0.155362, 0, 0.422319]
    p = choice_probabilities(
        np.array([[1.0, 0.0, 5.0]]), np.array([[True, True, False]]), no_click_logit=1.0
    )
    assert p == pytest.approx(np.array([[0.422319, 0.155362, 0.0, 0.422319]]), abs=1e-6)


def test_choice_probabilities_nothing_examined_means_no_click():
    p = choice_probabilities(np.array([[3.0, 2.0]]), np.zeros((1, 2), bool), no_click_logit=0.0)
    assert p.tolist() == [[0.0, 0.0, 1.0]]


def test_sample_choice_inverse_cdf():
    p = np.array([[0.2, 0.3, 0.5], [0.2, 0.3, 0.5], [0.2, 0.3, 0.5]])
    # cdf = [0.2, 0.5, 1.0]: u=0.1 -> item 0, u=0.4 -> item 1, u=0.9 -> no click (-1)
    assert sample_choice(p, np.array([0.1, 0.4, 0.9])).tolist() == [0, 1, -1]


def test_examination_probabilities_by_hand():
    # (1 + p)^-1 for p = 0..3 -> 1, 1/2, 1/3, 1/4 ; exponent 0 -> all ones
    assert examination_probabilities(4, 1.0) == pytest.approx([1, 0.5, 1 / 3, 0.25])
    assert examination_probabilities(3, 0.0).tolist() == [1.0, 1.0, 1.0]


def test_logged_examination_follows_position_bias():
    cfg = small_config(300, feed={"slate_size": 5, "position_bias_exponent": 1.0})
    df = make_world(cfg).run_episode(0).events.to_pandas()
    imp = df[df.event == "impression"].groupby("position").size()
    exam = df[df.event.isin(["skip", "click"])].groupby("position").size()
    rate = (exam / imp).to_numpy()
    expected = examination_probabilities(5, 1.0)
    # Within 4 binomial standard errors of each position's examination probability.
    se = np.sqrt(expected * (1 - expected) / imp.to_numpy())
    assert np.all(np.abs(rate - expected) <= 4 * se + 1e-12)


def test_satiation_recovers_with_its_half_life():
    cfg = small_config(4, satiation={"half_life_days": 0.5})
    pop = Population(cfg, np.random.default_rng(0))
    users = np.array([0, 1])
    pop.satiation[users] = 0.8
    # half a day later: 0.8 * 2^-1 = 0.4 ; a day later: 0.8 * 2^-2 = 0.2
    pop.decay_satiation(users, np.array([43_200.0, 86_400.0]), 0.5)
    assert pop.satiation[0] == pytest.approx(0.4)
    assert pop.satiation[1] == pytest.approx(0.2)
    assert pop.satiation[2].tolist() == [0.0] * 8


def test_consumption_raises_satiation_and_drifts_interests():
    cfg = small_config(2, drift={"rule": "convex"})
    pop = Population(cfg, np.random.default_rng(1))
    theta = np.zeros((1, 8), dtype=np.float32)
    theta[0, 3] = 1.0
    before = pop.interests[0].copy()
    pop.consume(np.array([0]), theta, increment=0.3, rate=0.1, items=np.array([0]))
    # I' = 0.9 I + 0.1 e_3 ; S' = 0.3 e_3
    expected = 0.9 * before + 0.1 * theta[0]
    assert pop.interests[0] == pytest.approx(expected)
    assert pop.drift_endogenous[0] == pytest.approx(expected - before)
    assert pop.satiation[0, 3] == pytest.approx(0.3)


def test_reinforcing_drift_by_hand():
    from sim.crn import counter_uniform

    cfg = small_config(2, drift={"rule": "reinforcing"})
    pop = Population(cfg, np.random.default_rng(1))
    pop.flip_key = np.uint64(12345)
    pop.interests[:] = np.array([0.5, 0.3, 0.2, 0, 0, 0, 0, 0]) + 0.0
    theta = np.zeros((2, 8), dtype=np.float32)
    theta[:, 1] = 1.0
    u = counter_uniform(pop.flip_key, np.array([0, 1]), np.array([0, 0]))
    # Affinity 1 is always an upward step, 0 always downward (u is in (0, 1)).
    pop.consume(np.array([0, 1]), theta, 0.0, 0.5, np.array([0, 0]), np.array([1.0, 0.0]), 1e-4)
    assert u.min() > 0 and u.max() < 1
    # Zero interests are floored at 1e-4 before renormalising (5 x 1e-4 more mass):
    # up:   (0.5, 0.3 e^0.5, 0.2, ...) / (0.5 + 0.494616 + 0.2 + 0.0005) -> 0.41386 for topic 1
    # down: (0.5, 0.3 e^-0.5, 0.2, ...) / (0.5 + 0.181959 + 0.2 + 0.0005) -> 0.20620
    up = np.array([0.5, 0.3 * np.exp(0.5), 0.2, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4])
    down = np.array([0.5, 0.3 * np.exp(-0.5), 0.2, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4])
    assert pop.interests[0] == pytest.approx(up / up.sum())
    assert pop.interests[1] == pytest.approx(down / down.sum())
    assert pop.interests[0, 1] == pytest.approx(0.41386, abs=1e-5)
    assert pop.interests[1, 1] == pytest.approx(0.20620, abs=1e-5)
    assert pop.n_consumed.tolist() == [1, 1]


def test_reinforcing_drift_can_sharpen_interests():
    cfg = small_config(1, drift={"rule": "reinforcing", "endogenous_rate": 0.1})
    pop = Population(cfg, np.random.default_rng(1))
    pop.flip_key = np.uint64(7)
    pop.interests[0] = np.array([0.4, 0.3, 0.3, 0, 0, 0, 0, 0]) + 1e-4
    pop.interests[0] /= pop.interests[0].sum()
    theta = np.zeros((1, 8), dtype=np.float32)
    theta[0, 0] = 1.0

    def entropy(p):
        return float(-(p * np.log(p)).sum())

    start = entropy(pop.interests[0])
    for _ in range(20):  # consuming items of the favourite topic, liked (affinity 1)
        pop.consume(np.array([0]), theta, 0.0, 0.1, np.array([0]), np.array([1.0]))
    assert entropy(pop.interests[0]) < start - 0.3


def test_dot_affinity_prefers_the_dominant_topic():
    from sim.choice import affinity

    interests = np.array([[0.5, 0.3, 0.2]])
    items = np.array([[[1.0, 0, 0], [0, 1.0, 0], [0.5, 0.3, 0.2]]])
    norm = np.linalg.norm(items, axis=2)
    # dot: p = I / max I = (1, 0.6, 0.4): 1, 0.6, and 0.5 + 0.18 + 0.08 = 0.76
    assert affinity(interests, items, norm, "dot")[0] == pytest.approx([1.0, 0.6, 0.76])
    # cosine: 0.5 / |I| = 0.5 / 0.6164 = 0.8111, 0.3 / 0.6164 = 0.4867, and 1 (same mix)
    assert affinity(interests, items, norm, "cosine")[0] == pytest.approx(
        [0.8111, 0.4867, 1.0], abs=1e-4
    )
    # temperature 0.5 squares p: (1, 0.36, 0.16): 1, 0.36, 0.5 + 0.108 + 0.032 = 0.64
    assert affinity(interests, items, norm, "dot", 0.5)[0] == pytest.approx([1.0, 0.36, 0.64])
