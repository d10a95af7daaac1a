"""The world: wiring (``build_world``) and the episode loop (``World.run_episode``).

Episode ``e`` covers simulated days ``[e * L, (e + 1) * L)``. Every session that
*starts* inside the episode runs to its natural end inside the same episode (its last
events may be stamped slightly after the boundary); a user whose next session would
start at or after the boundary waits for the next episode. An episode's log is
therefore self-contained: every session in it has its SESSION_START and SESSION_END.
At the end of an episode the exogenous random walk takes one step of
``exogenous_sd_per_day * sqrt(L)``, the observed click counts of the conformity term
are published (when it is on) and a ground-truth snapshot is taken.

Each episode runs on a fresh simpy clock starting at the episode's start, and between
episodes the world's clock stands at the boundary: what happens in an episode, and
when, depends only on the users' own state and the episode's new items, never on how
long the previous episode's last sessions ran. An episode is :meth:`World.simulate`
(optionally for a subset of the users: one shard of a run split by users,
:mod:`sim.shards`) followed by :meth:`World.close_episode`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import simpy

from sim.catalog import Catalog, make_vocabulary
from sim.config import WorldConfig
from sim.crn import UserDraws, counter_uniform, stream_key
from sim.fitted import FittedWorld, title_word_ids, vocabulary_from_titles
from sim.log import EventLog
from sim.population import SECONDS_PER_DAY, Population
from sim.responder import Responder, Streams
from sim.rng import RngStreams
from sim.search import BM25Index
from sim.serving import Batcher
from sim.types import CatalogView, PolicyContext
from sim.types import ServedPolicy as Policy

__all__ = ["EpisodeResult", "TruthSnapshot", "World", "build_world"]

_PROGRESS_STEPS = 48


@dataclass(frozen=True)
class TruthSnapshot:
    """Ground truth at the end of an episode (never shown to policies).

    Attributes:
        episode: Episode index.
        interests: Shape ``(n_users, n_topics)`` float32.
        satiation: Shape ``(n_users, n_topics)`` float32, decayed to the episode end.
        drift_endogenous: Shape ``(n_users, n_topics)`` float32, cumulative
            consumption-driven change of the interests since the run started.
        drift_exogenous: Same for the exogenous random walk; ``interests ==
            initial + drift_endogenous + drift_exogenous`` up to rounding.
    """

    episode: int
    interests: np.ndarray
    satiation: np.ndarray
    drift_endogenous: np.ndarray
    drift_exogenous: np.ndarray


@dataclass(frozen=True)
class EpisodeResult:
    """What one episode produced."""

    episode: int
    events: pa.Table
    truth: TruthSnapshot
    n_sessions: int
    n_slates: int
    n_events: int


class World:
    """A wired world; build it with :func:`build_world`.

    Attributes:
        config: The world configuration.
        n_users: Number of users.
        catalog: The full catalogue including latent topics (for metrics and oracles;
            never passed to policies).
        population: The users' latent state (ground truth).
    """

    def __init__(
        self,
        config: WorldConfig,
        streams: RngStreams,
        env: simpy.Environment,
        catalog: Catalog,
        index: BM25Index,
        population: Population,
        responder: Responder,
        batcher: Batcher,
    ) -> None:
        self.config = config
        self.n_users = population.n_users
        self.streams = streams
        self.env = env
        self.catalog = catalog
        self.index = index
        self.population = population
        self.responder = responder
        self.batcher = batcher
        self.policy = responder.policy
        self._next_episode = 0
        self._last_truth: TruthSnapshot | None = None

    def __getstate__(self) -> dict:
        """Pickle support between episodes (checkpoints): the simpy clock is rebuilt.

        Raises:
            RuntimeError: If simulated events are pending (mid-episode).
        """
        if self.env.peek() != math.inf:
            raise RuntimeError("a world can only be saved between episodes")
        state = self.__dict__.copy()
        state["env"] = self.env.now
        return state

    def __setstate__(self, state: dict) -> None:
        now = state.pop("env")
        self.__dict__.update(state)
        self.env = simpy.Environment(initial_time=now)
        self.batcher.reset(self.env)

    def catalog_view(self) -> CatalogView:
        """The policy-visible catalogue view."""
        return self.catalog.view()

    def truth_snapshot(self) -> TruthSnapshot:
        """Current ground truth (satiation decayed to the current simulated time)."""
        return self._snapshot(self._next_episode - 1, self.env.now)

    def _snapshot(self, episode: int, time_s: float) -> TruthSnapshot:
        pop = self.population
        dt = np.maximum(time_s - pop.satiation_time_s, 0.0)
        half_life_s = self.config.satiation.half_life_days * SECONDS_PER_DAY
        satiation = pop.satiation * np.exp2(-dt / half_life_s)[:, None]
        return TruthSnapshot(
            episode=episode,
            interests=pop.interests.astype(np.float32),
            satiation=satiation.astype(np.float32),
            drift_endogenous=pop.drift_endogenous.astype(np.float32),
            drift_exogenous=pop.drift_exogenous.astype(np.float32),
        )

    def set_policy(self, policy: Policy) -> None:
        """Serve the following episodes with ``policy`` (e.g. after warm-up episodes).

        The policy is bound exactly as :func:`build_world` binds one: the current
        observable catalogue, the search engine and a fresh generator of the
        ``"policy"`` stream (so it draws what it would have drawn had the world been
        built with it). Call it between episodes only.

        Args:
            policy: An unbound policy.
        """
        policy.bind(
            _policy_context(self.config, self.catalog, self.index, self.n_users, self.streams)
        )
        self.policy = policy
        self.responder.policy = policy

    # -------------------------------------------------------------- episodes
    def episode_bounds(self, episode: int) -> tuple[float, float]:
        """``(start_s, end_s)`` of an episode: days ``[episode * L, (episode + 1) * L)``."""
        length_s = self.config.episode_length_days * SECONDS_PER_DAY
        return episode * length_s, (episode + 1) * length_s

    def run_episode(
        self, episode: int, progress: Callable[[int], None] | None = None
    ) -> EpisodeResult:
        """Simulate days ``[episode * L, (episode + 1) * L)``; does not call ``policy.update``.

        Args:
            episode: Episode index; episodes must be run in order from 0.
            progress: Called with the number of sessions finished since its last call.

        Returns:
            The episode's events, ground truth and counts.

        Raises:
            ValueError: If ``episode`` is not the next episode.
        """
        resp = self.responder
        sessions0, slates0 = resp.sessions_started, resp.slates_served
        self.simulate(episode, progress=progress)
        events = resp.log.take_table(episode)
        return self.close_episode(
            episode, events, resp.sessions_started - sessions0, resp.slates_served - slates0
        )

    def simulate(
        self,
        episode: int,
        users: np.ndarray | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Simulate the sessions of ``users`` (default: everyone) that start in the episode.

        The episode's new items arrive at their times whoever is simulated (the
        catalogue, the search index and the policy follow them alike in every process
        of a sharded run). Sessions that start before the episode's end run to their
        natural end. The episode is not closed (:meth:`close_episode`): the events stay
        in the log and the end-of-episode steps are not taken.

        Args:
            episode: Episode index; episodes must be run in order from 0.
            users: Shape ``(m,)`` the users simulated (the others keep their state).
            progress: Called with the number of sessions finished since its last call.

        Raises:
            ValueError: If ``episode`` is not the next episode.
        """
        if episode != self._next_episode:
            raise ValueError(f"expected episode {self._next_episode}, got {episode}")
        start_s, end_s = self.episode_bounds(episode)
        length_s = end_s - start_s
        resp = self.responder
        resp.episode = episode
        # A fresh clock at the episode's start: every request and new item of the episode
        # is at or after it, whatever the previous episode's last sessions did.
        self.env = simpy.Environment(initial_time=start_s)
        self.batcher.reset(self.env)
        self._schedule_drops(start_s, end_s)
        pop = self.population
        starting = np.flatnonzero(pop.next_start_s < end_s)
        if users is not None:
            starting = np.intersect1d(starting, np.asarray(users, dtype=np.int64))
        starting = starting[np.argsort(pop.next_start_s[starting], kind="stable")]
        self.batcher.episode_end_s = end_s
        self.batcher.start_sessions(starting, pop.next_start_s[starting])
        reported = resp.sessions_finished
        for step in range(1, _PROGRESS_STEPS + 1):
            until = start_s + length_s * step / _PROGRESS_STEPS
            if until > self.env.now:
                self.env.run(until=until)
            if progress is not None and resp.sessions_finished > reported:
                progress(resp.sessions_finished - reported)
                reported = resp.sessions_finished
        self.env.run()  # drain: sessions started before the boundary finish
        if progress is not None and resp.sessions_finished > reported:
            progress(resp.sessions_finished - reported)

    def close_episode(
        self, episode: int, events: pa.Table, n_sessions: int, n_slates: int
    ) -> EpisodeResult:
        """The end-of-episode steps, after :meth:`simulate` (and, sharded, the merge).

        The exogenous random walk takes its step, the conformity term's click counts are
        published, the ground truth is snapshot and the world's clock moves to the
        episode's end (where interventions between episodes happen).

        Args:
            episode: The episode just simulated.
            events: Its events (schema ``sim.events.EVENT_SCHEMA``).
            n_sessions: Sessions started in it.
            n_slates: Feed slates served in it.
        """
        _, end_s = self.episode_bounds(episode)
        pop = self.population
        drift = self.config.drift
        z = self.streams.get(f"drift/exogenous/{episode}").standard_normal(
            (self.n_users, self.config.catalog.n_topics)
        )
        pop.exogenous_step(
            z, drift.exogenous_sd_per_day * math.sqrt(self.config.episode_length_days),
            drift.min_interest,
        )  # fmt: skip
        if self.config.choice.conformity_weight > 0:
            self.catalog.close_episode(self.config.choice.conformity_decay)
        self._next_episode = episode + 1
        self.env = simpy.Environment(initial_time=end_s)
        self.batcher.reset(self.env)
        truth = self._snapshot(episode, end_s)
        return EpisodeResult(
            episode=episode,
            events=events,
            truth=truth,
            n_sessions=int(n_sessions),
            n_slates=int(n_slates),
            n_events=events.num_rows,
        )

    def _schedule_drops(self, start_s: float, end_s: float) -> None:
        cfg = self.config.catalog
        if cfg.new_items_rate_per_day <= 0:
            return
        interval_s = cfg.release_interval_hours * 3600.0
        first = max(1, math.ceil(start_s / interval_s))
        drop = first
        while drop * interval_s < end_s:
            self.batcher.at(drop * interval_s, self._drop_action(drop, drop * interval_s))
            drop += 1

    def _drop_action(self, drop: int, at_s: float) -> Callable[[], None]:
        """New items of release ``drop`` (a pure function of the seed and ``drop``)."""

        def release() -> None:
            interval_s = self.config.catalog.release_interval_hours * 3600.0
            rng = self.streams.get(f"catalog/drop/{drop}")
            rate = self.config.catalog.new_items_rate_per_day * interval_s / SECONDS_PER_DAY
            n_new = int(rng.poisson(rate))
            if n_new == 0:
                return
            created = np.sort(at_s - rng.uniform(0.0, interval_s, size=n_new))
            self.catalog.add_items(n_new, created, rng)
            self.index.rebuild(self.catalog.titles, self.catalog.available)
            self.policy.on_catalog_change(self.catalog.view())

        return release


