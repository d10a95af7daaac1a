"""Named random streams derived from one root seed.

Every component draws from its own ``numpy.random.Generator``, keyed by a stable
name (never Python's ``hash()``), so adding a component or a user never shifts the
numbers another component sees, and two policies run under one seed see the same
exogenous randomness (common random numbers).
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["RngStreams", "stable_key"]


def stable_key(name: str) -> tuple[int, ...]:
    """Map a stream name to a tuple of 32-bit words, stable across processes and runs.

    Args:
        name: Any string, e.g. ``"catalog"`` or ``"user/17/browse"``.

    Returns:
        Four unsigned 32-bit integers taken from the SHA-256 digest of ``name``.
    """
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


class RngStreams:
    """A factory of independent generators, one per stable name, from one root seed.

    Example:
        >>> streams = RngStreams(7)
        >>> a = streams.get("catalog").integers(0, 100, 3)
        >>> b = RngStreams(7).get("catalog").integers(0, 100, 3)
        >>> bool((a == b).all())
        True
    """

    def __init__(self, root_seed: int) -> None:
        """Create the factory.

        Args:
            root_seed: Non-negative integer seed of the whole run.

        Raises:
            ValueError: If ``root_seed`` is negative.
        """
        if int(root_seed) < 0:
            raise ValueError(f"root_seed must be >= 0, got {root_seed}")
        self.root_seed = int(root_seed)

    def seed_sequence(self, name: str) -> np.random.SeedSequence:
        """Return the ``SeedSequence`` of stream ``name`` (fresh each call)."""
        return np.random.SeedSequence(entropy=[self.root_seed, *stable_key(name)])

    def get(self, name: str) -> np.random.Generator:
        """Return a new generator for stream ``name``; equal names give equal streams."""
        return np.random.Generator(np.random.PCG64(self.seed_sequence(name)))
