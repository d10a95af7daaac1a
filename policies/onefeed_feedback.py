"""Feedback on OneFeed's own outputs in one episode, per user, built on demand.

Self-enhancement trains on the feedback to what the model generated (see
:func:`policies.onefeed_logs.feedback_log` for the definition). A round is capped at
about ``enhance_budget`` examples, which a few hundred users fill, so building every
user's record each episode would cost time proportional to the population for nothing.
:class:`EpisodeFeedback` reads the episode's log once with array operations (sorted
keys, one pass) and builds the :class:`onefeed.UserFeedback` of a user only when asked.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from onefeed import UserFeedback
from policies.log_view import names

__all__ = ["EpisodeFeedback"]

_SHIFT = 32  # pair keys: user << 32 | item (item ids are int32)


def _keys(users: np.ndarray, items: np.ndarray) -> np.ndarray:
    return (users.astype(np.int64) << _SHIFT) + items.astype(np.int64)


def _member(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """Whether each of ``keys`` is in ``sorted_keys`` (sorted, unique): binary search."""
    if sorted_keys.size == 0:
        return np.zeros(keys.shape, dtype=bool)
    at = np.clip(np.searchsorted(sorted_keys, keys), 0, sorted_keys.size - 1)
    return sorted_keys[at] == keys


def _ranges(owner: np.ndarray, user: int) -> slice:
    """The rows of ``owner`` (sorted) that belong to ``user``."""
    lo = int(np.searchsorted(owner, user, side="left"))
    hi = int(np.searchsorted(owner, user, side="right"))
    return slice(lo, hi)


class EpisodeFeedback:
    """The episode's feedback to generated items and suggested queries, per user.

    Args:
        events: The episode's log slice.
        served: What the policy prepared for the episode
            (:class:`~policies.onefeed_logs.ServedLists`).
        encode_query: Maps query text to vocabulary ids.
        max_words: Query length of the model.
        long_dwell_s: Long-dwell threshold.
        generated_origins: Provenance codes (as logged names) of generated items.

    Attributes:
        users: Shape ``(m,)`` sorted ids of the users with any feedback (a generated
            item shown, or a suggestion shown).
    """

    def __init__(
        self,
        events: pd.DataFrame,
        served: object,
        encode_query: Callable[[str], np.ndarray],
        max_words: int,
        long_dwell_s: float,
        generated_origins: tuple[str, ...],
    ) -> None:
        self.served, self.encode_query, self.max_words = served, encode_query, int(max_words)
        kind = names(events["event"])
        users = events["user_id"].to_numpy(np.int64)
        items = events["item_id"].to_numpy(np.int64)
        # Generated items shown to each user, distinct, in the order first shown.
        shown = (kind == "impression") & np.isin(names(events["origin"]), generated_origins)
        su, si = users[shown], items[shown]
        _, first = np.unique(_keys(su, si), return_index=True)
        first.sort()
        order = np.argsort(su[first], kind="stable")
        self._shown_user, self._shown_item = su[first][order], si[first][order]
        click = kind == "click"
        dwell = events["dwell_s"].to_numpy()
        self._clicked = np.unique(_keys(users[click], items[click]))
        long = click & (dwell >= long_dwell_s)
        self._long = np.unique(_keys(users[long], items[long]))
        skip = kind == "skip"
        self._skipped = np.unique(_keys(users[skip], items[skip]))
        # Suggested queries: shown (distinct, in order), clicked, and the result clicks
        # reached through a clicked suggestion (in log order).
        query_ids = events["query_id"].to_numpy(np.int64)
        texts = events["query"].to_numpy(object)
        sc = np.flatnonzero(kind == "suggestion_click")
        suggestion_query = dict(zip(query_ids[sc].tolist(), texts[sc].tolist(), strict=True))
        rc = np.flatnonzero((kind == "search_click") & np.isin(query_ids, list(suggestion_query)))
        self._result = self._by_user(
            users[rc], [(suggestion_query[q], int(i)) for q, i in zip(
                query_ids[rc].tolist(), items[rc].tolist(), strict=True)]
        )  # fmt: skip
        ss = np.flatnonzero(kind == "suggestion_shown")
        self._shown_q = self._by_user(users[ss], texts[ss].tolist())
        self._clicked_q = self._by_user(users[sc], texts[sc].tolist())
        self.users = np.union1d(self._shown_user, self._shown_q[0]).astype(np.int64)

    @staticmethod
    def _by_user(owner: np.ndarray, values: list) -> tuple[np.ndarray, list]:
        """``values`` grouped by ``owner`` (stable): sorted owners and values alike."""
        order = np.argsort(owner, kind="stable")
        return owner[order], [values[i] for i in order.tolist()]

    def __len__(self) -> int:
        return int(self.users.shape[0])

    def record(self, index: int) -> UserFeedback:
        """The feedback of ``users[index]``.

        Positives: clicked or long-dwell generated feed items; items clicked in the
        results of a clicked suggested query; feed clicks on expansion items (credited
        to the query that retrieved them). Negatives: skipped or ignored generated
        items, suggested queries that were shown and not clicked.
        """
        user = int(self.users[index])
        served, max_words = self.served, self.max_words
        part = _ranges(self._shown_user, user)
        shown_items = self._shown_item[part].astype(np.int64)
        keys = _keys(np.full(shown_items.shape, user), shown_items)
        clicked = _member(keys, self._clicked)
        queries = served.queries[user]
        query_words = np.full((len(queries), max_words), -1, dtype=np.int64)
        for qi, text in enumerate(queries):
            ids = np.asarray(self.encode_query(text), dtype=np.int64)[:max_words]
            query_words[qi, : ids.shape[0]] = ids
        owner, texts = self._shown_q
        s = _ranges(owner, user)
        shown_q = set(texts[s])
        owner, texts = self._clicked_q
        s = _ranges(owner, user)
        clicked_q = set(texts[s])
        query_clicked = np.array([q in clicked_q for q in queries])
        owner, pairs = self._result
        s = _ranges(owner, user)
        reached = [(queries.index(t), i) for t, i in pairs[s] if t in queries]
        # Feed clicks on expansion items are credited to the query that found them.
        row = served.items[user]
        for item, was_clicked in zip(shown_items.tolist(), clicked.tolist(), strict=True):
            hit = np.flatnonzero(row == item)
            if hit.size and served.query_of_item[user, hit[0]] >= 0 and was_clicked:
                reached.append((int(served.query_of_item[user, hit[0]]), int(item)))
        keep_q = [
            qi for qi, q in enumerate(queries) if q in shown_q or any(r[0] == qi for r in reached)
        ]
        remap = {old: new for new, old in enumerate(keep_q)}
        return UserFeedback(
            history=served.histories[user],
            shown_items=shown_items,
            clicked=clicked,
            long_dwell=_member(keys, self._long),
            skipped=_member(keys, self._skipped),
            shown_queries=query_words[keep_q].reshape(-1, max_words),
            query_clicked=query_clicked[keep_q] if keep_q else np.zeros(0, bool),
            query_result_clicks=[(remap[q], i) for q, i in reached if q in remap],
        )
