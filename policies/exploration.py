"""``epsilon-greedy``: an exploration wrapper around any registered policy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from policies.base import Policy, PolicyContext
from policies.baselines import sample_distinct_uniforms
from policies.registry import make_policy, register_policy
from sim.crn import hash_rows, uniform_slots
from sim.events import Provenance
from sim.types import CatalogView, FeedBatch, FeedResponse, SearchBatch, SuggestBatch

__all__ = ["EpsilonGreedyPolicy"]


@register_policy("epsilon-greedy")
class EpsilonGreedyPolicy(Policy):
    """Replaces each slate position, with probability ``epsilon``, by a random item.

    The random items are available, distinct from each other and from the base
    slate's kept items; they are declared with ``Provenance.EXPLORATION``. Every
    request draws from its own stream (episode, user, session, page), so its slate does
    not depend on its batch. Search,
    suggestions and updates are the base policy's.

    Args:
        base: Registry name of the wrapped policy.
        epsilon: Per-position exploration probability in ``[0, 1]``.
        base_params: Keyword parameters of the base policy.
    """

    def __init__(
        self,
        base: str = "popularity",
        epsilon: float = 0.1,
        base_params: dict[str, Any] | None = None,
    ) -> None:
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
        if base == "epsilon-greedy":
            raise ValueError("epsilon-greedy cannot wrap itself")
        self.epsilon = float(epsilon)
        self.base = make_policy(base, **(base_params or {}))
        declared = self.base.sources
        self.sources = (
            None if declared is None else (*dict.fromkeys((*declared, Provenance.EXPLORATION)),)
        )

    def bind(self, context: PolicyContext) -> None:  # noqa: D102
        super().bind(context)
        base_rng, _ = context.rng.spawn(2)
        # The base policy's per-request streams differ from the exploration's own.
        base_key = int(hash_rows(np.uint64(context.request_key), np.zeros(1, np.int64))[0])
        self.base.bind(
            PolicyContext(
                catalog=context.catalog,
                search=context.search,
                n_users=context.n_users,
                slate_size=context.slate_size,
                n_suggestions=context.n_suggestions,
                rng=base_rng,
                request_key=base_key,
            )
        )

    def on_catalog_change(self, catalog: CatalogView) -> None:  # noqa: D102
        super().on_catalog_change(catalog)
        self.base.on_catalog_change(catalog)

    def recommend(self, batch: FeedBatch) -> FeedResponse:  # noqa: D102
        response = self.base.recommend(batch)
        slates = np.array(response.slates, dtype=np.int64, copy=True)
        origin = (
            np.full(slates.shape, int(Provenance.UNKNOWN), dtype=np.int8)
            if response.origin is None
            else np.array(response.origin, dtype=np.int8, copy=True)
        )
        # Per-request random numbers (episode, user, session, page): a request's slate
        # does not depend on its batch. Slots 0..S-1 decide which positions explore,
        # slots S..2S-1 draw the replacements.
        size = slates.shape[1]
        keys = hash_rows(
            self.context.request_key, np.full(len(batch), batch.episode), batch.user_ids,
            batch.session_ids, batch.page,
        )  # fmt: skip
        u = uniform_slots(keys, 2 * size)
        explore = u[:, :size] < self.epsilon
        if not explore.any():
            return FeedResponse(slates=slates, origin=origin)
        pool = np.flatnonzero(self.context.catalog.available)
        for row in np.flatnonzero(explore.any(axis=1)):
            cols = np.flatnonzero(explore[row])
            kept = slates[row, ~explore[row]]
            taken = np.searchsorted(pool, kept[np.isin(kept, pool)])
            pick = sample_distinct_uniforms(
                u[row : row + 1, size : size + cols.shape[0]], pool.shape[0], taken[None, :]
            )
            slates[row, cols] = pool[pick[0]]
            origin[row, cols] = int(Provenance.EXPLORATION)
        return FeedResponse(slates=slates, origin=origin)

    def rank_search(self, batch: SearchBatch) -> np.ndarray:  # noqa: D102
        return self.base.rank_search(batch)

    def suggest_queries(self, batch: SuggestBatch) -> list[list[str]]:  # noqa: D102
        return self.base.suggest_queries(batch)

    def update(self, events: pd.DataFrame) -> None:  # noqa: D102
        self.base.update(events)

    def serving_state(self) -> Any:  # noqa: D102
        return self.base.serving_state()

    def merge_serving_states(self, states: list[Any]) -> None:  # noqa: D102
        self.base.merge_serving_states(states)
