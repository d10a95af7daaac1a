"""Observations and step summaries, built only from logged events and the public catalogue.

Per user the :class:`Observer` keeps the last ``H`` behaviour events (feed clicks, feed
skips, search clicks: item id, event code, dwell) across sessions, and the words of the
most recent query of the current session as ids in the public vocabulary
(``CatalogView.vocabulary``, sorted; id ``V`` stands for a word no title contains).
Observation of one user (a ``gymnasium.spaces.Dict``)::

    history_item_ids   (H,) int64    item ids, oldest first, left-padded with -1
    history_behaviour  (H,) int64    sim.events.EventType code of each (CLICK=2, SKIP=3,
                                     SEARCH_CLICK=8), -1 on padding
    history_dwell_s    (H,) float32  dwell of clicks, 0 otherwise
    query_word_ids     (Q,) int64    word ids of the session's last query, right-padded
                                     with -1
    page_index         ()   int64    feed pages served so far in the session (Discrete)

No key shadows an attribute of ``dict`` or ``collections.abc.Mapping`` (``items``,
``keys``, ``values``, ``get``, ...): RL libraries build ``torch.nn.ModuleDict`` feature
extractors keyed by observation keys, and such a key breaks them (stable-baselines3's
``MultiInputPolicy``). :data:`OBSERVATION_KEYS` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from gymnasium import spaces

from sim.events import EventType
from sim.search import search_terms

__all__ = [
    "BEHAVIOUR_EVENTS",
    "OBSERVATION_KEYS",
    "Observer",
    "StepSummary",
    "summarise_step",
]

#: The keys of an observation, in the order of the ``Dict`` space.
OBSERVATION_KEYS = (
    "history_item_ids",
    "history_behaviour",
    "history_dwell_s",
    "query_word_ids",
    "page_index",
)

#: Events that enter a user's behaviour history, by EventType code.
BEHAVIOUR_EVENTS = (int(EventType.CLICK), int(EventType.SKIP), int(EventType.SEARCH_CLICK))


_QUERY_OUTCOMES = [
    int(EventType.SUGGESTION_CLICK),
    int(EventType.SEARCH_CLICK),
    int(EventType.QUERY_ABANDON),
]


@dataclass
class StepColumns:
    """The columns of one step's events as numpy arrays (length ``m``)."""

    user: np.ndarray
    event: np.ndarray
    item: np.ndarray
    position: np.ndarray
    dwell_s: np.ndarray
    query_id: np.ndarray
    query: list[str | None]

    @classmethod
    def from_table(cls, table: pa.Table) -> StepColumns:
        """Convert an event table (``sim.events.EVENT_SCHEMA``)."""
        event = table.column("event").combine_chunks()
        names = event.dictionary.to_pylist()
        codes = np.array([int(EventType[n.upper()]) for n in names], dtype=np.int64)
        idx = event.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        return cls(
            user=table.column("user_id").to_numpy().astype(np.int64),
            event=codes[idx] if idx.size else idx,
            item=table.column("item_id").to_numpy().astype(np.int64),
            position=table.column("position").to_numpy().astype(np.int64),
            dwell_s=table.column("dwell_s").to_numpy().astype(np.float32),
            query_id=table.column("query_id").to_numpy().astype(np.int64),
            query=table.column("query").to_pylist(),
        )


