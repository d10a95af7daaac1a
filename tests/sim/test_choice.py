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
    assert rate == pytest.approx(examination_probabilities(5, 1.0), abs=0.03)


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
    cfg = small_config(2)
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
