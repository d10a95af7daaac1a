"""Turning logged implicit feedback into OneFeed's inputs: behaviour and feedback logs.

Only observable, logged events are used (clicks, dwell, skips, queries, search clicks,
suggestions); never a user's latent state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from onefeed import BehaviourSequence, FeedbackLog, UserFeedback
from onefeed import EventType as Behaviour

__all__ = ["ServedLists", "UserHistories", "feedback_log"]


class UserHistories:
    """Each user's recent behaviour sequence, appended to after every episode.

    Args:
        n_users: Number of users.
        max_len: Events kept per user (the most recent).
        max_words: Query words kept per query event.
    """

    def __init__(self, n_users: int, max_len: int, max_words: int) -> None:
        self.max_len, self.max_words = int(max_len), int(max_words)
        empty_words = np.zeros((0, self.max_words), dtype=np.int64)
        self.sequences = [
            BehaviourSequence(np.zeros(0, np.int64), np.zeros(0, np.int64), empty_words)
            for _ in range(n_users)
        ]

    def add_episode(self, events: pd.DataFrame, encode_query, long_dwell_s: float) -> np.ndarray:
        """Append one episode's behaviour; return the ids of users who had any.

        Args:
            events: Log slice (columns of ``sim.events.EVENT_SCHEMA``).
            encode_query: Maps query text to vocabulary ids (``None`` before a model).
            long_dwell_s: Clicks with at least this dwell are ``LONG_DWELL`` events.
        """
        kind = events["event"].astype(str).to_numpy()
        keep = np.isin(kind, ["click", "skip", "search_click", "query"])
        rows = events.loc[keep, ["user_id", "time_s", "item_id", "dwell_s", "query"]]
        kind = kind[keep]
        types = np.select(
            [kind == "click", kind == "skip", kind == "search_click", kind == "query"],
            [int(Behaviour.CLICK), int(Behaviour.SKIP), int(Behaviour.SEARCH_CLICK),
             int(Behaviour.QUERY)],
        )  # fmt: skip
        long = (kind == "click") & (rows["dwell_s"].to_numpy() >= long_dwell_s)
        types = np.where(long, int(Behaviour.LONG_DWELL), types)
        users = rows["user_id"].to_numpy(np.int64)
        order = np.lexsort((rows["time_s"].to_numpy(), users))
        users, types = users[order], types[order]
        items = rows["item_id"].to_numpy(np.int64)[order]
        texts = rows["query"].to_numpy(object)[order]
        words = np.full((users.shape[0], self.max_words), -1, dtype=np.int64)
        if encode_query is not None:
            for r in np.flatnonzero(types == int(Behaviour.QUERY)):
                ids = np.asarray(encode_query(texts[r] or ""), dtype=np.int64)[: self.max_words]
                words[r, : ids.shape[0]] = ids
        items = np.where(types == int(Behaviour.QUERY), -1, items)
        touched = np.unique(users)
        starts = np.searchsorted(users, touched, side="left")
        ends = np.searchsorted(users, touched, side="right")
        for user, start, end in zip(touched.tolist(), starts, ends, strict=True):
            old = self.sequences[user]
            self.sequences[user] = BehaviourSequence(
                np.concatenate([old.items, items[start:end]])[-self.max_len :],
                np.concatenate([old.types, types[start:end]])[-self.max_len :],
                np.concatenate([old.query_words, words[start:end]])[-self.max_len :],
            )
        return touched


@dataclass
class ServedLists:
    """What the policy prepared for each user for one episode.

    Attributes:
        items: Shape ``(n_users, L)`` ranked item ids (``-1`` padded).
        origin: Shape ``(n_users, L)`` int8 provenance codes.
        query_of_item: Shape ``(n_users, L)`` index of the generated query that
            retrieved each expansion item, ``-1`` for SID items.
        queries: Per user, the generated query strings (suggestions and expansion).
        histories: The behaviour sequences the model read when generating.
    """

    items: np.ndarray
    origin: np.ndarray
    query_of_item: np.ndarray
    queries: list[list[str]]
    histories: list[BehaviourSequence]


def feedback_log(
    events: pd.DataFrame,
    served: ServedLists,
    encode_query,
    max_words: int,
    long_dwell_s: float,
    generated_origins: tuple[int, ...],
) -> FeedbackLog:
    """Feedback on the model's own outputs in one episode, per user.

    Positives: clicked or long-dwell generated feed items; items clicked in the results
    of a clicked suggested query; feed clicks on expansion items (credited to the query
    that retrieved them). Negatives: skipped or ignored generated items, suggested
    queries that were shown and not clicked.

    Args:
        events: The episode's log slice.
        served: What the policy prepared for the episode.
        encode_query: Maps query text to vocabulary ids.
        max_words: Query length of the model.
        long_dwell_s: Long-dwell threshold.
        generated_origins: Provenance codes (as logged names) of generated items.

    Returns:
        A :class:`onefeed.FeedbackLog` over users with any feedback.
    """
    kind = events["event"].astype(str).to_numpy()
    origin = events["origin"].astype(str).to_numpy()
    users = events["user_id"].to_numpy(np.int64)
    items = events["item_id"].to_numpy(np.int64)
    generated = np.isin(origin, generated_origins)
    shown = (kind == "impression") & generated
    frame = pd.DataFrame({"user": users, "item": items})
    clicked = set(
        zip(users[kind == "click"].tolist(), items[kind == "click"].tolist(), strict=True)
    )
    dwell = events["dwell_s"].to_numpy()
    long_set = set(
        zip(users[(kind == "click") & (dwell >= long_dwell_s)].tolist(),
            items[(kind == "click") & (dwell >= long_dwell_s)].tolist(), strict=True)
    )  # fmt: skip
    skipped = set(zip(users[kind == "skip"].tolist(), items[kind == "skip"].tolist(), strict=True))
    # Suggested queries: shown, clicked, and result clicks reached through them.
    query_ids = events["query_id"].to_numpy(np.int64)
    texts = events["query"].to_numpy(object)
    suggestion_query = {int(q): texts[r] for r, q in zip(np.flatnonzero(kind == "suggestion_click"),
                        query_ids[kind == "suggestion_click"], strict=True)}  # fmt: skip
    result_clicks: dict[int, list[tuple[str, int]]] = {}
    for r in np.flatnonzero((kind == "search_click") & np.isin(query_ids, list(suggestion_query))):
        result_clicks.setdefault(int(users[r]), []).append(
            (suggestion_query[int(query_ids[r])], int(items[r]))
        )
    shown_suggestions: dict[int, list[str]] = {}
    clicked_suggestions: dict[int, set[str]] = {}
    for r in np.flatnonzero(kind == "suggestion_shown"):
        shown_suggestions.setdefault(int(users[r]), [])
        if texts[r] not in shown_suggestions[int(users[r])]:
            shown_suggestions[int(users[r])].append(texts[r])
    for r in np.flatnonzero(kind == "suggestion_click"):
        clicked_suggestions.setdefault(int(users[r]), set()).add(texts[r])

    shown_frame = frame[shown].drop_duplicates()
    per_user = shown_frame.groupby("user")["item"].apply(np.asarray).to_dict()
    records = []
    for user in sorted(set(per_user) | set(shown_suggestions)):
        shown_items = np.asarray(per_user.get(user, np.zeros(0, np.int64)), dtype=np.int64)
        queries = served.queries[user]
        query_words = np.full((len(queries), max_words), -1, dtype=np.int64)
        for qi, text in enumerate(queries):
            ids = np.asarray(encode_query(text), dtype=np.int64)[:max_words]
            query_words[qi, : ids.shape[0]] = ids
        shown_q = set(shown_suggestions.get(user, []))
        query_clicked = np.array([q in clicked_suggestions.get(user, set()) for q in queries])
        reached = [(queries.index(t), i) for t, i in result_clicks.get(user, []) if t in queries]
        # Feed clicks on expansion items are credited to the query that found them.
        row = served.items[user]
        for item in shown_items:
            hit = np.flatnonzero(row == item)
            if hit.size and served.query_of_item[user, hit[0]] >= 0 and (user, item) in clicked:
                reached.append((int(served.query_of_item[user, hit[0]]), int(item)))
        keep_q = [
            qi for qi, q in enumerate(queries) if q in shown_q or any(r[0] == qi for r in reached)
        ]
        remap = {old: new for new, old in enumerate(keep_q)}
        records.append(
            UserFeedback(
                history=served.histories[user],
                shown_items=shown_items,
                clicked=np.array([(user, i) in clicked for i in shown_items.tolist()], dtype=bool),
                long_dwell=np.array(
                    [(user, i) in long_set for i in shown_items.tolist()], dtype=bool
                ),
                skipped=np.array([(user, i) in skipped for i in shown_items.tolist()], dtype=bool),
                shown_queries=query_words[keep_q].reshape(-1, max_words),
                query_clicked=query_clicked[keep_q] if keep_q else np.zeros(0, bool),
                query_result_clicks=[(remap[q], i) for q, i in reached if q in remap],
            )
        )
    return FeedbackLog(records)
