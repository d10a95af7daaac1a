"""A read-only window on the users' true utilities, for explicitly enabled oracles only.

Policies never receive this object through the serving path. A scenario must enable
an oracle explicitly; the application then hands this view to the oracle policy, and
every report labels that policy as an upper bound.
"""

from __future__ import annotations

import numpy as np

from sim.catalog import Catalog
from sim.choice import tempered_interests
from sim.config import WorldConfig
from sim.population import SECONDS_PER_DAY, Population
from sim.rowwise import rows_matmul
from sim.search_flow import search_click_probabilities

__all__ = ["GroundTruthView"]


class GroundTruthView:
    """True expected utilities of items for users, as the choice model computes them.

    ``v(u, i) = w_aff · a(interests_u, topics_i) + w_q · quality_i
    − w_sat · topics_i · satiation_u(t) + w_c · log(1 + n_i) + eps_ui − repeat_penalty · c_ui``,
    with ``a`` the world's affinity (``choice.affinity``: tempered dot product or cosine),
    satiation decayed to time ``t``, ``n_i`` the observed click count of the conformity
    term (``w_c = choice.conformity_weight``, 0 by default), ``eps_ui`` the user's fixed
    idiosyncratic taste for the item and ``c_ui`` whether the user already consumed it
    (``Population.user_item_utility``).

    Args:
        config: World configuration (choice weights, satiation half-life).
        catalog: The catalogue (latent topics and quality).
        population: The users (latent interests and satiation).
    """

    def __init__(self, config: WorldConfig, catalog: Catalog, population: Population) -> None:
        self._config = config
        self._catalog = catalog
        self._population = population

    def utilities(self, user_ids: np.ndarray, time_s: float) -> np.ndarray:
        """True utilities of every item for each user at ``time_s``.

        Args:
            user_ids: Shape ``(n,)`` user ids.
            time_s: Simulated time, seconds since the run started.

        Returns:
            Shape ``(n, n_items)`` float64 (unavailable items included; mask them).
        """
        cfg, cat, pop = self._config, self._catalog, self._population
        users = np.asarray(user_ids, dtype=np.int64)
        interests = pop.interests[users]
        choice = cfg.choice
        if choice.affinity == "dot":
            p = tempered_interests(interests, choice.affinity_temperature)
            cos = rows_matmul(p, cat.topics.T.astype(np.float64))
        else:
            cos = rows_matmul(interests, cat.topics.T.astype(np.float64)) / np.maximum(
                np.linalg.norm(interests, axis=1)[:, None] * cat.topic_norm[None, :], 1e-12
            )
        half_life_s = cfg.satiation.half_life_days * SECONDS_PER_DAY
        dt = np.maximum(time_s - pop.satiation_time_s[users], 0.0)
        satiation = pop.satiation[users] * np.exp2(-dt / half_life_s)[:, None]
        util = (
            choice.affinity_weight * cos
            + choice.quality_weight * cat.quality[None, :].astype(np.float64)
            - choice.satiation_weight * rows_matmul(satiation, cat.topics.T.astype(np.float64))
        )
        if choice.conformity_weight > 0:
            util += choice.conformity_weight * np.log1p(cat.observed_clicks)[None, :]
        if pop.has_user_item_terms:
            util += pop.user_item_utility(users[:, None], np.arange(cat.n_items)[None, :])
        return util

    def search_click_probabilities(self, user_ids: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Probability that each searching user clicks each result if examined.

        Uses the users' current (latent) search intents, exactly as the search flow
        does (:func:`sim.search_flow.search_click_probabilities`).

        Args:
            user_ids: Shape ``(n,)`` users with a pending search.
            items: Shape ``(n, s)`` candidate item ids (``-1``: none, probability 0).

        Returns:
            Shape ``(n, s)`` float64.
        """
        users = np.asarray(user_ids, dtype=np.int64)
        return search_click_probabilities(
            self._config, self._catalog, self._population, users, np.asarray(items)
        )