class Observer:
    """Per-user behaviour histories and last queries, and the observation space.

    Args:
        n_users: Number of users.
        n_items: Number of items.
        vocabulary: The public vocabulary (sorted words).
        history_len: ``H``.
        query_len: ``Q``, words kept of a query.
        max_pages: Largest value of ``page``.
        max_dwell_s: Largest dwell the world produces.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        vocabulary: tuple[str, ...],
        history_len: int,
        query_len: int,
        max_pages: int,
        max_dwell_s: float,
    ) -> None:
        self.n_users, self.n_items = n_users, n_items
        self.H, self.Q = history_len, query_len
        self.word_id = {w: i for i, w in enumerate(vocabulary)}
        self.oov = len(vocabulary)
        self.space = spaces.Dict(
            {
                "history_item_ids": spaces.Box(-1, n_items - 1, (self.H,), np.int64),
                "history_behaviour": spaces.Box(-1, max(BEHAVIOUR_EVENTS), (self.H,), np.int64),
                "history_dwell_s": spaces.Box(0.0, np.float32(max_dwell_s), (self.H,), np.float32),
                "query_word_ids": spaces.Box(-1, self.oov, (self.Q,), np.int64),
                "page_index": spaces.Discrete(max_pages + 1),
            }
        )
        self.reset()

    def reset(self) -> None:
        """Forget every history."""
        n, h = self.n_users, self.H
        self.items = np.full((n, h), -1, dtype=np.int64)
        self.behaviour = np.full((n, h), -1, dtype=np.int64)
        self.dwell = np.zeros((n, h), dtype=np.float32)
        self.query = np.full((n, self.Q), -1, dtype=np.int64)

    def new_sessions(self, users: np.ndarray) -> None:
        """Clear the last query of ``users`` (shape ``(n,)``) whose session starts."""
        self.query[users] = -1

    def record(self, cols: StepColumns) -> None:
        """Push a step's behaviour events and queries into the users' histories."""
        keep = np.isin(cols.event, BEHAVIOUR_EVENTS)
        if keep.any():
            self._push(cols.user[keep], cols.item[keep], cols.event[keep], cols.dwell_s[keep])
        q_rows = np.flatnonzero(cols.event == int(EventType.QUERY))
        last: dict[int, int] = {}
        for r in q_rows.tolist():
            last[int(cols.user[r])] = r
        for user, r in last.items():
            words = [self.word_id.get(w, self.oov) for w in search_terms(cols.query[r] or "")]
            words = words[: self.Q]
            self.query[user] = -1
            self.query[user, : len(words)] = words

    def _push(self, users: np.ndarray, items: np.ndarray, kinds: np.ndarray, dwell: np.ndarray):
        """Append events (log order) to each user's ring, newest last, vectorised."""
        order = np.argsort(users, kind="stable")
        users, items, kinds = users[order], items[order], kinds[order]
        dwell = np.nan_to_num(dwell[order], nan=0.0)
        uniq, start, count = np.unique(users, return_index=True, return_counts=True)
        m = int(count.max())
        width = self.H + m
        shift = (m - count)[:, None]  # old ring starts here so that new events end at width
        cols_old = shift + np.arange(self.H)[None, :]
        rank = np.arange(users.shape[0]) - np.repeat(start, count)
        row = np.repeat(np.arange(uniq.shape[0]), count)
        col_new = self.H + (m - count)[row] + rank
        for arr, new, fill in (
            (self.items, items, -1),
            (self.behaviour, kinds, -1),
            (self.dwell, dwell, 0.0),
        ):
            buf = np.full((uniq.shape[0], width), fill, dtype=arr.dtype)
            np.put_along_axis(buf, cols_old, arr[uniq], axis=1)
            buf[row, col_new] = new
            arr[uniq] = buf[:, -self.H :]

    def observe(self, users: np.ndarray, pages: np.ndarray) -> dict[str, np.ndarray]:
        """Batched observation of ``users`` (shape ``(n,)``), fresh arrays, leading axis ``n``."""
        return {
            "history_item_ids": self.items[users].copy(),
            "history_behaviour": self.behaviour[users].copy(),
            "history_dwell_s": self.dwell[users].copy(),
            "query_word_ids": self.query[users].copy(),
            "page_index": np.minimum(pages, self.space["page_index"].n - 1).astype(np.int64),
        }

    @staticmethod
    def row(batch: dict[str, np.ndarray], i: int) -> dict[str, Any]:
        """Row ``i`` of a batched observation as a single observation."""
        return {
            "history_item_ids": batch["history_item_ids"][i].copy(),
            "history_behaviour": batch["history_behaviour"][i].copy(),
            "history_dwell_s": batch["history_dwell_s"][i].copy(),
            "query_word_ids": batch["query_word_ids"][i].copy(),
            "page_index": np.int64(batch["page_index"][i]),
        }