def _policy_context(
    config: WorldConfig,
    catalog: Catalog,
    index: BM25Index,
    n_users: int,
    streams: RngStreams,
) -> PolicyContext:
    """What a policy is bound with: observable catalogue, search engine, its own streams.

    A fresh generator of the ``"policy"`` stream, and the key of the per-request
    streams (``"policy/requests"``, the same for every policy under one seed).
    """
    return PolicyContext(
        catalog=catalog.view(),
        search=index,
        n_users=n_users,
        slate_size=config.feed.slate_size,
        n_suggestions=config.suggestions.n_suggestions,
        rng=streams.get("policy"),
        request_key=int(stream_key(streams.root_seed, "policy/requests")),
    )


def _delay_new_users(config: WorldConfig, seed: int, population: Population) -> None:
    """Delay the first session of the ``users.new_user_share`` of new users (cold start).

    Who is new, and when they join, are counter-based draws of the ``arrivals/new-users``
    stream (policy-independent). Does nothing with the default share of 0.
    """
    share, days = config.users.new_user_share, config.users.new_user_arrival_days
    if share <= 0:
        return
    users = np.arange(population.n_users)
    key = stream_key(seed, "arrivals/new-users")
    is_new = counter_uniform(key, users, np.zeros_like(users)) < share
    join_s = counter_uniform(key, users, np.ones_like(users)) * days * SECONDS_PER_DAY
    population.next_start_s = np.where(
        is_new, population.next_start_s + join_s, population.next_start_s
    )


