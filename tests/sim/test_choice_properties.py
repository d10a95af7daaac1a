"""Property-based tests (hypothesis) of the feed choice model in sim/choice.py."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sim.choice import choice_probabilities, examination_probabilities, sample_choice

finite = st.floats(-30, 30, allow_nan=False, allow_infinity=False)


@st.composite
def slates(draw):
    """(utilities (n, S), examined (n, S), no-click logit)."""
    n = draw(st.integers(1, 6))
    s = draw(st.integers(1, 8))
    utilities = draw(arrays(np.float64, (n, s), elements=finite))
    examined = draw(arrays(np.bool_, (n, s)))
    return utilities, examined, draw(finite)


@settings(max_examples=300, deadline=None)
@given(slates())
def test_probabilities_are_a_distribution_over_examined_items_and_no_click(case):
    utilities, examined, v0 = case
    p = choice_probabilities(utilities, examined, v0)
    assert p.shape == (utilities.shape[0], utilities.shape[1] + 1)
    assert np.all(p >= 0) and np.allclose(p.sum(axis=1), 1.0)
    assert np.all(p[:, :-1][~examined] == 0.0)  # what is not examined cannot be chosen
    assert np.all(p[:, -1] > 0)  # the no-click option is always possible


@settings(max_examples=300, deadline=None)
@given(slates(), finite)
def test_shifting_every_logit_changes_nothing(case, shift):
    utilities, examined, v0 = case
    base = choice_probabilities(utilities, examined, v0)
    moved = choice_probabilities(utilities + shift, examined, v0 + shift)
    assert np.allclose(base, moved, atol=1e-12)


@settings(max_examples=300, deadline=None)
@given(slates())
def test_odds_between_examined_items_follow_utility_differences(case):
    # Multinomial logit (IIA): P(i) / P(no click) = exp(v_i - v_0) for examined i.
    utilities, examined, v0 = case
    p = choice_probabilities(utilities, examined, v0)
    rows, cols = np.nonzero(examined)
    log_odds = np.log(p[rows, cols]) - np.log(p[rows, -1])
    finite_rows = np.isfinite(log_odds)
    assert np.allclose(log_odds[finite_rows], (utilities[rows, cols] - v0)[finite_rows], atol=1e-6)


@settings(max_examples=200, deadline=None)
@given(slates(), st.data())
def test_raising_an_items_utility_raises_its_probability_and_lowers_the_rest(case, data):
    utilities, examined, v0 = case
    rows, cols = np.nonzero(examined)
    if rows.size == 0:
        return
    k = data.draw(st.integers(0, rows.size - 1))
    r, c = rows[k], cols[k]
    raised = utilities.copy()
    raised[r, c] += data.draw(st.floats(0.1, 5))
    before = choice_probabilities(utilities, examined, v0)[r]
    after = choice_probabilities(raised, examined, v0)[r]
    assert after[c] >= before[c]
    others = np.ones(after.shape[0], dtype=bool)
    others[c] = False
    assert np.all(after[others] <= before[others] + 1e-15)


@settings(max_examples=300, deadline=None)
@given(slates(), st.data())
def test_sampling_never_picks_an_unexamined_item(case, data):
    # Including the edge u = 0: an inverse-CDF draw must skip zero-probability options.
    utilities, examined, v0 = case
    p = choice_probabilities(utilities, examined, v0)
    u = data.draw(
        arrays(
            np.float64,
            (p.shape[0],),
            elements=st.sampled_from([0.0, 0.5, 1 - 2**-53]) | st.floats(0, 1, exclude_max=True),
        )
    )
    chosen = sample_choice(p, u)
    assert np.all((chosen >= -1) & (chosen < utilities.shape[1]))
    picked = chosen >= 0
    assert np.all(examined[np.flatnonzero(picked), chosen[picked]])
    assert np.all(p[np.flatnonzero(picked), chosen[picked]] > 0)


def test_sampling_follows_the_cumulative_distribution_exactly():
    # Two items with P = 0.25, 0.25 and no click 0.5: u in [0, .25) -> 0, [.25, .5) -> 1,
    # [.5, 1) -> no click (-1); the second item is not examined in the last row.
    p = np.array([[0.25, 0.25, 0.5]] * 4 + [[0.0, 0.5, 0.5]])
    u = np.array([0.0, 0.2499, 0.25, 0.75, 0.0])
    assert sample_choice(p, u).tolist() == [0, 0, 1, -1, 1]


@settings(deadline=None)  # timing on a loaded shared machine is not what is tested
@given(st.integers(1, 30), st.floats(0, 3))
def test_position_bias_starts_at_one_and_never_increases(slate_size, exponent):
    rho = examination_probabilities(slate_size, exponent)
    assert rho[0] == 1.0 and np.all(np.diff(rho) <= 0) and np.all(rho > 0)
