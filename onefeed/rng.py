"""Named, deterministic random streams (no global RNG anywhere)."""

from __future__ import annotations

import hashlib

import numpy as np


def named_rng(seed: int, name: str) -> np.random.Generator:
    """A generator keyed by a root seed and a stable stream name.

    Args:
        seed: Root seed of the run.
        name: Stable name of the component, e.g. ``"quantiser"`` or ``"train"``.

    Returns:
        An independent ``numpy.random.Generator``; the same ``(seed, name)`` always gives
        the same stream (the name is hashed with SHA-256, never Python's ``hash``).
    """
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    key = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *key]))
