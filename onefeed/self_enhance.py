"""Closed-loop self-enhancement: feedback on the model's own outputs → weighted examples.

The feedback log is model-side (not a simulator type): per user, the context the model
served, the generated items that were shown and what happened to each (click, long dwell,
skip, or ignored), and the generated queries that were shown, whether they were clicked
and which result items were clicked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from onefeed.behaviour import BehaviourSequence, as_sequence
from onefeed.examples import Examples, from_behaviour


class Retrainable(Protocol):
    """What a self-enhancement round needs of a model (:class:`~onefeed.model.OneFeedModel`).

    Declared here so that this module does not import the model module (which imports
    this one).
    """

    config: Any
    vocab: Any

    def examples_from(self, sequences: list[Any]) -> Examples:
        """Training examples of every positive event of ``sequences``."""
        ...

    def train(self, ex: Examples, epochs: int, stage: str) -> list[dict[str, float]]:
        """Warm-started training passes over ``ex``."""
        ...


@dataclass
class UserFeedback:
    """Feedback of one user on one serving of generated items and queries.

    Attributes:
        history: The behaviour the model read when it generated (item array or sequence).
        shown_items: Shape ``(s,)`` generated items shown.
        clicked: Shape ``(s,)`` bool.
        long_dwell: Shape ``(s,)`` bool.
        skipped: Shape ``(s,)`` bool (shown, explicitly skipped).
        shown_queries: Shape ``(g, q)`` generated query word ids shown, ``-1`` padded.
        query_clicked: Shape ``(g,)`` bool, the suggested query was clicked.
        query_result_clicks: ``(query index, item)`` clicks on results of generated queries.
    """

    history: np.ndarray | BehaviourSequence
    shown_items: np.ndarray
    clicked: np.ndarray
    long_dwell: np.ndarray
    skipped: np.ndarray
    shown_queries: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int64))
    query_clicked: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    query_result_clicks: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class FeedbackLog:
    """A batch of :class:`UserFeedback` records (one serving round)."""

    users: list[UserFeedback]


@dataclass(frozen=True)
class FeedbackWeights:
    """Example weights by outcome (negatives use the unlikelihood loss)."""

    click: float = 1.0
    long_dwell: float = 2.0
    query_item: float = 1.0
    skip: float = 0.3
    ignore: float = 0.05
    query_click: float = 0.5
    query_ignore: float = 0.05


def feedback_examples(
    log: FeedbackLog, max_len: int, item_query: np.ndarray, fw: FeedbackWeights | None = None
) -> Examples:
    """Turn a feedback log into weighted examples for both heads.

    Positives: clicked / long-dwell generated items (``max`` of the matching weights, query
    target = the item's canonical query), and items clicked in the results of a generated
    query (item positive, and that query as a positive query target). Negatives: skipped
    and ignored generated items (unlikelihood); shown generated queries neither clicked
    nor leading to a click (query unlikelihood, no item loss). Rows whose weights are all
    zero (e.g. ``ignore=0``) are dropped.

    Args:
        log: The feedback log.
        max_len: Encoder window length.
        item_query: Shape ``(n_items, q)`` canonical queries.
        fw: Outcome weights.

    Returns:
        :class:`Examples` (possibly empty).
    """
    fw = fw or FeedbackWeights()
    q = item_query.shape[1]
    hist: list[BehaviourSequence] = []
    rows: list[tuple[int, np.ndarray, float, bool, float, bool]] = []
    for uf in log.users:
        h = as_sequence(uf.history)
        for j, item in enumerate(np.asarray(uf.shown_items, dtype=np.int64)):
            if uf.clicked[j] or uf.long_dwell[j]:
                w = max(
                    fw.click if uf.clicked[j] else 0.0, fw.long_dwell if uf.long_dwell[j] else 0.0
                )
                rows.append((item, item_query[item], w, False, w, False))
            else:
                w = fw.skip if uf.skipped[j] else fw.ignore
                rows.append((item, np.full(q, -1), w, True, 0.0, False))
            hist.append(h)
        sq = np.asarray(uf.shown_queries, dtype=np.int64).reshape(-1, q)
        reached = {qi for qi, _ in uf.query_result_clicks}
        for qi, item in uf.query_result_clicks:
            rows.append((item, sq[qi], fw.query_item, False, fw.query_item, False))
            hist.append(h)
        for qi in range(len(sq)):
            if qi in reached:
                continue
            clicked = bool(uf.query_clicked[qi]) if len(uf.query_clicked) > qi else False
            w = fw.query_click if clicked else fw.query_ignore
            rows.append((0, sq[qi], 0.0, False, w, not clicked))
            hist.append(h)
    rows_hist = [(r, h) for r, h in zip(rows, hist, strict=True) if r[2] > 0 or r[4] > 0]
    rows = [r for r, _ in rows_hist]
    hist = [h for _, h in rows_hist]
    if not rows:
        return from_behaviour(
            [],
            np.zeros(0, np.int64),
            max_len,
            np.zeros((0, q), np.int64),
            np.zeros(0),
            np.zeros(0, bool),
            np.zeros(0),
            np.zeros(0, bool),
        )
    tgt, qs, w, neg, qw, qneg = zip(*rows, strict=True)
    return from_behaviour(
        hist,
        np.array(tgt),
        max_len,
        np.stack(qs),
        np.array(w),
        np.array(neg),
        np.array(qw),
        np.array(qneg),
    )


def self_enhance_round(
    model: Retrainable,
    log: FeedbackLog,
    replay: list[np.ndarray | BehaviourSequence] | None = None,
    epochs: int = 1,
    **weights: float,
) -> list[dict[str, float]]:
    """Retrain both heads on the feedback, warm-starting from the current parameters.

    The feedback examples may be mixed with a replay of the original data; the
    optimiser state carries over.

    Args:
        model: A fitted :class:`~onefeed.model.OneFeedModel`.
        log: Feedback on the model's generated items and queries.
        replay: Optional original training sequences mixed in (against forgetting).
        epochs: Passes over the combined examples.
        **weights: Overrides of :class:`FeedbackWeights` fields.

    Returns:
        Per-epoch mean losses.
    """
    assert model.vocab is not None
    ex = feedback_examples(
        log, model.config.max_len, model.vocab.item_query, FeedbackWeights(**weights)
    )
    if replay:
        ex = Examples.concat([ex, model.examples_from(replay)])
    if len(ex) == 0:
        return []
    return model.train(ex, epochs, "self_enhance")
