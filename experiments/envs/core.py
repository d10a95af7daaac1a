"""Drive sessions of chosen users step by step, without simpy, by composing the Responder.

:class:`SessionCore` owns one world (``sim.world.build_world``) whose policy is a
:class:`SlotPolicy`: the slates an environment's agent chose are put in the slot and
served when the world's :class:`sim.responder.Responder` asks for them. One step is one
call of the responder's batched ``feed`` handler for every stepping user, followed by
its ``search`` handler as long as some of them have a query pending (search results
keep the engine's order). Every event the responder logs is taken out per step.

The world is rebuilt by :meth:`SessionCore.reseed`: its catalogue, vocabulary and
users' latent attributes come from ``world_seed``; the users' first arrival times and
every behavioural draw come from the reset seed. Not simulated here: new-item drops and
the exogenous interest random walk (the world applies them per ``run_episode``).

What the single-user and the population environments share (building the core and its
:class:`experiments.envs.observe.Observer`, the reward, the public views, reseeding on
``reset`` and absorbing a step's events) is :func:`make_core`, :func:`step_reward` and
:class:`CoreEnvMixin`.

The world is driven through :class:`sim.stepping.SessionStepper`, its public interface
for stepping chosen users (no reaching into the responder or the population).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from gymnasium import spaces

from experiments.envs.observe import Observer, StepColumns, StepSummary, summarise_step
from experiments.envs.options import EnvOptions, resolve_world
from sim.config import WorldConfig
from sim.crn import stream_key
from sim.emitter import END, FEED, SEARCH
from sim.events import EVENT_SCHEMA, Provenance
from sim.stepping import SessionStepper
from sim.types import (
    CatalogView,
    FeedBatch,
    FeedResponse,
    PolicyContext,
    SearchBatch,
    SuggestBatch,
)
from sim.world import World, build_world

__all__ = [
    "END",
    "FEED",
    "MAX_SKIPS",
    "SEARCH",
    "CoreEnvMixin",
    "SessionCore",
    "SlotPolicy",
    "make_core",
    "repair_slates",
    "step_reward",
]

#: Sessions that end before their first feed page skipped in a row before giving up.
MAX_SKIPS = 10_000


class SlotPolicy:
    """A served policy that returns the slates put in its slot by the environment.

    Search results keep the engine's order; suggestions are a fixed list of queries.

    Args:
        suggested_queries: Queries shown at every session start.
    """

    name = "env-action"

    def __init__(self, suggested_queries: tuple[str, ...] = ()) -> None:
        self.suggested_queries = suggested_queries
        self.slates: np.ndarray | None = None

    def bind(self, context: PolicyContext) -> None:
        """Remember the context (the number of suggestions shown)."""
        self.context = context

    def on_catalog_change(self, catalog: CatalogView) -> None:
        """Nothing to do: the agent sees availability through the environment."""

    def recommend(self, batch: FeedBatch) -> FeedResponse:
        """Serve the slot's slates, shape ``(n, slate_size)``, row ``i`` for request ``i``."""
        slates = self.slates
        if slates is None or slates.shape != (len(batch), batch.slate_size):
            raise RuntimeError("SlotPolicy.recommend called without matching slates in the slot")
        self.slates = None
        origin = np.full(slates.shape, int(Provenance.RETRIEVAL), dtype=np.int8)
        return FeedResponse(slates=slates, origin=origin)

    def rank_search(self, batch: SearchBatch) -> np.ndarray:
        """Keep the search engine's order."""
        return batch.candidates

    def suggest_queries(self, batch: SuggestBatch) -> list[list[str]]:
        """The fixed suggestions, at most ``batch.n_suggestions`` per request."""
        shown = list(self.suggested_queries[: batch.n_suggestions])
        return [list(shown) for _ in range(len(batch))]

    def update(self, events: object) -> None:
        """Learns nothing (the agent learns outside the world)."""


