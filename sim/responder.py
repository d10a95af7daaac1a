"""Vectorised user responses to one batch of served pages.

The serving batcher hands a batch of requests (distinct users, each with the time it
asked) to :class:`Responder`, which calls the policy once, validates the answer,
computes every user's reaction with array operations, updates latent state, appends
the events to the log and returns, per user, the next action and the time to resume.

Actions: ``FEED`` (ask for another feed page), ``SEARCH`` (a query is pending),
``END`` (the session is over; ``Population.next_start_s`` holds the next start).

Every random number a user's reaction uses is a counter-based draw of that user's
current request (:class:`sim.crn.UserDraws`), and session and query ids are per user
(``user + n_users * k`` for the user's ``k``-th session or query): a user's events do
not depend on the batch they were served in, nor on the other users of the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.catalog import Catalog
from sim.choice import affinity, choice_probabilities, examination_probabilities, sample_choice
from sim.config import WorldConfig
from sim.crn import UserDraws, counter_uniform
from sim.emitter import END, FEED, SEARCH, Emitter, readonly
from sim.events import EventType
from sim.log import EventLog
from sim.population import SECONDS_PER_DAY, Population
from sim.queries import Draw, QueryWriter
from sim.search_flow import SearchFlowMixin
from sim.types import FeedBatch, SearchIndex
from sim.types import ServedPolicy as Policy
from sim.validation import validate_feed

__all__ = ["END", "FEED", "SEARCH", "Responder", "Streams"]


@dataclass
class Streams:
    """The users' random numbers: counter-based behaviour draws and the arrivals key.

    Attributes:
        draws: Every behaviour draw, per (purpose, user, request, slot).
        arrivals_key: Counter-stream key of the gaps between sessions (per user and
            session count).
    """

    draws: UserDraws
    arrivals_key: np.uint64

    def bound(self, users: np.ndarray, requests: np.ndarray) -> Draw:
        """``draw(purpose, width)`` for these rows: shape ``(n, width)`` uniforms."""
        draws = self.draws
        return lambda purpose, width: draws.uniform(purpose, users, requests, width)


class Responder(SearchFlowMixin):
    """Computes users' reactions to served batches (see module docstring).

    Args:
        config: World configuration.
        catalog: The catalogue (ground truth).
        population: The users (ground truth).
        index: The search engine.
        policy: The bound policy.
        log: The feedback log.
        streams: Behavioural random streams.
    """

    def __init__(
        self,
        config: WorldConfig,
        catalog: Catalog,
        population: Population,
        index: SearchIndex,
        policy: Policy,
        log: EventLog,
        streams: Streams,
    ) -> None:
        self.cfg = config
        self.catalog = catalog
        self.pop = population
        self.index = index
        self.policy = policy
        self.log = log
        self.rng = streams
        self.writer = QueryWriter(config.intent, catalog)
        self.exam_prob = examination_probabilities(
            config.feed.slate_size, config.feed.position_bias_exponent
        )
        self.episode = 0
        self.sessions_started = 0
        self.sessions_finished = 0
        self.slates_served = 0

    @property
    def policy_name(self) -> str:
        """Registry name of the policy (for error messages)."""
        return getattr(self.policy, "name", type(self.policy).__name__)

    # ------------------------------------------------------------------ feed
    def feed(
        self, users: np.ndarray, t0: np.ndarray, now_s: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Serve one feed page to each user and compute their reactions.

        Args:
            users: Shape ``(n,)`` int64 distinct user ids.
            t0: Shape ``(n,)`` float64 request times.
            now_s: Simulated time of the batch.

        Returns:
            ``(action, resume_s)``, shapes ``(n,)``.
        """
        cfg, pop, cat = self.cfg, self.pop, self.catalog
        n, size = users.shape[0], cfg.feed.slate_size
        batch = FeedBatch(
            user_ids=readonly(users.astype(np.int32)),
            session_ids=readonly(pop.session_id[users].copy()),
            page=readonly(pop.feed_pages[users].astype(np.int16)),
            time_s=now_s,
            episode=self.episode,
            slate_size=size,
        )
        slates, origin = validate_feed(
            self.policy_name, batch, self.policy.recommend(batch), cat.available,
            getattr(self.policy, "sources", None),
        )  # fmt: skip
        self.slates_served += n
        req = self._next_requests(users)
        draws = self.rng.draws
        pop.decay_satiation(users, t0, cfg.satiation.half_life_days)
        theta = cat.topics[slates]
        ch = cfg.choice
        aff = affinity(
            pop.interests[users], theta, cat.topic_norm[slates], ch.affinity,
            ch.affinity_temperature,
        )  # fmt: skip
        sat = np.einsum("nsk,nk->ns", theta, pop.satiation[users])
        util = ch.affinity_weight * aff + ch.quality_weight * cat.quality[slates]
        util -= ch.satiation_weight * sat
        if ch.conformity_weight > 0:
            util += ch.conformity_weight * np.log1p(cat.observed_clicks[slates])
        if pop.has_user_item_terms:
            util += pop.user_item_utility(users[:, None], slates)
        examined = draws.uniform("browse/examine", users, req, size) < self.exam_prob[None, :]
        choice = sample_choice(
            choice_probabilities(util, examined, ch.no_click_logit),
            draws.uniform("browse/choice", users, req),
        )
        z_dwell = draws.normal("browse/dwell", users, req)
        clicked = choice >= 0
        rows_c = np.flatnonzero(clicked)
        pos_c = choice[rows_c]
        items_c = slates[rows_c, pos_c]
        dwell_c = self._dwell(aff[rows_c, pos_c], cat.quality[items_c], z_dwell[rows_c])
        scan = cfg.feed.scan_s_per_item
        last = np.where(examined.any(axis=1), size - 1 - np.argmax(examined[:, ::-1], axis=1), -1)
        last = np.where(clicked, np.maximum(last, choice), last)
        duration = scan * (last + 1)
        duration[rows_c] += dwell_c
        t_end = t0 + duration

        em = Emitter()
        rows = np.repeat(np.arange(n), size)
        pos = np.tile(np.arange(size), n)
        sess = batch.session_ids
        em.add(rows, pos, event=int(EventType.IMPRESSION), time_s=np.repeat(t0, size),
               user_id=users[rows], session_id=sess[rows], item_id=slates.ravel(),
               position=pos, origin=origin.ravel())  # fmt: skip
        # Examined items, in position order: the clicked one (if any) is a CLICK with
        # its dwell, the others are SKIPs (a click is always on an examined item).
        seen = examined.copy()
        seen[rows_c, pos_c] = True
        rs, ps = np.nonzero(seen)
        is_click = choice[rs] == ps
        dwell = np.full(rs.shape[0], np.nan, dtype=np.float32)
        dwell[is_click] = dwell_c
        em.add(rs, size + ps, event=np.where(is_click, int(EventType.CLICK), int(EventType.SKIP)),
               time_s=t0[rs] + scan * (ps + 1), user_id=users[rs], session_id=sess[rs],
               item_id=slates[rs, ps], position=ps, dwell_s=dwell,
               origin=origin[rs, ps])  # fmt: skip

        users_c = users[rows_c]
        self._consume(users_c, items_c, aff[rows_c, pos_c])
        pop.feed_pages[users] += 1
        pop.feed_clicks[users_c] += 1

        # Next action: an intent (more likely after disappointing pages), another page, or leave.
        pages = pop.feed_pages[users]
        disappointment = 1.0 - pop.feed_clicks[users] / pages
        p_intent = np.minimum(
            1.0,
            pop.search_propensity[users] * (1.0 + cfg.intent.disappointment_gain * disappointment),
        )
        intent = (draws.uniform("session/intent", users, req) < p_intent) & cfg.intent.enabled
        p_cont = np.where(clicked, cfg.sessions.continue_after_click, pop.patience[users])
        u_cont = draws.uniform("session/continue", users, req)
        cont = (u_cont < p_cont) & (pages < cfg.sessions.max_pages)
        action = np.where(intent, SEARCH, np.where(cont, FEED, END))
        resume = t_end.copy()
        seq_after = 3 * size
        rows_q = np.flatnonzero(action == SEARCH)
        if rows_q.size:
            uq = users[rows_q]
            draw = self.rng.bound(uq, req[rows_q])
            topic, item = self.writer.form_intents(pop.interests[uq], draw)
            resume[rows_q] = self._issue_queries(
                em, rows_q, uq, sess[rows_q], t_end[rows_q], topic, item, seq_after, draw
            )
        rows_e = np.flatnonzero(action == END)
        self._end_sessions(em, rows_e, users[rows_e], sess[rows_e], t_end[rows_e], seq_after)
        em.write(self.log)
        return action, resume

    def _next_requests(self, users: np.ndarray) -> np.ndarray:
        """Each user's index of the request being served; counts it (shape ``(n,)``)."""
        req = self.pop.requests[users].copy()
        self.pop.requests[users] += 1
        return req

    def _consume(self, users: np.ndarray, items: np.ndarray, aff: np.ndarray) -> None:
        """Satiation, drift and the consumed pairs after a click each (feed or search)."""
        cfg, cat = self.cfg, self.catalog
        self.pop.consume(
            users, cat.topics[items], cfg.satiation.increment, cfg.drift.endogenous_rate,
            items, aff, cfg.drift.min_interest,
        )  # fmt: skip
        if cfg.choice.conformity_weight > 0:
            cat.record_clicks(items)

    def _dwell(self, aff: np.ndarray, quality: np.ndarray, z: np.ndarray) -> np.ndarray:
        """``dwell = min(base * exp(g_a * aff + g_q * quality + sd * z), max)`` seconds."""
        d = self.cfg.dwell
        log_dwell = d.affinity_gain * aff + d.quality_gain * quality + d.log_sd * z
        return np.minimum(d.base_s * np.exp(log_dwell), d.max_s).astype(np.float32)

    # ------------------------------------------------------------ sessions
    def open(
        self, users: np.ndarray, t0: np.ndarray, now_s: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Open a session for each user, show suggested queries, let users click one.

        Returns:
            ``(action, resume_s)``, shapes ``(n,)``.
        """
        n = users.shape[0]
        pop = self.pop
        sess = users.astype(np.int64) + pop.n_users * pop.n_sessions[users]
        self.sessions_started += n
        req = self._next_requests(users)
        pop.open_sessions(users, sess, self.cfg.intent.max_reformulations)
        em = Emitter()
        rows = np.arange(n)
        em.add(rows, 0, event=int(EventType.SESSION_START), time_s=t0, user_id=users,
               session_id=sess)  # fmt: skip
        action = np.full(n, FEED, dtype=np.int64)
        resume = np.asarray(t0, dtype=np.float64).copy()
        if self.cfg.suggestions.n_suggestions > 0:
            self._suggest(em, users, sess, t0, now_s, action, resume, req)
        em.write(self.log)
        return action, resume

    def end_sessions(self, users: np.ndarray, t_end: np.ndarray) -> None:
        """End the current sessions of ``users`` at ``t_end`` (e.g. an environment's cut).

        Logs each SESSION_END and draws the next start as a session end in the episode
        loop does (:meth:`_end_sessions`).

        Args:
            users: Shape ``(n,)`` distinct users in a session.
            t_end: Shape ``(n,)`` end times.
        """
        em = Emitter()
        sess = self.pop.session_id[users].copy()
        self._end_sessions(em, np.arange(users.shape[0]), users, sess, t_end, 0)
        em.write(self.log)

    def _end_sessions(
        self,
        em: Emitter,
        rows: np.ndarray,
        users: np.ndarray,
        sess: np.ndarray,
        t_end: np.ndarray,
        seq: int,
    ) -> None:
        """Log SESSION_END and draw each user's next start from their satisfaction.

        ``s = clicks / (feed pages + queries)``;
        ``rate = rate_u * exp(gain * (s - reference))``;
        ``gap = max(min_gap, -ln(U_{u,k}) / rate)`` with ``U_{u,k}`` the user's
        policy-independent ``k``-th arrival uniform.
        """
        if rows.size == 0:
            return
        pop, sc = self.pop, self.cfg.sessions
        em.add(rows, seq + 10, event=int(EventType.SESSION_END), time_s=t_end, user_id=users,
               session_id=sess)  # fmt: skip
        clicks = pop.feed_clicks[users] + pop.search_clicks[users]
        tries = np.maximum(pop.feed_pages[users] + pop.queries[users], 1)
        satisfaction = clicks / tries
        rate = pop.rate_per_day[users] * np.exp(
            sc.retention_gain * (satisfaction - sc.satisfaction_reference)
        )
        u = counter_uniform(self.rng.arrivals_key, users, pop.n_sessions[users])
        gap_s = np.maximum(-np.log(u) / rate * SECONDS_PER_DAY, sc.min_gap_s)
        pop.next_start_s[users] = t_end + gap_s
        pop.session_id[users] = -1
        self.sessions_finished += rows.size
