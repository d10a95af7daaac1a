"""Checks applied to every policy answer before a user sees it."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from sim.events import Provenance
from sim.types import FeedBatch, FeedResponse, SearchBatch

__all__ = [
    "PolicyContractError",
    "validate_feed",
    "validate_search",
    "validate_suggestions",
]

_N_ORIGINS = len(Provenance)


class PolicyContractError(RuntimeError):
    """A policy returned an answer that breaks the serving contract.

    Attributes:
        policy: Name of the policy.
        check: Name of the failed check (e.g. ``"duplicate item"``).
        row: Offending batch row, or ``None`` when the whole answer is malformed.
    """

    def __init__(self, policy: str, check: str, row: int | None, detail: str) -> None:
        where = "" if row is None else f" in row {row}"
        super().__init__(f"policy {policy!r} failed check {check!r}{where}: {detail}")
        self.policy = policy
        self.check = check
        self.row = row


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _user(batch_users: np.ndarray, row: int) -> str:
    return f"user {int(batch_users[row])}"


def validate_feed(
    policy: str,
    batch: FeedBatch,
    response: FeedResponse,
    available: np.ndarray,
    sources: Iterable[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a feed response.

    Args:
        policy: Policy name, for the error message.
        batch: The request batch.
        response: The policy's answer.
        available: Shape ``(n_items,)`` bool availability mask.
        sources: The provenance codes the policy declares it produces (its
            ``sources``); ``None`` accepts every code.

    Returns:
        ``(slates, origin)``: shape ``(n, S)`` int32 and int8 arrays.

    Raises:
        PolicyContractError: On a wrong type or shape, an unknown or unavailable
            item, a duplicate within a row, or a provenance code outside the policy's
            declared sources.
    """
    if not isinstance(response, FeedResponse):
        raise PolicyContractError(
            policy, "response type", None, f"expected FeedResponse, got {type(response).__name__}"
        )
    slates = np.asarray(response.slates)
    n, size = len(batch), batch.slate_size
    if slates.shape != (n, size):
        raise PolicyContractError(
            policy, "slate shape", None, f"expected shape {(n, size)}, got {slates.shape}"
        )
    if n == 0:
        return slates.astype(np.int32), np.zeros((0, size), dtype=np.int8)
    if slates.dtype.kind not in "iu":
        raise PolicyContractError(
            policy, "item id type", None, f"expected integer item ids, got dtype {slates.dtype}"
        )
    n_items = available.shape[0]
    unknown = (slates < 0) | (slates >= n_items)
    if unknown.any():
        row = _first_bad(unknown.any(axis=1))
        bad = slates[row][unknown[row]][0]
        raise PolicyContractError(
            policy,
            "unknown item",
            row,
            f"item id {int(bad)} is not in the catalogue of {n_items} items "
            f"({_user(batch.user_ids, row)})",
        )
    slates = slates.astype(np.int32)
    unavailable = ~available[slates]
    if unavailable.any():
        row = _first_bad(unavailable.any(axis=1))
        bad = slates[row][unavailable[row]][0]
        raise PolicyContractError(
            policy,
            "unavailable item",
            row,
            f"item {int(bad)} is not available ({_user(batch.user_ids, row)})",
        )
    ordered = np.sort(slates, axis=1)
    dup = (np.diff(ordered, axis=1) == 0) if size > 1 else np.zeros((n, 0), dtype=bool)
    if dup.any():
        row = _first_bad(dup.any(axis=1))
        bad = ordered[row, 1:][dup[row]][0]
        raise PolicyContractError(
            policy,
            "duplicate item",
            row,
            f"item {int(bad)} appears more than once ({_user(batch.user_ids, row)})",
        )
    if response.origin is None:
        origin = np.zeros((n, size), dtype=np.int8)
    else:
        origin = np.asarray(response.origin)
        if origin.shape != (n, size):
            raise PolicyContractError(
                policy, "origin shape", None, f"expected shape {(n, size)}, got {origin.shape}"
            )
        if ((origin < 0) | (origin >= _N_ORIGINS)).any():
            raise PolicyContractError(
                policy, "origin code", None, f"origin codes must be in 0..{_N_ORIGINS - 1}"
            )
        origin = origin.astype(np.int8)
        if sources is not None:
            declared = np.zeros(_N_ORIGINS, dtype=bool)
            declared[[int(c) for c in sources]] = True
            undeclared = ~declared[origin]
            if undeclared.any():
                row = _first_bad(undeclared.any(axis=1))
                code = int(origin[row][undeclared[row]][0])
                names = ", ".join(Provenance(int(c)).name.lower() for c in sources)
                raise PolicyContractError(
                    policy,
                    "declared provenance",
                    row,
                    f"origin {Provenance(code).name.lower()!r} is not among the sources the "
                    f"policy declares ({names})",
                )
    return slates, origin


def validate_search(policy: str, batch: SearchBatch, ranked: object) -> np.ndarray:
    """Validate a search re-ranking: a per-row permutation of ``batch.candidates``.

    Returns:
        Shape ``(n, k)`` int32 re-ranked ids (padding ``-1`` kept).

    Raises:
        PolicyContractError: On a wrong shape or a row that is not a permutation.
    """
    arr = np.asarray(ranked)
    cand = batch.candidates
    if arr.shape != cand.shape:
        raise PolicyContractError(
            policy, "ranking shape", None, f"expected shape {cand.shape}, got {arr.shape}"
        )
    if arr.size and arr.dtype.kind not in "iu":
        raise PolicyContractError(
            policy, "item id type", None, f"expected integer item ids, got dtype {arr.dtype}"
        )
    arr = arr.astype(np.int32)
    mismatch = (np.sort(arr, axis=1) != np.sort(cand, axis=1)).any(axis=1)
    if mismatch.any():
        row = _first_bad(mismatch)
        raise PolicyContractError(
            policy,
            "ranking is a permutation of the candidates",
            row,
            f"got {arr[row].tolist()} for candidates {cand[row].tolist()} "
            f"({_user(batch.user_ids, row)})",
        )
    return arr


def validate_suggestions(
    policy: str, n: int, n_suggestions: int, suggestions: object
) -> list[list[str]]:
    """Validate suggested queries: ``n`` lists of at most ``n_suggestions`` strings.

    Raises:
        PolicyContractError: On a wrong length, too many queries or a non-string.
    """
    if not isinstance(suggestions, list | tuple) or len(suggestions) != n:
        got = len(suggestions) if isinstance(suggestions, list | tuple) else type(suggestions)
        raise PolicyContractError(
            policy, "suggestion count", None, f"expected {n} lists, got {got}"
        )
    out = []
    for row, queries in enumerate(suggestions):
        if not isinstance(queries, list | tuple) or len(queries) > n_suggestions:
            raise PolicyContractError(
                policy,
                "suggestions per request",
                row,
                f"expected a list of at most {n_suggestions} strings, got {queries!r}",
            )
        for q in queries:
            if not isinstance(q, str):
                raise PolicyContractError(
                    policy, "suggestion type", row, f"expected str, got {type(q).__name__}"
                )
        out.append(list(queries))
    return out