def _fitted_catalog(config: WorldConfig, fitted: FittedWorld) -> Catalog:
    """The catalogue of a calibrated world: its real items, titles and fitted appeal."""
    cat = config.catalog
    if (fitted.n_items, fitted.n_topics) != (cat.n_items, cat.n_topics):
        raise ValueError(
            f"the fitted world has {fitted.n_items} items on {fitted.n_topics} topics; the "
            f"configuration says {cat.n_items} on {cat.n_topics}"
        )
    vocab = vocabulary_from_titles(
        fitted.titles, fitted.item_topics, cat.words_per_topic, cat.generic_vocab_size
    )
    words = title_word_ids(fitted.titles, vocab, cat.title_len_max)
    return Catalog.from_items(
        cat, vocab, fitted.item_topics, fitted.appeal, fitted.created_s, fitted.titles, words
    )


def build_world(
    config: WorldConfig, seed: int, policy: Policy, fitted: FittedWorld | None = None
) -> World:
    """Wire a world from its configuration, a root seed and a policy.

    Args:
        config: Validated world configuration.
        seed: Root seed of the run.
        policy: An unbound policy; it is bound here with its own ``"policy"`` stream.
        fitted: A calibrated world's items and users (``None``: a synthetic world, all
            drawn from ``config``). Its items replace the drawn catalogue, and its users'
            interests and session rates replace the drawn ones (their other attributes
            are drawn as usual).

    Returns:
        The world, ready for ``run_episode(0)``.

    Raises:
        ValueError: If ``fitted`` does not match the configuration's sizes.
    """
    if config.from_data is not None and fitted is None:
        raise ValueError(
            "world.from_data is set: a calibrated world is built from its fit "
            "(experiments.calibration.prepare_calibrated), passed as `fitted`"
        )
    # 1. Named random streams: one per component, none global.
    streams = RngStreams(seed)
    # 2. Catalogue: vocabulary, then items (exogenous: independent of the policy), or
    #    the fitted world's real items.
    if fitted is None:
        vocab = make_vocabulary(config.catalog, streams.get("catalog/vocabulary"))
        catalog = Catalog(config.catalog, vocab, streams.get("catalog/items"))
    else:
        catalog = _fitted_catalog(config, fitted)
    # 3. Search engine over the available items' titles.
    index = BM25Index(catalog.titles, catalog.available)
    # 4. Users (idiosyncratic tastes: counter stream "taste"), and their first session
    #    starts (counter-based, policy-independent).
    population = Population(config, streams.get("population"), stream_key(seed, "taste"))
    if fitted is not None:
        population.set_fitted(fitted.interests, fitted.rate_per_day)
    population.flip_key = stream_key(seed, "drift/flip")
    arrivals_key = stream_key(seed, "arrivals")
    users = np.arange(population.n_users)
    first_u = counter_uniform(arrivals_key, users, np.zeros_like(users))
    population.next_start_s = -np.log(first_u) / population.rate_per_day * SECONDS_PER_DAY
    _delay_new_users(config, seed, population)
    # 5. The feedback log and the users' behaviour draws (counter-based, per user and
    #    request: a user's behaviour does not depend on who shares their batches).
    log = EventLog()
    behaviour = Streams(draws=UserDraws(seed), arrivals_key=arrivals_key)
    # 6. Bind the policy: observable catalogue, search engine, its own stream.
    policy.bind(_policy_context(config, catalog, index, population.n_users, streams))
    # 7. Responder (vectorised user reactions) and serving batcher on a simpy clock.
    env = simpy.Environment()
    responder = Responder(config, catalog, population, index, policy, log, behaviour)
    batcher = Batcher(env, responder, config.serving.batch_window_s, config.serving.max_batch_size)
    return World(config, streams, env, catalog, index, population, responder, batcher)
