"""The user population as arrays (one row per user), plus per-session state.

Nothing here is per-user Python objects: every attribute is an array indexed by user
id, so a whole batch of users is updated with one fancy-indexed numpy operation.
"""

from __future__ import annotations

import numpy as np

from sim.config import WorldConfig
from sim.crn import counter_normal, counter_uniform

__all__ = ["ConsumedPairs", "Population"]

SECONDS_PER_DAY = 86_400.0
_KEY_SPAN = np.int64(1 << 32)  # key of a (user, item) pair: user * span + item
_SIGNATURE_WORDS = 8  # 64-bit words of a user's signature: 2^9 buckets (hash >> 55)


class ConsumedPairs:
    """A set of (user, item) pairs, as sorted keys ``user * 2^32 + item``.

    A small log-structured merge tree: ``levels[0]`` is a small sorted array that new
    pairs are merged into (cost ``O(len(levels[0]))`` per insert, repeats allowed);
    level ``i`` holds at most ``merge_every * fanout**i`` keys and, when full, is
    folded (a linear merge of two sorted runs, repeats dropped) into level ``i + 1``.
    Each key is therefore copied ``O(log_fanout(n / merge_every))`` times over the
    run, so inserting ``n`` pairs costs ``O(n log n)`` in total (a single large array
    folded every ``merge_every`` inserts cost ``O(n^2 / merge_every)``). Membership is
    a vectorised binary search in each level, done only for the pairs that pass a
    per-user signature (512 bits per user, one bit per item hash bucket, as a
    one-hash Bloom filter): most queried pairs were never consumed, and the
    signature rules them out with a few array operations. With 128 bits a user's
    signature filled up within days (a week's ~100 consumed items set over half of
    them), so most queries fell through to the binary searches and the cost per
    slate grew with the days simulated. Storage grows with the
    number of distinct consumed pairs and users, never with users × items.

    Args:
        merge_every: Capacity of ``levels[0]``.
        fanout: Capacity ratio of consecutive levels.
    """

    def __init__(self, merge_every: int = 4096, fanout: int = 8) -> None:
        self.levels: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
        self.merge_every = int(merge_every)
        self.fanout = int(fanout)
        # Per user: _SIGNATURE_WORDS * 64 bucket bits.
        self._signature = np.zeros((0, _SIGNATURE_WORDS), dtype=np.uint64)

    def __len__(self) -> int:
        return int(np.unique(np.concatenate(self.levels)).shape[0])

    def add(self, users: np.ndarray, items: np.ndarray) -> None:
        """Insert the pairs ``(users[j], items[j])`` (repeats are kept once)."""
        new = np.asarray(users, np.int64) * _KEY_SPAN + np.asarray(items, np.int64)
        if new.size == 0:
            return
        users = np.asarray(users, np.int64).ravel()
        top = int(users.max()) + 1
        if top > self._signature.shape[0]:
            grow = max(top, 2 * self._signature.shape[0]) - self._signature.shape[0]
            self._signature = np.concatenate(
                [self._signature, np.zeros((grow, _SIGNATURE_WORDS), dtype=np.uint64)]
            )
        word, bit = _bucket(np.asarray(items, np.int64).ravel())
        np.bitwise_or.at(self._signature, (users, word), np.left_shift(np.uint64(1), bit))
        levels = self.levels
        levels[0] = np.sort(np.concatenate([levels[0], new.ravel()]))  # repeats harmless
        cap, i = self.merge_every, 0
        while levels[i].shape[0] >= cap:
            if i + 1 == len(levels):
                levels.append(np.zeros(0, dtype=np.int64))
            levels[i + 1] = _merge_sorted(levels[i + 1], levels[i])
            levels[i] = np.zeros(0, dtype=np.int64)
            cap, i = cap * self.fanout, i + 1

    def contains(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Bool array of the broadcast shape: whether each pair was inserted."""
        users, items = np.broadcast_arrays(np.asarray(users, np.int64), np.asarray(items, np.int64))
        out = np.zeros(users.shape, dtype=bool)
        sig = self._signature
        if sig.shape[0] == 0:
            return out
        u, i = users.ravel(), items.ravel()
        word, bit = _bucket(i)
        known = (u >= 0) & (u < sig.shape[0])
        bits = sig[np.where(known, u, 0), word] >> bit
        maybe = np.flatnonzero(known & (bits & np.uint64(1)).astype(bool))
        if maybe.size == 0:
            return out
        query = u[maybe] * _KEY_SPAN + i[maybe]
        found = _in_sorted(self.levels[0], query)
        for level in self.levels[1:]:
            found |= _in_sorted(level, query)
        out.ravel()[maybe] = found
        return out


def _bucket(items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signature word (0 .. 7) and bit (0 .. 63) of each item: a multiplicative hash."""
    with np.errstate(over="ignore"):
        h = (items.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(55)
    return (h >> np.uint64(6)).astype(np.int64), h & np.uint64(63)


def _merge_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The distinct keys of two sorted int64 arrays, sorted (linear: two sorted runs)."""
    merged = np.sort(np.concatenate([a, b]), kind="stable")  # timsort: merges the runs
    if merged.shape[0] < 2:
        return merged
    keep = np.empty(merged.shape[0], dtype=bool)
    keep[0] = True
    np.not_equal(merged[1:], merged[:-1], out=keep[1:])
    return merged[keep]


def _in_sorted(sorted_keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Whether each element of ``query`` is in ``sorted_keys`` (binary search)."""
    if sorted_keys.size == 0:
        return np.zeros(query.shape, dtype=bool)
    idx = np.minimum(np.searchsorted(sorted_keys, query), sorted_keys.shape[0] - 1)
    return sorted_keys[idx] == query


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
        idiosyncratic_sd: ``choice.idiosyncratic_sd``, the scale of the users'
            idiosyncratic tastes (:meth:`idiosyncratic_utility`).
        repeat_penalty: ``choice.repeat_penalty``, subtracted from the utility of an
            item the user already consumed (:meth:`user_item_utility`).
        consumed: The consumed (user, item) pairs, kept only when ``repeat_penalty > 0``.
        n_consumed: Shape ``(n_users,)`` int64, items consumed so far (the counter of
            the ``reinforcing`` drift's direction draws).
        requests: Shape ``(n_users,)`` int64, requests served so far (session openings,
            feed pages, searches): the request index of the user's behaviour draws
            (:class:`sim.crn.UserDraws`).
        query_count: Shape ``(n_users,)`` int64, queries issued so far (their ids are
            ``user + n_users * k`` for the user's ``k``-th query).
        drift_rule: ``drift.rule``, ``"convex"`` or ``"reinforcing"``.
    """

    def __init__(
        self, cfg: WorldConfig, rng: np.random.Generator, taste_key: np.uint64 | None = None
    ) -> None:
        """Draw every user's latent attributes.

        Args:
            cfg: World configuration (uses ``users``, ``catalog.n_topics`` and
                ``choice.idiosyncratic_sd``).
            rng: The ``population`` stream.
            taste_key: Counter-stream key of the idiosyncratic tastes (the
                ``"taste"`` stream of the run's seed); needed only when
                ``choice.idiosyncratic_sd > 0``.

        Raises:
            ValueError: If ``choice.idiosyncratic_sd > 0`` and ``taste_key`` is ``None``.
        """
        self.idiosyncratic_sd = float(cfg.choice.idiosyncratic_sd)
        self.repeat_penalty = float(cfg.choice.repeat_penalty)
        self.consumed = ConsumedPairs() if self.repeat_penalty > 0 else None
        if self.idiosyncratic_sd > 0 and taste_key is None:
            raise ValueError("choice.idiosyncratic_sd > 0 needs a taste_key")
        self._taste_key = taste_key
        self.drift_rule = cfg.drift.rule
        #: Counter-stream key of the ``reinforcing`` drift's direction draws
        #: (``build_world`` sets the run's ``"drift/flip"`` stream key).
        self.flip_key = np.uint64(0)
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
        self.n_consumed = np.zeros(n, dtype=np.int64)
        self.requests = np.zeros(n, dtype=np.int64)
        self.query_count = np.zeros(n, dtype=np.int64)
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

    def set_fitted(self, interests: np.ndarray, rate_per_day: np.ndarray) -> None:
        """Replace the drawn interests and session rates by fitted ones (calibrated worlds).

        Args:
            interests: Shape ``(n_users, n_topics)`` rows on the simplex.
            rate_per_day: Shape ``(n_users,)`` baseline session rates.

        Raises:
            ValueError: If the shapes do not match the population.
        """
        interests = np.asarray(interests, dtype=np.float64)
        if interests.shape != self.interests.shape or np.shape(rate_per_day) != (self.n_users,):
            raise ValueError(
                f"fitted users: interests {interests.shape} and rates "
                f"{np.shape(rate_per_day)} do not match {self.interests.shape}"
            )
        self.interests = interests.copy()
        self.initial_interests = interests.copy()
        self.rate_per_day = np.asarray(rate_per_day, dtype=np.float64).copy()

    def row_names(self) -> list[str]:
        """Names of the per-user arrays (first axis ``n_users``), in a fixed order."""
        n = self.n_users
        return sorted(
            name
            for name, value in vars(self).items()
            if isinstance(value, np.ndarray) and value.shape[:1] == (n,)
        )

    def rows(self, users: np.ndarray) -> dict[str, np.ndarray]:
        """Copies of every per-user array's rows of ``users`` (a shard's state).

        Args:
            users: Shape ``(m,)`` user ids.

        Returns:
            Name to array of shape ``(m, ...)``; pending query texts under
            ``"pending_query"`` (an object array, ``None`` where none is pending).
        """
        out = {name: getattr(self, name)[users].copy() for name in self.row_names()}
        out["pending_query"] = np.array(
            [self.pending_query.get(u) for u in np.asarray(users).tolist()], dtype=object
        )
        return out

    def set_rows(self, users: np.ndarray, rows: dict[str, np.ndarray]) -> None:
        """Write back rows taken by :meth:`rows` (e.g. from the process that simulated them)."""
        for name in self.row_names():
            getattr(self, name)[users] = rows[name]
        for user, text in zip(np.asarray(users).tolist(), rows["pending_query"], strict=True):
            if text is None:
                self.pending_query.pop(user, None)
            else:
                self.pending_query[user] = text

    def idiosyncratic_utility(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Each user's fixed idiosyncratic taste for each item, ``eps_ui ~ N(0, sd^2)``.

        ``eps_ui = idiosyncratic_sd * counter_normal(taste_key, u, i)``: a pure function of
        the run's seed and the pair, the same at every call and under every policy,
        computed on demand (no users × items matrix is stored). Zeros when the sd is 0.

        Args:
            users: Integer array of user ids.
            items: Integer array of item ids, broadcastable with ``users``.

        Returns:
            float64 array of the broadcast shape.
        """
        if self.idiosyncratic_sd <= 0:
            return np.zeros(np.broadcast_shapes(np.shape(users), np.shape(items)))
        return self.idiosyncratic_sd * counter_normal(self._taste_key, users, items)

    @property
    def has_user_item_terms(self) -> bool:
        """Whether :meth:`user_item_utility` can be non-zero (either term switched on)."""
        return self.idiosyncratic_sd > 0 or self.repeat_penalty > 0

    def user_item_utility(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The user-item-specific part of the utility: ``eps_ui − repeat_penalty · c_ui``.

        ``eps_ui`` is :meth:`idiosyncratic_utility`; ``c_ui`` is 1 if user ``u`` has
        already consumed item ``i`` (feed or search click), else 0.

        Args:
            users: Integer array of user ids.
            items: Integer array of item ids, broadcastable with ``users``.

        Returns:
            float64 array of the broadcast shape.
        """
        out = self.idiosyncratic_utility(users, items)
        if self.consumed is not None:
            out = out - self.repeat_penalty * self.consumed.contains(users, items)
        return out

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
        self,
        users: np.ndarray,
        item_topics: np.ndarray,
        increment: float,
        rate: float,
        items: np.ndarray | None = None,
        affinity: np.ndarray | None = None,
        floor: float = 1e-4,
    ) -> None:
        """Satiation and endogenous drift after consuming one item each.

        ``S_u += increment * theta_i``, then the drift rule (``drift.rule``):

        * ``convex``: ``I_u <- (1 - rate) I_u + rate * theta_i`` (renormalised);
        * ``reinforcing`` (RecSim-style): ``I_u <- normalise(max(I_u * exp(s * rate *
          theta_i), floor))`` with ``s = +1`` with probability ``a_ui`` (the user's
          affinity for the item, in ``[0, 1]``) and ``-1`` otherwise: consuming a liked
          item strengthens its topics, a disliked one weakens them, so interests can
          sharpen. ``s`` is the counter-based uniform ``U(flip_key, u, k) < a_ui`` of
          the user's ``k``-th consumption (policy-independent randomness).

        The change of ``I_u`` is added to ``drift_endogenous``. The pairs are recorded
        in :attr:`consumed` when it is kept.

        Args:
            users: Shape ``(n,)`` distinct user ids.
            item_topics: Shape ``(n, n_topics)`` topic vectors of the consumed items.
            increment: Satiation per click.
            rate: Endogenous drift rate per click.
            items: Shape ``(n,)`` the consumed item ids (needed when
                ``repeat_penalty > 0``).
            affinity: Shape ``(n,)`` affinities ``a_ui`` (needed by ``reinforcing``).
            floor: Minimum interest before renormalising (``reinforcing``).
        """
        if self.consumed is not None:
            if items is None:
                raise ValueError("consume() needs the item ids when repeat_penalty > 0")
            self.consumed.add(users, items)
        theta = item_topics.astype(np.float64)
        self.satiation[users] += increment * theta
        old = self.interests[users]
        self.n_consumed[users] += 1
        if self.drift_rule == "reinforcing":
            if rate <= 0:
                return
            if affinity is None:
                raise ValueError("the reinforcing drift needs the affinities of the items")
            up = counter_uniform(self.flip_key, users, self.n_consumed[users] - 1) < affinity
            sign = np.where(up, 1.0, -1.0)
            new = np.maximum(old * np.exp(sign[:, None] * rate * theta), floor)
        else:
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
