"""The batched Policy contract.

A policy serves the feed and the search page for many users at once. It sees only
requests, a read-only catalogue view, the search index and the logged implicit
feedback passed to :meth:`Policy.update` after each episode (strictly past data).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.events import Provenance
from sim.types import (
    CatalogView,
    FeedBatch,
    FeedResponse,
    PolicyContext,
    SearchBatch,
    SuggestBatch,
)

__all__ = ["Policy", "PolicyContext"]


class Policy:
    """Base class of every policy. Subclasses override what they need.

    The defaults are the neutral behaviours: search results keep the engine's
    order, no queries are suggested, and ``update`` learns nothing.

    Answers must not depend on the batch a request arrives in (which other requests
    share it, in which order batches come): random numbers come from per-request
    streams (``context.request_key``), never from ``context.rng``.
    """

    #: Registry name, set by :func:`policies.registry.register_policy`.
    name: str = "policy"
    #: The provenance codes (:class:`sim.events.Provenance`) the policy declares for the
    #: items it serves; the serving layer rejects any other (``None``: not declared,
    #: any code accepted).
    sources: tuple[Provenance, ...] | None = None

    def bind(self, context: PolicyContext) -> None:
        """Attach the policy to a world before the first request."""
        self.context = context

    def on_catalog_change(self, catalog: CatalogView) -> None:
        """Called when items arrive or become unavailable (between batches)."""
        self.context = PolicyContext(
            catalog=catalog,
            search=self.context.search,
            n_users=self.context.n_users,
            slate_size=self.context.slate_size,
            n_suggestions=self.context.n_suggestions,
            rng=self.context.rng,
            request_key=self.context.request_key,
        )

    def recommend(self, batch: FeedBatch) -> FeedResponse:
        """Return one slate of ``batch.slate_size`` distinct items per request."""
        raise NotImplementedError

    def rank_search(self, batch: SearchBatch) -> np.ndarray:
        """Return a re-ordering of ``batch.candidates`` (shape ``(n, k)``, same padding)."""
        return batch.candidates

    def suggest_queries(self, batch: SuggestBatch) -> list[list[str]]:
        """Return up to ``batch.n_suggestions`` query strings per request."""
        return [[] for _ in range(len(batch))]

    def update(self, events: pd.DataFrame) -> None:
        """Learn from one finished episode's log slice (columns of ``sim.events.EVENT_SCHEMA``)."""

    def serving_state(self) -> Any:
        """What serving recorded since the last update that :meth:`update` reads.

        A run split by users (:mod:`sim.shards`) serves an episode with replicas of the
        policy; before the update, the driver's policy adopts every replica's serving
        state (:meth:`merge_serving_states`). ``None``: serving records nothing.
        """
        return None

    def merge_serving_states(self, states: list[Any]) -> None:
        """Adopt the :meth:`serving_state` of replicas that served an episode in its place.

        Afterwards :meth:`update` must learn what it would have learnt had this policy
        served every request itself. The default (nothing recorded) does nothing.

        Args:
            states: One state per replica, in the order of their user slices.
        """