def repair_slates(slates: np.ndarray, available: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replace invalid slate entries deterministically.

    An entry is invalid if it is not a catalogue id, names an unavailable item, or
    repeats an item already placed to its left. Invalid entries are filled, left to
    right, with the lowest-id available items not elsewhere in the row.

    Args:
        slates: Shape ``(n, S)`` integer item ids.
        available: Shape ``(n_items,)`` bool availability mask (at least ``S`` true).

    Returns:
        ``(repaired, n_repaired)``: shape ``(n, S)`` int64 valid slates and shape
        ``(n,)`` int64 number of replaced entries per row.
    """
    slates = np.asarray(slates, dtype=np.int64)
    n, size = slates.shape
    n_items = available.shape[0]
    known = (slates >= 0) & (slates < n_items)
    valid = known & available[np.where(known, slates, 0)]
    keyed = np.where(valid, slates, -1 - np.arange(size)[None, :])  # invalid: unique keys
    order = np.argsort(keyed, axis=1, kind="stable")
    ordered = np.take_along_axis(keyed, order, axis=1)
    repeat = np.zeros((n, size), dtype=bool)
    repeat[:, 1:] = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    dup = np.zeros((n, size), dtype=bool)
    np.put_along_axis(dup, order, repeat, axis=1)
    valid &= ~dup
    bad = ~valid
    n_bad = bad.sum(axis=1)
    out = slates.copy()
    if not n_bad.any():
        return out, n_bad
    pool = np.flatnonzero(available)[: 2 * size]  # >= S of these are free in every row
    kept = np.where(valid, slates, -1)
    free = ~(pool[None, :, None] == kept[:, None, :]).any(axis=2)  # (n, |pool|)
    rank = np.cumsum(free, axis=1) - 1
    rows, cols = np.nonzero(bad)
    slot = np.cumsum(bad, axis=1)[rows, cols] - 1  # k-th bad entry of its row
    fill = np.empty(rows.shape[0], dtype=np.int64)
    for k in np.unique(slot).tolist():
        sel = slot == k
        hit = free[rows[sel]] & (rank[rows[sel]] == k)
        fill[sel] = pool[np.argmax(hit, axis=1)]
    out[rows, cols] = fill
    return out, n_bad


class SessionCore:
    """One world and the machinery to run chosen users' sessions step by step.

    Args:
        config: The world configuration.
        world_seed: Seed of the world's exogenous structure (catalogue, users).
        suggested_queries: Fixed suggestions shown at session start.
        keep_events: Keep every step's events for :meth:`take_events`.
    """

    def __init__(
        self,
        config: WorldConfig,
        world_seed: int,
        suggested_queries: tuple[str, ...] = (),
        keep_events: bool = True,
    ) -> None:
        self.fitted = None
        if config.from_data is not None:  # a calibrated world: its fit (cached) and sizes
            from experiments.calibration.prepare import prepare_calibrated

            calibrated = prepare_calibrated(config)
            config, self.fitted = calibrated.fit.config, calibrated.fit.fitted
        self.config = config
        self.world_seed = int(world_seed)
        self.keep_events = keep_events
        self.slot = SlotPolicy(suggested_queries)
        self.world: World = build_world(config, self.world_seed, self.slot, self.fitted)
        self.stepper = SessionStepper(self.world)
        self.n_items = self.world.catalog.n_items
        self.slate_size = config.feed.slate_size
        self._events: list[pa.Table] = []
        self.in_session = np.zeros(self.world.n_users, dtype=bool)
        #: Seed of the users' behaviour draws (:meth:`reseed`); keys policies' requests.
        self.behaviour_seed = self.world_seed

    @property
    def n_users(self) -> int:
        """Number of users of the world."""
        return self.world.n_users

    def reseed(self, seed: int) -> None:
        """Rebuild the world from ``world_seed`` and redraw arrivals and behaviour from ``seed``.

        Args:
            seed: Non-negative root seed of the environment's randomness.
        """
        self.world = build_world(self.config, self.world_seed, self.slot, self.fitted)
        self.stepper = SessionStepper(self.world)
        self.stepper.reseed_behaviour(seed, prefix="env/")
        self.behaviour_seed = int(seed)
        self.in_session = np.zeros(self.world.n_users, dtype=bool)
        self._events = []

    # ------------------------------------------------------------------ views
    def catalog_view(self) -> CatalogView:
        """The public catalogue view (titles, creation times, availability, vocabulary)."""
        return self.world.catalog_view()

    def policy_context(self, rng: np.random.Generator) -> PolicyContext:
        """What a policy may be bound with: public view, search engine, sizes, ``rng``."""
        return PolicyContext(
            catalog=self.catalog_view(),
            search=self.world.index,
            n_users=self.n_users,
            slate_size=self.slate_size,
            n_suggestions=self.config.suggestions.n_suggestions,
            rng=rng,
            request_key=int(stream_key(self.behaviour_seed, "env/policy/requests")),
        )

    def session_ids(self, users: np.ndarray) -> np.ndarray:
        """Shape ``(n,)`` int64 current session id of each user (-1 when none)."""
        return self.stepper.session_ids(users)

    def pages(self, users: np.ndarray) -> np.ndarray:
        """Shape ``(n,)`` int64 feed pages served in each user's current session."""
        return self.stepper.pages(users)

    def clock(self, users: np.ndarray) -> np.ndarray:
        """Shape ``(n,)`` float64 each user's own clock (seconds since the run started)."""
        return self.stepper.clock(users)

    # ---------------------------------------------------------------- choose
    def next_users(self, k: int, rng: np.random.Generator, order: str) -> np.ndarray:
        """Pick ``k`` distinct idle users for new sessions.

        Args:
            k: Number of users.
            rng: Generator for ``order="uniform"``.
            order: ``"uniform"`` (uniform among idle users) or ``"arrival"`` (the idle
                users whose next session starts first, ties by id).

        Returns:
            Shape ``(k,)`` int64 user ids.
        """
        idle = np.flatnonzero(~self.in_session)
        if idle.shape[0] < k:
            raise RuntimeError(f"need {k} idle users, only {idle.shape[0]} are idle")
        if order == "uniform":
            return np.sort(rng.choice(idle, size=k, replace=False)).astype(np.int64)
        starts = self.stepper.next_start(idle)
        return idle[np.lexsort((idle, starts))[:k]].astype(np.int64)

    # ----------------------------------------------------------------- drive
    def open_sessions(self, users: np.ndarray) -> np.ndarray:
        """Start a session for each user at their next start time; run any searches.

        Args:
            users: Shape ``(n,)`` distinct idle user ids.

        Returns:
            Shape ``(n,)`` next action of each user, ``FEED`` or ``END`` (a session can
            end before its first feed page, after a suggested query's results).
        """
        self.in_session[users] = True
        return self._finish(users, self.stepper.open(users))

    def serve(self, users: np.ndarray, slates: np.ndarray) -> np.ndarray:
        """Serve one valid slate to each user and run their reactions and searches.

        Args:
            users: Shape ``(n,)`` distinct users in a session waiting for a feed page.
            slates: Shape ``(n, S)`` valid slates (see :func:`repair_slates`).

        Returns:
            Shape ``(n,)`` next action of each user, ``FEED`` or ``END``.
        """
        if users.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        self.slot.slates = slates.astype(np.int32)
        return self._finish(users, self.stepper.feed(users))

    def close_sessions(self, users: np.ndarray) -> None:
        """End the sessions of ``users`` now (truncation), as if they had left.

        Logs SESSION_END and draws their next start with the responder's retention rule.
        """
        if users.shape[0] == 0:
            return
        self.stepper.close(users)
        self.in_session[users] = False

    def _finish(self, users: np.ndarray, action: np.ndarray) -> np.ndarray:
        self.in_session[users[action == END]] = False
        return action

    # ---------------------------------------------------------------- events
    def take_step_events(self) -> pa.Table:
        """Events logged since the last call (schema ``sim.events.EVENT_SCHEMA``)."""
        table = self.stepper.take_events(0)
        if self.keep_events and table.num_rows:
            self._events.append(table)
        return table

    def take_events(self) -> pa.Table:
        """Every kept event since the last call, in log order, and forget them."""
        tables, self._events = self._events, []
        if not tables:
            return EVENT_SCHEMA.empty_table()
        return pa.concat_tables(tables)


# ------------------------------------------------------------ shared by the environments
def make_core(
    world: WorldConfig | str | Path | None, world_seed: int, options: EnvOptions
) -> tuple[SessionCore, Observer]:
    """Build the session core and observer shared by the single and population envs."""
    config = resolve_world(world)
    core = SessionCore(config, world_seed, options.suggested_queries, options.keep_events)
    query_len = max(
        config.intent.query_len_max, *(len(q.split()) for q in options.suggested_queries), 1
    )
    observer = Observer(
        n_users=core.n_users,
        n_items=core.n_items,
        vocabulary=core.catalog_view().vocabulary,
        history_len=options.history_len,
        query_len=query_len,
        max_pages=max(config.sessions.max_pages, options.max_steps),
        max_dwell_s=config.dwell.max_s,
    )
    return core, observer


def step_reward(
    options: EnvOptions,
    clicked: np.ndarray,
    dwell_s: np.ndarray,
    search_clicks: np.ndarray,
    n_repaired: np.ndarray,
) -> np.ndarray:
    """Reward per row (see :class:`EnvOptions`), shapes ``(n,)`` in, float64 ``(n,)`` out."""
    return (
        options.click_reward * clicked.astype(np.float64)
        + options.dwell_reward_per_min * dwell_s / 60.0
        + options.search_click_reward * search_clicks
        - options.invalid_penalty * n_repaired
    )


class CoreEnvMixin:
    """The parts of ``FeedEnv`` and ``FeedPopulationEnv`` that drive the session core.

    Mixed in before ``gymnasium.Env`` / ``gymnasium.vector.VectorEnv`` (which provide
    ``np_random``); :meth:`_init_core` sets ``options``, ``core``, ``observer``,
    ``slate_size`` and ``render_mode``.
    """

    options: EnvOptions
    core: SessionCore
    observer: Observer
    slate_size: int
    render_mode: str | None
    np_random: np.random.Generator
    _started: bool

    def _init_core(
        self,
        world: WorldConfig | str | Path | None,
        world_seed: int,
        options: EnvOptions,
        overrides: dict[str, Any],
        render_mode: str | None,
    ) -> None:
        """Merge the options, build the core and observer.

        Raises:
            ValueError: On a render mode other than ``None``.
        """
        if render_mode is not None:
            raise ValueError(f"render_mode {render_mode!r} is not supported")
        if overrides:
            options = EnvOptions(**{**options.__dict__, **overrides})
        self.options = options
        self.core, self.observer = make_core(world, world_seed, options)
        self.slate_size = self.core.slate_size
        self.render_mode = render_mode
        self._started = False

    def _slate_space(self) -> spaces.MultiDiscrete:
        """The action space of one user: a slate of ``S`` item ids."""
        return spaces.MultiDiscrete(np.full(self.slate_size, self.core.n_items, dtype=np.int64))

    # ----------------------------------------------------------------- views
    def catalog_view(self) -> CatalogView:
        """The public catalogue view (what policies may know about items)."""
        return self.core.catalog_view()

    def policy_context(self, rng: np.random.Generator) -> PolicyContext:
        """A context to bind a ``policies`` policy to this env's world (public data only)."""
        return self.core.policy_context(rng)

    def take_events(self) -> pa.Table:
        """Every logged event since the last call (``sim.events.EVENT_SCHEMA``)."""
        return self.core.take_events()

    # --------------------------------------------------------------- helpers
    def _rebuild_if_needed(self, seed: int | None) -> bool:
        """On a seeded or the first ``reset``, rebuild the world and clear the observer.

        Call after ``super().reset(seed=seed)`` (which seeds ``np_random``).

        Returns:
            Whether the world was rebuilt (otherwise it continues).
        """
        if seed is None and self._started:
            return False
        self.core.reseed(int(self.np_random.integers(0, 2**63 - 1)))
        self.observer.reset()
        self._started = True
        return True

    def _absorb(self, users: np.ndarray) -> StepSummary:
        """Take the step's events into the observer and summarise them for ``users``."""
        cols = StepColumns.from_table(self.core.take_step_events())
        self.observer.record(cols)
        return summarise_step(cols, users)
