"""Applying a scenario's interventions between episodes (see ``Scenario.interventions``).

Every intervention draws from its own named stream, ``interventions/<i>/<kind>``
(``i`` its position in the scenario's list), so the same users and items are hit under
every policy and seed-for-seed comparisons stay paired (common random numbers). The
run loop calls :meth:`InterventionSchedule.apply_due` before each episode; it returns
one small JSON record per applied intervention for the manifest, and the policy that
serves from then on (a new one after a ``policy_swap``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from experiments.scenario.models import CatalogShockSpec, InterestShockSpec, PolicySwapSpec
from policies import make_policy
from sim.interventions import catalog_shock, interest_shock, most_popular_available

__all__ = ["AppliedInterventions", "InterventionSchedule", "stream_name"]

#: ``past_logs(episode)`` yields the logs of episodes ``0 .. episode-1`` in order.
PastLogs = Callable[[int], Iterable[pd.DataFrame]]
#: ``attach(policy)`` hands an oracle its ground-truth view (no-op otherwise).
Attach = Callable[[Any], None]


def stream_name(index: int, kind: str) -> str:
    """Name of the random stream of the ``index``-th intervention (policy-independent)."""
    return f"interventions/{index}/{kind}"


@dataclass
class AppliedInterventions:
    """What happened before one episode.

    Attributes:
        records: One JSON-ready dict per applied intervention (for the manifest).
        policy: The policy serving from now on (``None``: unchanged).
        policy_name: Its registry name (``None``: unchanged).
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    policy: Any = None
    policy_name: str | None = None


class InterventionSchedule:
    """A scenario's interventions, grouped by the episode they precede.

    Args:
        specs: The validated intervention specs, in scenario order.
    """

    def __init__(self, specs: Sequence[Any]) -> None:
        self._by_episode: dict[int, list[tuple[int, Any]]] = {}
        for index, spec in enumerate(specs):
            self._by_episode.setdefault(int(spec.episode), []).append((index, spec))

    @property
    def episodes(self) -> list[int]:
        """Episodes preceded by at least one intervention, ascending."""
        return sorted(self._by_episode)

    def apply_due(
        self,
        episode: int,
        world: Any,
        item_clicks: np.ndarray,
        past_logs: PastLogs,
        attach: Attach,
    ) -> AppliedInterventions:
        """Apply, in scenario order, the interventions due before ``episode``.

        Args:
            episode: The episode about to start.
            world: The live :class:`sim.world.World`.
            item_clicks: Shape ``(<= n_items,)`` clicks per item so far (from the log).
            past_logs: Reader of the finished episodes' logs (for a policy swap).
            attach: Hands a swapped-in oracle its ground truth.

        Returns:
            The records and, after a swap, the new serving policy.
        """
        out = AppliedInterventions()
        for index, spec in self._by_episode.get(episode, []):
            rng = world.streams.get(stream_name(index, spec.kind))
            record: dict[str, Any] = {"index": index, **spec.model_dump(mode="json")}
            if isinstance(spec, InterestShockSpec):
                users = interest_shock(
                    world, rng, spec.share, spec.strength, spec.concentration, spec.shared_target
                )
                record["n_users_shocked"] = int(users.shape[0])
            elif isinstance(spec, CatalogShockSpec):
                retire = most_popular_available(world, item_clicks, spec.retire_popular_share)
                new_ids, retired = catalog_shock(
                    world, rng, spec.n_new_items, tuple(spec.topics), retire
                )
                record["n_items_added"] = int(new_ids.shape[0])
                record["n_items_retired"] = int(retired.shape[0])
                record["n_items_available"] = int(np.asarray(world.catalog.available).sum())
            elif isinstance(spec, PolicySwapSpec):
                policy = make_policy(spec.policy.name, **spec.policy.params)
                world.set_policy(policy)
                attach(policy)
                replayed = 0
                if spec.replay_history:
                    for events in past_logs(episode):
                        policy.update(events)
                        replayed += 1
                record["episodes_replayed"] = replayed
                out.policy, out.policy_name = policy, spec.policy.name
            out.records.append(record)
        return out
