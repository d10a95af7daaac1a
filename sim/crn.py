"""Counter-based random numbers for per-user exogenous draws (common random numbers).

A user's ``k``-th session gap must be the same number under every policy, even though
policies change how many sessions users have and when. A counter-based generator makes
the draw a pure function of ``(stream key, user, counter)``: a SplitMix64 hash, computed
vectorised with numpy's wrapping ``uint64`` arithmetic. No state, no ordering effects.
The same hash gives fixed per-(user, item) normal draws (:func:`counter_normal`), e.g. a
user's idiosyncratic taste for an item, without storing a users × items matrix.
"""

from __future__ import annotations

import numpy as np

from sim.rng import stable_key

__all__ = ["counter_normal", "counter_uniform", "stream_key"]

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
