"""The log a calibrated world produces under the neutral policy (``random``).

The fit's pilot runs and the calibration report's simulated log come from here: the
world is served by ``random`` (uniform over available items: no exposure bias of its
own, so what the log shows is the users' doing), for ``from_data.horizon_days``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from threadpoolctl import threadpool_limits

from policies import make_policy
from sim.config import WorldConfig
from sim.fitted import FittedWorld
from sim.world import build_world

__all__ = ["NEUTRAL_POLICY", "NeutralLog", "simulate_neutral"]

#: The policy a calibrated world is fitted and checked under.
NEUTRAL_POLICY = "random"

_CONSUME = ("click", "search_click")


@dataclass(frozen=True)
class NeutralLog:
    """Consumption and counts of a neutral-policy run.

    Attributes:
        frame: Interaction frame: ``user``, ``item`` (int64), one row per consumption
            (feed or search click), each user's rows in time order.
        n_sessions: Sessions started.
        n_slates: Feed slates served.
        days: Simulated days.
        item_topics: Shape ``(n_items, K)`` the world's item topics (the synthetic
            world's own, for comparisons by rank).
    """

    frame: pd.DataFrame
    n_sessions: int
    n_slates: int
    days: float
    item_topics: np.ndarray

    @property
    def n_consumed(self) -> int:
        """Consumptions (rows of ``frame``)."""
        return int(self.frame.shape[0])


def simulate_neutral(
    config: WorldConfig, fitted: FittedWorld | None, seed: int, days: float
) -> NeutralLog:
    """Run the world under :data:`NEUTRAL_POLICY` for ``days`` (whole episodes).

    Args:
        config: The world configuration (sizes matching ``fitted``).
        fitted: The calibrated world's items and users (``None``: synthetic world).
        seed: Root seed of the run.
        days: Simulated days (rounded up to whole episodes).

    Returns:
        The consumption log and counts.
    """
    episodes = max(1, math.ceil(days / config.episode_length_days - 1e-9))
    frames, sessions, slates = [], 0, 0
    with threadpool_limits(limits=1, user_api="blas"):
        world = build_world(config, seed, make_policy(NEUTRAL_POLICY), fitted)
        for episode in range(episodes):
            result = world.run_episode(episode)
            table = result.events
            mask = pc.is_in(pc.cast(table["event"], "string"), value_set=_pa_consume())
            picked = table.filter(mask).select(["time_s", "user_id", "item_id"]).to_pandas()
            frames.append(picked)
            sessions += result.n_sessions
            slates += result.n_slates
    events = pd.concat(frames, ignore_index=True)
    events = events.sort_values(["user_id", "time_s"], kind="stable")
    frame = pd.DataFrame(
        {
            "user": events["user_id"].to_numpy(np.int64),
            "item": events["item_id"].to_numpy(np.int64),
        }
    )
    topics = np.asarray(world.catalog.topics, dtype=np.float64)
    return NeutralLog(frame, sessions, slates, episodes * config.episode_length_days, topics)


def _pa_consume():
    import pyarrow as pa

    return pa.array(list(_CONSUME))
