"""Counter-based random numbers for per-user exogenous draws (common random numbers).

A user's ``k``-th session gap must be the same number under every policy, even though
policies change how many sessions users have and when. A counter-based generator makes
the draw a pure function of ``(stream key, user, counter)``: a SplitMix64 hash, computed
vectorised with numpy's wrapping ``uint64`` arithmetic. No state, no ordering effects.
The same hash gives fixed per-(user, item) normal draws (:func:`counter_normal`), e.g. a
user's idiosyncratic taste for an item, without storing a users × items matrix.

Every behaviour draw of a user is counter-based too (:class:`UserDraws`): a pure function
of the run's seed, the draw's purpose, the user, the index of the user's request (each
served request, session opening, feed page or search, counts one) and a slot within the
request. So a user's behaviour does not depend on which other users share a batch, in
which order batches are served, or which process simulates the user: the basis of
batch-independent serving and of runs sharded by users. Per-request streams of policies
(:func:`hash_rows`, :func:`uniform_slots`) work the same way.
"""

from __future__ import annotations

import numpy as np

from sim.rng import stable_key

__all__ = [
    "BEHAVIOUR_DRAWS",
    "UserDraws",
    "counter_normal",
    "counter_uniform",
    "hash_rows",
    "stream_key",
    "uniform_slots",
]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


def stream_key(root_seed: int, name: str) -> np.uint64:
    """A 64-bit key for the counter stream ``name`` under ``root_seed``.

    Args:
        root_seed: The run's root seed.
        name: Stable stream name, e.g. ``"arrivals"``.

    Returns:
        A ``numpy.uint64`` key.
    """
    words = stable_key(f"{int(root_seed)}/{name}")
    return np.uint64((words[0] << 32) | words[1])


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> _S30)
    x = x * _M1
    x = x ^ (x >> _S27)
    x = x * _M2
    return x ^ (x >> _S31)


def counter_uniform(key: np.uint64, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Uniform draws in the open interval (0, 1), a pure function of ``(key, a, b)``.

    Args:
        key: Stream key from :func:`stream_key`.
        a: Integer array, e.g. user ids.
        b: Integer array broadcastable with ``a``, e.g. per-user counters.

    Returns:
        float64 array of the broadcast shape, each value in ``(0, 1)``.
    """
    a64 = np.asarray(a).astype(np.uint64)
    b64 = np.asarray(b).astype(np.uint64)
    with np.errstate(over="ignore"):
        x = _mix(key ^ (a64 * _GOLDEN))
        x = _mix(x + (b64 + np.uint64(1)) * _GOLDEN)
    return ((x >> _S11).astype(np.float64) + 0.5) / float(1 << 53)


def counter_normal(key: np.uint64, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Standard normal draws, a pure function of ``(key, a, b)`` (Box–Muller).

    ``z = sqrt(-2 ln U1) cos(2 pi U2)`` with ``U1 = counter_uniform(key, a, 2 b)`` and
    ``U2 = counter_uniform(key, a, 2 b + 1)``; both uniforms are in ``(0, 1)``, so ``z``
    is finite. Used for fixed per-(user, item) draws: ``a`` users, ``b`` items.

    Args:
        key: Stream key from :func:`stream_key`.
        a: Non-negative integer array, e.g. user ids.
        b: Non-negative integer array broadcastable with ``a``, e.g. item ids.

    Returns:
        float64 array of the broadcast shape.
    """
    b2 = 2 * np.asarray(b).astype(np.int64)
    u1 = counter_uniform(key, a, b2)
    u2 = counter_uniform(key, a, b2 + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def hash_rows(key: np.uint64 | np.ndarray, *columns: np.ndarray) -> np.ndarray:
    """One 64-bit key per row, a pure function of ``key`` and the row's column values.

    Example: ``hash_rows(k, users, sessions, pages)`` keys every feed request by its
    (user, session, page); :func:`uniform_slots` then draws that request's numbers.

    Args:
        key: A stream key (or an array of per-row keys).
        *columns: Integer arrays of one shape (the row values).

    Returns:
        uint64 array of the columns' shape.
    """
    x = np.asarray(key, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in columns:
            x = _mix(x ^ ((np.asarray(col).astype(np.uint64) + np.uint64(1)) * _GOLDEN))
    return x


def uniform_slots(row_keys: np.ndarray, width: int) -> np.ndarray:
    """Shape ``(n, width)`` uniforms in ``(0, 1)``: slot ``j`` of each row's key.

    Args:
        row_keys: Shape ``(n,)`` uint64 keys from :func:`hash_rows`.
        width: Draws per row.
    """
    slots = np.arange(width, dtype=np.int64)[None, :]
    return counter_uniform(np.asarray(row_keys, np.uint64)[:, None], 0, slots)


#: Purposes of users' behaviour draws; each has its own counter stream (see UserDraws).
BEHAVIOUR_DRAWS = (
    "browse/examine",
    "browse/choice",
    "browse/dwell",
    "session/intent",
    "session/continue",
    "session/reformulate",
    "intent/topic",
    "intent/known",
    "intent/item",
    "query/length",
    "query/topic_word",
    "query/title_order",
    "query/kind",
    "query/synonym",
    "query/generic",
    "query/wrong_topic",
    "query/wrong_word",
    "query/drop",
    "search/continue",
    "search/click",
    "search/dwell",
    "suggest/choice",
)


class UserDraws:
    """Users' behaviour draws, counter-based per (purpose, user, request, slot).

    Draw ``j`` of purpose ``p`` in request ``r`` of user ``u`` is
    ``counter_uniform(key_p, u, r * STRIDE + j)``, ``key_p`` the stream key of
    ``"<prefix>behaviour/<p>"`` under the run's seed. Widths are at most ``STRIDE``
    (slates, result lists and query lengths are bounded well below it).

    Args:
        seed: The run's root seed.
        prefix: Prefix of the stream names (environments use their own).
    """

    STRIDE = 1024

    def __init__(self, seed: int, prefix: str = "") -> None:
        self.keys = {p: stream_key(seed, f"{prefix}behaviour/{p}") for p in BEHAVIOUR_DRAWS}

    def uniform(
        self, purpose: str, users: np.ndarray, requests: np.ndarray, width: int | None = None
    ) -> np.ndarray:
        """Uniforms in ``(0, 1)``: shape ``(n,)``, or ``(n, width)`` when ``width`` is given.

        Args:
            purpose: One of :data:`BEHAVIOUR_DRAWS`.
            users: Shape ``(n,)`` user ids.
            requests: Shape ``(n,)`` each user's request index.
            width: Slots per row (``None``: one, squeezed).
        """
        if width is not None and width > self.STRIDE:
            raise ValueError(f"{purpose}: {width} draws per request, more than {self.STRIDE}")
        base = np.asarray(requests, dtype=np.int64) * self.STRIDE
        key = self.keys[purpose]
        if width is None:
            return counter_uniform(key, users, base)
        slots = base[:, None] + np.arange(width, dtype=np.int64)[None, :]
        return counter_uniform(key, np.asarray(users)[:, None], slots)

    def normal(self, purpose: str, users: np.ndarray, requests: np.ndarray) -> np.ndarray:
        """Shape ``(n,)`` standard normals (Box–Muller on slots 0 and 1 of the request)."""
        u = self.uniform(purpose, users, requests, 2)
        return np.sqrt(-2.0 * np.log(u[:, 0])) * np.cos(2.0 * np.pi * u[:, 1])
