"""``content``: a pure title-content ranker — what item text alone can recover.

Each user's profile is built from the titles of the items they clicked, and items are
ranked by the cosine of their title vector with the profile, in one of two title
spaces (``representation``): ``tfidf`` (default), the textbook content-based
recommender over TF-IDF word vectors (:class:`~policies.title_tfidf.TitleTfidf`), or
``word_groups``, the space of topic-like word groups that the OneFeed policy's ranking
stage reads (:class:`~policies.onefeed_logs.ContentProfiles`, which also adds typed
queries to the profile). It sees titles and logged feedback only. Its CTR as a share
of the oracle's is the world's *content gap*: how much of the latent state a policy can
read off titles (docs/user_model.md).

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
from policies.title_tfidf import TitleTfidf
from sim.events import Provenance
from sim.types import CatalogView

__all__ = ["ContentPolicy"]


@register_policy("content")
class ContentPolicy(HistoryPolicy):
    """Ranks items by the cosine of their title embedding with the user's title profile.

    Args:
        representation: ``"tfidf"`` or ``"word_groups"`` (see the module docstring).
        decay: Per-episode decay of the profiles and of past clicks, in ``(0, 1]``.
        long_dwell_s: Clicks with at least this dwell count double in a ``word_groups``
            profile.
        exclude_seen: Do not re-serve items the user clicked.
    """

    origin = Provenance.CONTENT

    def __init__(
        self,
        representation: str = "tfidf",
        decay: float = 0.85,
        long_dwell_s: float = 60.0,
        exclude_seen: bool = True,
    ) -> None:
        if representation not in ("tfidf", "word_groups"):
            raise ValueError(
                f"representation must be 'tfidf' or 'word_groups', got {representation!r}"
            )
        super().__init__(decay=decay, exclude_seen=exclude_seen)
        self.representation = representation
        self.long_dwell_s = float(long_dwell_s)

    def bind(self, context: PolicyContext) -> None:  # noqa: D102
        super().bind(context)
        seed = int(context.rng.integers(0, 2**31))
        titles = list(context.catalog.titles)
        if self.representation == "tfidf":
            self.profiles: TitleTfidf | ContentProfiles = TitleTfidf(context.n_users, self.decay)
        else:
            self.profiles = ContentProfiles(context.n_users, decay=self.decay, seed=seed)
        self.profiles.set_catalog(titles)

    def on_catalog_change(self, catalog: CatalogView) -> None:  # noqa: D102
        super().on_catalog_change(catalog)
        if isinstance(self.profiles, TitleTfidf):
            self.profiles.set_catalog(list(catalog.titles))
        else:
            self.profiles.extend_catalog(list(catalog.titles))

    def _model_scores(self, user_ids: np.ndarray) -> np.ndarray:
        return self.profiles.affinity(np.asarray(user_ids, dtype=np.int64))

    def update(self, events: pd.DataFrame) -> None:  # noqa: D102
        super().update(events)
        if isinstance(self.profiles, TitleTfidf):
            self.profiles.add_episode(events)
        else:
            self.profiles.add_episode(events, self.long_dwell_s)


@register_policy("content-word-groups")
class ContentWordGroupsPolicy(ContentPolicy):
    """``content`` in the word-group title space OneFeed's ranking stage reads."""

    def __init__(
        self, decay: float = 0.85, long_dwell_s: float = 60.0, exclude_seen: bool = True
    ) -> None:
        super().__init__("word_groups", decay, long_dwell_s, exclude_seen)
