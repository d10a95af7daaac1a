"""The user population as arrays (one row per user), plus per-session state.

Nothing here is per-user Python objects: every attribute is an array indexed by user
id, so a whole batch of users is updated with one fancy-indexed numpy operation.
"""

from __future__ import annotations

import numpy as np

from sim.config import WorldConfig

__all__ = ["Population"]

SECONDS_PER_DAY = 86_400.0


class Population:
    """Latent user state (ground truth) and per-session counters.

    Attributes:
        interests: Shape ``(n_users, n_topics)`` float64, rows on the simplex.
        initial_interests: Copy of ``interests`` at the start of the run.
        satiation: Shape ``(n_users, n_topics)`` float64, as of ``satiation_time_s``.
        satiation_time_s: Shape ``(n_users,)`` float64, time of the last decay.
        drift_endogenous: Shape ``(n_users, n_topics)`` float64, cumulative change of
            ``interests`` caused by consumption.
        drift_exogenous: Same, caused by the exogenous random walk.
        rate_per_day: Shape ``(n_users,)`` baseline session rate.
        search_propensity: Shape ``(n_users,)`` per-page intent probability.
        patience: Shape ``(n_users,)`` probability of another page after a page
            without a click.
        n_sessions: Shape ``(n_users,)`` int64 sessions started so far.
        next_start_s: Shape ``(n_users,)`` float64 start time of the next session.
        clock_s: Shape ``(n_users,)`` float64, each user's own clock (the time of
            their next request).
    """

    def __init__(self, cfg: WorldConfig, rng: np.random.Generator) -> None:
        """Draw every user's latent attributes.

        Args:
            cfg: World configuration (uses ``users`` and ``catalog.n_topics``).
            rng: The ``population`` stream.
        """
        u = cfg.users
        n, k = u.n_users, cfg.catalog.n_topics
        self.n_users = n
        self.n_topics = k
        interests = rng.dirichlet(np.full(k, u.interest_concentration), size=n)
        bad = ~np.isfinite(interests).all(axis=1) | (interests.sum(axis=1) <= 0)
        if bad.any():
            interests[bad] = np.eye(k)[rng.integers(0, k, int(bad.sum()))]
        self.interests = interests
        self.initial_interests = interests.copy()
        self.satiation = np.zeros((n, k))
        self.satiation_time_s = np.zeros(n)
        self.drift_endogenous = np.zeros((n, k))
        self.drift_exogenous = np.zeros((n, k))
        self.rate_per_day = u.session_rate_median_per_day * np.exp(
            u.session_rate_log_sd * rng.standard_normal(n)
        )
        self.search_propensity = rng.beta(u.search_propensity_a, u.search_propensity_b, n)
        self.patience = rng.beta(u.patience_a, u.patience_b, n)
        self.n_sessions = np.zeros(n, dtype=np.int64)
        self.next_start_s = np.full(n, np.inf)
        self.clock_s = np.zeros(n)
        # Per-session state, reset when a session opens.
        self.session_id = np.full(n, -1, dtype=np.int64)
        self.feed_pages = np.zeros(n, dtype=np.int32)
        self.feed_clicks = np.zeros(n, dtype=np.int32)
        self.queries = np.zeros(n, dtype=np.int32)
        self.search_clicks = np.zeros(n, dtype=np.int32)
        self.reformulations_left = np.zeros(n, dtype=np.int32)
        self.intent_topic = np.full(n, -1, dtype=np.int32)
        self.intent_item = np.full(n, -1, dtype=np.int32)
        self.pending_query_id = np.full(n, -1, dtype=np.int64)
        self.pending_query: dict[int, str] = {}

    def open_sessions(self, users: np.ndarray, session_ids: np.ndarray, max_refs: int) -> None:
        """Reset the per-session counters of ``users`` (shape ``(n,)``)."""
        self.session_id[users] = session_ids
        self.feed_pages[users] = 0
        self.feed_clicks[users] = 0
        self.queries[users] = 0
        self.search_clicks[users] = 0
        self.reformulations_left[users] = max_refs
        self.n_sessions[users] += 1

    def decay_satiation(self, users: np.ndarray, time_s: np.ndarray, half_life_days: float) -> None:
        """Exponential recovery ``S <- S * 2^(-dt / half_life)`` up to ``time_s``.

        Args:
            users: Shape ``(n,)`` distinct user ids.
            time_s: Shape ``(n,)`` or scalar, current time of each user.
            half_life_days: Recovery half-life.
        """
        dt = np.maximum(np.asarray(time_s, dtype=np.float64) - self.satiation_time_s[users], 0.0)
        factor = np.exp2(-dt / (half_life_days * SECONDS_PER_DAY))
        self.satiation[users] *= factor[:, None]
        self.satiation_time_s[users] = np.maximum(self.satiation_time_s[users], time_s)

    def consume(
        self, users: np.ndarray, item_topics: np.ndarray, increment: float, rate: float
    ) -> None:
        """Satiation and endogenous drift after consuming one item each.

        ``S_u += increment * theta_i`` and ``I_u <- (1 - rate) I_u + rate * theta_i``;
        the change of ``I_u`` is added to ``drift_endogenous``.

        Args:
            users: Shape ``(n,)`` distinct user ids.
            item_topics: Shape ``(n, n_topics)`` topic vectors of the consumed items.
            increment: Satiation per click.
            rate: Endogenous drift rate per click.
        """
        theta = item_topics.astype(np.float64)
        self.satiation[users] += increment * theta
        old = self.interests[users]
        new = (1.0 - rate) * old + rate * theta
        new /= new.sum(axis=1, keepdims=True)
        self.interests[users] = new
        self.drift_endogenous[users] += new - old

    def exogenous_step(self, z: np.ndarray, sd: float, floor: float) -> None:
        """One exogenous random-walk step for every user, multiplicative (in log space).

        ``I <- normalise(max(I * exp(sd * (z - mean(z))), floor))``: every log-interest
        moves by an equal-variance centred normal step, so no topic is favoured and the
        walk has no pull towards the uniform vector (an additive step floored at zero
        would push mass into the empty topics). The floor only guards against
        underflow. The realised change is added to ``drift_exogenous``.

        Args:
            z: Shape ``(n_users, n_topics)`` standard normal draws (policy-independent).
            sd: Step standard deviation of each log-interest (already scaled by sqrt
                of the elapsed days).
            floor: Minimum interest component before renormalising.
        """
        if sd <= 0:
            return
        step = sd * (z - z.mean(axis=1, keepdims=True))
        new = np.maximum(self.interests * np.exp(step), floor)
        new /= new.sum(axis=1, keepdims=True)
        self.drift_exogenous += new - self.interests
        self.interests = new