@dataclass
class StepSummary:
    """What each user of a step did, aligned with the ``users`` it was built for.

    Attributes:
        click_item: Shape ``(n,)`` int64 clicked feed item, -1 when none.
        click_position: Shape ``(n,)`` int64 its slate position, -1 when none.
        click_dwell_s: Shape ``(n,)`` float64 its dwell, 0 when none.
        n_queries: Shape ``(n,)`` int64 queries issued in the step.
        search_clicks: Shape ``(n,)`` int64 search results clicked in the step.
        searches: ``n`` lists of dicts, one per query in order: ``query`` (text),
            ``suggested`` (a clicked suggestion), ``clicked_item`` / ``position`` (-1
            when none), ``dwell_s`` (0 when none), ``abandoned``.
        session_ended: Shape ``(n,)`` bool, a SESSION_END was logged.
    """

    click_item: np.ndarray
    click_position: np.ndarray
    click_dwell_s: np.ndarray
    n_queries: np.ndarray
    search_clicks: np.ndarray
    searches: list[list[dict[str, Any]]]
    session_ended: np.ndarray


def summarise_step(cols: StepColumns, users: np.ndarray) -> StepSummary:
    """Summarise a step's events per user.

    Args:
        cols: The step's events.
        users: Shape ``(n,)`` distinct users to summarise (others' events ignored).

    Returns:
        The summary, row ``i`` for ``users[i]``.
    """
    n = users.shape[0]
    out = StepSummary(
        click_item=np.full(n, -1, dtype=np.int64),
        click_position=np.full(n, -1, dtype=np.int64),
        click_dwell_s=np.zeros(n, dtype=np.float64),
        n_queries=np.zeros(n, dtype=np.int64),
        search_clicks=np.zeros(n, dtype=np.int64),
        searches=[[] for _ in range(n)],
        session_ended=np.zeros(n, dtype=bool),
    )
    if cols.user.shape[0] == 0 or n == 0:
        return out
    order = np.argsort(users, kind="stable")
    pos = np.clip(np.searchsorted(users[order], cols.user), 0, n - 1)
    row = order[pos]
    mine = users[row] == cols.user
    ev = cols.event

    def rows_of(code: EventType) -> tuple[np.ndarray, np.ndarray]:
        r = np.flatnonzero(mine & (ev == int(code)))
        return r, row[r]

    r, i = rows_of(EventType.CLICK)
    out.click_item[i] = cols.item[r]
    out.click_position[i] = cols.position[r]
    out.click_dwell_s[i] = cols.dwell_s[r]
    r, i = rows_of(EventType.SESSION_END)
    out.session_ended[i] = True
    r, i = rows_of(EventType.SEARCH_CLICK)
    np.add.at(out.search_clicks, i, 1)
    r_q, i_q = rows_of(EventType.QUERY)
    np.add.at(out.n_queries, i_q, 1)
    if r_q.size == 0:
        return out
    by_qid: dict[int, dict[str, Any]] = {}
    for r, i in zip(r_q.tolist(), i_q.tolist(), strict=True):
        entry = {"query": cols.query[r] or "", "suggested": False, "clicked_item": -1,
                 "position": -1, "dwell_s": 0.0, "abandoned": False}  # fmt: skip
        by_qid[int(cols.query_id[r])] = entry
        out.searches[i].append(entry)
    for r in np.flatnonzero(mine & np.isin(ev, _QUERY_OUTCOMES)).tolist():
        entry = by_qid.get(int(cols.query_id[r]))
        if entry is None:
            continue
        code = int(ev[r])
        if code == int(EventType.SUGGESTION_CLICK):
            entry["suggested"] = True
        elif code == int(EventType.SEARCH_CLICK):
            entry["clicked_item"] = int(cols.item[r])
            entry["position"] = int(cols.position[r])
            entry["dwell_s"] = float(cols.dwell_s[r])
        else:
            entry["abandoned"] = True
    return out
