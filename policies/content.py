"""``content``: a pure title-content ranker — what item text alone can recover.

Each user's profile is the decayed sum of the title embeddings of the items they
clicked and the queries they typed (:class:`~policies.onefeed_logs.ContentProfiles`, the
same title space the OneFeed policy's ranking stage reads); items are ranked by the
cosine of their title embedding with the profile. It sees titles and logged feedback
only. Its CTR as a share of the oracle's is the world's *content gap*: how much of the
latent state a policy can read off titles (docs/user_model.md).

As in the collaborative baselines (:class:`~policies.collaborative.HistoryPolicy`),
popularity enters only as a tie-break (``1e-3`` × past clicks normalised to 1), so users
without a profile get the most clicked items, and items a user clicked are not served
again. Search results keep the engine's order; no queries are suggested.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from policies.base import PolicyContext
from policies.collaborative import HistoryPolicy
from policies.onefeed_logs import ContentProfiles
from policies.registry import register_policy
from sim.events import Provenance
from sim.types import CatalogView

__all__ = ["ContentPolicy"]


@register_policy("content")
class ContentPolicy(HistoryPolicy):
    """Ranks items by the cosine of their title embedding with the user's title profile.

    Args:
        decay: Per-episode decay of the profiles and of past clicks, in ``(0, 1]``.
        long_dwell_s: Clicks with at least this dwell count double in the profile.
        exclude_seen: Do not re-serve items the user clicked.
    """

    origin = Provenance.CONTENT

    def __init__(
        self, decay: float = 0.85, long_dwell_s: float = 60.0, exclude_seen: bool = True
    ) -> None:
        super().__init__(decay=decay, exclude_seen=exclude_seen)
        self.long_dwell_s = float(long_dwell_s)

    def bind(self, context: PolicyContext) -> None:  # noqa: D102
        super().bind(context)
        seed = int(context.rng.integers(0, 2**31))
        self.profiles = ContentProfiles(context.n_users, decay=self.decay, seed=seed)
        self.profiles.set_catalog(list(context.catalog.titles))

    def on_catalog_change(self, catalog: CatalogView) -> None:  # noqa: D102
        super().on_catalog_change(catalog)
        self.profiles.extend_catalog(list(catalog.titles))

    def _model_scores(self, user_ids: np.ndarray) -> np.ndarray:
        return self.profiles.affinity(np.asarray(user_ids, dtype=np.int64))

    def update(self, events: pd.DataFrame) -> None:  # noqa: D102
        super().update(events)
        self.profiles.add_episode(events, self.long_dwell_s)
