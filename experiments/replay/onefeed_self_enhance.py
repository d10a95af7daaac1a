"""Offline self-enhancement on replay data, against a control that gets as many positives.

Both arms start from the same validation-stage model (fitted on prefixes that end before
each user's validation item) and never see the test item. Every round:

* **feedback arm** — the model shows every user its top ``shown`` items and one
  generated query (BM25 top 10); the user "clicks" a shown item, or a query result, only
  if it is their validation item. The model retrains on those clicks (item and query
  positives) plus a replay of a random ``replay_fraction`` of the users' training
  prefixes;
* **control arm** — gets exactly as many validation-item positives, from users chosen
  uniformly at random (the user's training prefix → their validation item), plus the
  same replay sample, so both arms take the same number of training steps on the same
  number of examples. What differs is only *which* positives: those the model's own
  outputs earned, or random ones.

After every round both arms are evaluated on the test item (history = everything before
it). The rows give both curves.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from experiments.replay.bench import evaluate_model
from experiments.replay.onefeed_queries import Bm25
from experiments.replay.protocol import ReplayDataset
from experiments.replay.split import make_stage
from onefeed import FeedbackLog, OneFeedModel, RankSettings, UserFeedback
from onefeed.rng import named_rng

__all__ = ["offline_self_enhancement"]


class _Scored:
    """A fitted model behind the bench's ``score`` contract (fixed ranking settings)."""

    name = "onefeed"

    def __init__(self, model: OneFeedModel, settings: RankSettings) -> None:
        self.model, self.settings = model, settings

    def fit(self, data: Any, seed: int) -> None:  # pragma: no cover - never refitted
        raise RuntimeError("already fitted")

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        return self.model.score_all(histories, self.settings)


def _copy(model: OneFeedModel) -> OneFeedModel:
    twin = OneFeedModel(model.config)
    twin.load_state_dict(model.state_dict())
    return twin


def _positive(history: np.ndarray, item: int, query: np.ndarray | None = None) -> UserFeedback:
    """One user's feedback: ``item`` shown and clicked (optionally through ``query``)."""
    if query is None:
        return UserFeedback(history, np.array([item]), np.ones(1, bool), *(np.zeros(1, bool),) * 2)
    return UserFeedback(
        history,
        np.zeros(0, np.int64),
        np.zeros(0, bool),
        np.zeros(0, bool),
        np.zeros(0, bool),
        query[None, :],
        np.ones(1, bool),
        [(0, item)],
    )


def offline_self_enhancement(
    valid_model: OneFeedModel,
    settings: RankSettings,
    dataset: ReplayDataset,
    seed: int = 0,
    rounds: int = 2,
    shown: int = 10,
    epochs_per_round: int = 1,
    replay_fraction: float = 0.25,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Feedback and control curves over ``rounds`` (see the module docstring).

    Args:
        valid_model: The fitted validation-stage model (copied, never modified).
        settings: Ranking settings used to choose what is shown and to evaluate.
        dataset: The replay dataset (full sequences; the split is made here).
        seed: Root seed (keys the control's user sample and the replay sample).
        rounds: Feedback rounds.
        shown: Items shown per user per round.
        epochs_per_round: Retraining epochs per round (both arms).
        replay_fraction: Share of users whose prefixes are replayed each round.
        progress: Show progress bars while evaluating.

    Returns:
        One row per round (round 0 = the starting model): test metrics of both arms,
        the positives each arm got, the examples trained on and the round's wall time.
    """
    if not 0 < replay_fraction <= 1:
        raise ValueError("replay_fraction must be in (0, 1]")
    valid, test = make_stage(dataset, "valid"), make_stage(dataset, "test")
    users = valid.users  # users with a validation item
    train = [valid.train.sequences[u] for u in users]
    val = valid.targets
    bm25 = Bm25(list(dataset.item_text)) if dataset.item_text is not None else None
    fb, ctl = _copy(valid_model), _copy(valid_model)
    rng = named_rng(seed, "replay/self-enhance")
    assert fb.vocab is not None

    def evaluate(model: OneFeedModel) -> dict[str, float]:
        ((m, _),) = evaluate_model(_Scored(model, settings), test, progress=progress)
        return m

    t0 = time.perf_counter()
    start = evaluate(fb)
    rows: list[dict[str, Any]] = [
        {"round": 0, "feedback": start, "control": start, "time_s": time.perf_counter() - t0}
    ]
    n_replay = max(1, round(replay_fraction * len(train)))
    for rnd in range(1, rounds + 1):
        t0 = time.perf_counter()
        fb_users: list[UserFeedback] = []
        n_items = n_query = 0
        for i in range(0, len(train), 1024):
            h = train[i : i + 1024]
            scores = fb.score_all(h, settings)
            top = np.argsort(-scores, axis=1, kind="stable")[:, :shown]
            top = np.where(np.take_along_axis(scores, top, 1) > -np.inf, top, -1)
            del scores
            qids = fb.generate_query_ids(h, 1)
            found = (
                bm25.search([fb.vocab.decode(q[0]) for q in qids], 10)
                if bm25 is not None
                else np.full((len(h), 10), -1)
            )
            for r in range(len(h)):
                target = int(val[i + r])
                if target in top[r]:
                    fb_users.append(_positive(h[r], target))
                    n_items += 1
                elif target in found[r]:
                    fb_users.append(_positive(h[r], target, qids[r, 0]))
                    n_query += 1
        n_pos = n_items + n_query
        picked = np.sort(rng.choice(len(train), size=min(n_pos, len(train)), replace=False))
        ctl_users = [_positive(train[u], int(val[u])) for u in picked]
        replay = [train[u] for u in np.sort(rng.choice(len(train), n_replay, replace=False))]
        weights = {"ignore": 0.0, "query_ignore": 0.0}
        fb.self_enhance(FeedbackLog(fb_users), replay, epochs_per_round, **weights)
        ctl.self_enhance(FeedbackLog(ctl_users), replay, epochs_per_round, **weights)
        rows.append(
            {
                "round": rnd,
                "feedback": evaluate(fb),
                "control": evaluate(ctl),
                "feedback_positives": n_pos,
                "feedback_item_clicks": n_items,
                "feedback_query_clicks": n_query,
                "control_positives": len(ctl_users),
                "replayed_users": n_replay,
                "time_s": time.perf_counter() - t0,
            }
        )
    return rows
