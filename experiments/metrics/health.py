"""Generative-model health: semantic-ID codebooks, generated queries, label shift.

Pure functions a generative policy calls on its own state after ``update``; it reports
the values through the optional side channel ``health_metrics() -> dict[str, float]``,
which the run loop records into ``metrics.parquet`` as ``health_<name>`` rows of the
episode whose log the update consumed (:func:`collect_health`). Nothing here is
registered as an episode metric: the values describe the model, not the log.

:data:`HEALTH_DEFINITIONS` is the one place that says what each recorded
``health_<name>`` value is (one line, unit, direction); ``onefeed list``, the plots and
the health table of ``docs/metrics.md`` (:func:`health_markdown_table`) read it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from experiments.metrics.common import js_divergence_bits
from experiments.metrics.registry import HEALTH_PREFIX
from policies.onefeed_ranker import FEATURES
from policies.onefeed_search import SEARCH_FEATURES

__all__ = [
    "HEALTH_DEFINITIONS",
    "HEALTH_PREFIX",
    "HealthDefinition",
    "codebook_collapse",
    "codebook_entropy",
    "codebook_usage",
    "collect_health",
    "collision_rate",
    "distinct_n",
    "health_definition",
    "health_markdown_table",
    "health_metric_names",
    "label_shift",
]


@dataclass(frozen=True)
class HealthDefinition:
    """What one recorded health value is.

    Attributes:
        name: The recorded name; ``<k>`` stands for a semantic-ID level
            (``health_sid_entropy_l<k>_bits`` covers ``health_sid_entropy_l0_bits``, ...)
            and ``<f>`` for one of ``values`` (``health_ranker_w_<f>`` covers
            ``health_ranker_w_profile``, ...).
        definition: One line; ``<k>`` / ``<f>`` are replaced by the level / value.
        unit: As in ``docs/metrics.md`` (``"bits"``, ``"[0, 1]"``, ``"ratio"``, ...).
        direction: ``↑`` higher is better, ``↓`` lower is better, ``↔`` descriptive.
        values: What ``<f>`` stands for (empty without ``<f>``).
    """

    name: str
    definition: str
    unit: str
    direction: str
    values: tuple[str, ...] = ()

    def pattern(self) -> re.Pattern[str]:
        """A regular expression matching the recorded names (``<k>`` → digits)."""
        alternatives = "|".join(re.escape(v) for v in self.values)
        return re.compile(
            re.escape(self.name)
            .replace("<k>", r"(?P<k>\d+)")
            .replace("<f>", f"(?P<f>{alternatives})")
        )


#: The feed ranker's features, the search page's features and the candidate sources of
#: the OneFeed policy (``policies.onefeed_ranker.FEATURES``,
#: ``policies.onefeed_search.SEARCH_FEATURES``, the policy's ``sources``).
FEED_RANKER_FEATURES = FEATURES
SEARCH_RANKER_FEATURES = SEARCH_FEATURES
LIST_SOURCES = ("sid_beam", "query_expansion", "content", "popular")

#: Every health value a policy reports, keyed by recorded name (what ``onefeed`` and its
#: ablations report: :class:`policies.onefeed_health.HealthTracker`). SID levels count
#: from 0; the last level of a OneFeed SID is the collision code that tells items with
#: the same quantised codes apart.
HEALTH_DEFINITIONS: dict[str, HealthDefinition] = {
    d.name: d
    for d in (
        HealthDefinition(
            "health_sid_entropy_l<k>_bits",
            "Entropy of the items' level-<k> semantic-ID codes, −Σ_c p_c log2 p_c, as of "
            "the last fit or rebuild",
            "bits",
            "↑",
        ),
        HealthDefinition(
            "health_sid_collapse_l<k>",
            "Codebook collapse at SID level <k>: 1 − entropy / log2(codebook size); 0 codes "
            "used evenly, 1 one code",
            "[0, 1]",
            "↓",
        ),
        HealthDefinition(
            "health_sid_collision_rate",
            "Items whose quantised SID (before the collision code) another item shares / "
            "items, as of the last fit or rebuild",
            "ratio",
            "↓",
        ),
        HealthDefinition(
            "health_sid_stability_ari",
            "Adjusted Rand index of the items' first-level SID partitions before and after "
            "a rebuild (1 same, ≈0 unrelated); only when SIDs are rebuilt",
            "[−½, 1]",
            "↑",
        ),
        HealthDefinition(
            "health_label_shift_js_bits",
            "JS divergence of the first-level SID distribution of the positive "
            "self-enhancement labels, this round vs the previous one",
            "bits, [0, 1]",
            "↔",
        ),
        HealthDefinition(
            "health_align_click_mrr",
            "Mean reciprocal rank of each search-clicked item among its query's results "
            "sorted by aligned query–SID cosine, on the episode before training on it",
            "(0, 1]",
            "↑",
        ),
        HealthDefinition(
            "health_align_click_mrr_chance",
            "Expectation of health_align_click_mrr under a random order of the results "
            "(what a model without alignment gets)",
            "(0, 1]",
            "↔",
        ),
        HealthDefinition(
            "health_query_distinct_1",
            "Distinct words / words over the queries generated for the next episode",
            "ratio",
            "↑",
        ),
        HealthDefinition(
            "health_query_distinct_2",
            "Distinct word pairs (bigrams) / bigrams over the queries generated for the "
            "next episode",
            "ratio",
            "↑",
        ),
        HealthDefinition(
            "health_ranker_w_<f>",
            "Weight of the feed ranker's feature <f> after this episode's refit (logistic "
            "click-vs-skip model over the examined feed items; features z-scored)",
            "logit per unit",
            "↔",
            FEED_RANKER_FEATURES,
        ),
        HealthDefinition(
            "health_ranker_intercept",
            "Intercept of the feed ranker's logistic click model",
            "logit",
            "↔",
        ),
        HealthDefinition("health_ranker_fits", "Refits of the feed ranker so far", "fits", "↔"),
        HealthDefinition(
            "health_search_w_<f>",
            "Weight of the search page's feature <f> after this episode's refit (cascade "
            "click model fitted by EM on the logged search results)",
            "logit per unit",
            "↔",
            SEARCH_RANKER_FEATURES,
        ),
        HealthDefinition(
            "health_search_intercept",
            "Intercept of the search page's cascade click model",
            "logit",
            "↔",
        ),
        HealthDefinition(
            "health_search_fits", "Refits of the search page's click model so far", "fits", "↔"
        ),
        HealthDefinition(
            "health_list_share_<f>",
            "Share of the items of the lists prepared for the next episode that come from "
            "candidate source <f>",
            "ratio",
            "↔",
            LIST_SOURCES,
        ),
        HealthDefinition(
            "health_sid_beam_also_content",
            "Share of the prepared SID-beam items that were also among the user's content "
            "(title-profile) candidates: how much of what the beam generated the scaffolding "
            "would have found",
            "ratio",
            "↔",
        ),
    )
}


def health_definition(name: str) -> HealthDefinition | None:
    """The definition of recorded health value ``name``, levels filled in; ``None`` if unknown.

    Example: ``health_definition("health_sid_collapse_l2").definition`` starts with
    ``"Codebook collapse at SID level 2"``.
    """
    for entry in HEALTH_DEFINITIONS.values():
        match = entry.pattern().fullmatch(name)
        if match is not None:
            groups = match.groupdict()
            if not groups:
                return entry
            definition = entry.definition
            for key, value in groups.items():
                definition = definition.replace(f"<{key}>", value)
            return HealthDefinition(name, definition, entry.unit, entry.direction)
    return None


def health_metric_names(sid_levels: int) -> list[str]:
    """Every health name of :data:`HEALTH_DEFINITIONS`, per-level ones for ``sid_levels`` levels.

    Args:
        sid_levels: Semantic-ID levels (collision code included).

    Returns:
        Sorted recorded names.
    """
    names = []
    for key, entry in HEALTH_DEFINITIONS.items():
        levels = range(sid_levels) if "<k>" in key else [None]
        names += [key if k is None else key.replace("<k>", str(k)) for k in levels]
        if "<f>" in key:
            names.remove(key)
            names += [key.replace("<f>", v) for v in entry.values]
    return sorted(names)


def health_markdown_table() -> str:
    """The health table of ``docs/metrics.md``: name, definition, unit, direction.

    ``<k>`` / ``<f>`` in a definition are shown as an italic *k* / *f* (Markdown would
    read them as HTML tags); the values ``<f>`` stands for are listed after it.
    """
    rows = ["| value | definition | unit | dir |", "|---|---|---|---|"]
    for d in HEALTH_DEFINITIONS.values():
        text = d.definition.replace("<k>", "*k*").replace("<f>", "*f*")
        if d.values:
            text += " (*f*: " + ", ".join(f"`{v}`" for v in d.values) + ")"
        rows.append(f"| `{d.name}` | {text} | {d.unit} | {d.direction} |")
    return "\n".join(rows)


def _level_counts(codes: np.ndarray, codebook_size: int) -> np.ndarray:
    codes = np.asarray(codes, np.int64)
    if codes.ndim == 1:
        codes = codes[:, None]
    if codes.size and (codes.min() < 0 or codes.max() >= codebook_size):
        raise ValueError(f"codes must lie in [0, {codebook_size})")
    return np.stack(
        [np.bincount(codes[:, level], minlength=codebook_size) for level in range(codes.shape[1])]
    )


def codebook_entropy(codes: np.ndarray, codebook_size: int) -> np.ndarray:
    """Entropy (bits) of code usage at each level of a semantic-ID codebook.

    ``H_l = −Σ_c p_{l,c} log2 p_{l,c}`` with ``p_{l,c}`` the share of items whose
    level-``l`` code is ``c``; at most ``log2(codebook_size)`` (uniform use).

    Args:
        codes: Shape ``(n_items, n_levels)`` (or ``(n_items,)``) integer codes.
        codebook_size: Codes per level.

    Returns:
        Shape ``(n_levels,)`` entropies in bits (``NaN`` with no items).
    """
    counts = _level_counts(codes, codebook_size).astype(np.float64)
    total = counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = counts / total
        terms = np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return np.where(total[:, 0] > 0, terms.sum(axis=1), np.nan)


def codebook_collapse(codes: np.ndarray, codebook_size: int) -> np.ndarray:
    """Collapse per level: ``1 − H_l / log2(codebook_size)`` (0 uniform use, 1 one code)."""
    if codebook_size < 2:
        raise ValueError("codebook_size must be at least 2")
    return 1.0 - codebook_entropy(codes, codebook_size) / math.log2(codebook_size)


def codebook_usage(codes: np.ndarray, codebook_size: int) -> np.ndarray:
    """Share of each level's codes used by at least one item, shape ``(n_levels,)``."""
    return (_level_counts(codes, codebook_size) > 0).sum(axis=1) / float(codebook_size)


def collision_rate(codes: np.ndarray) -> float:
    """Share of items whose full code tuple another item also has.

    Example: tuples ``(1, 2), (1, 2), (3, 4)`` → two of three items collide: ``2 / 3``.
    """
    codes = np.asarray(codes, np.int64)
    if codes.shape[0] == 0:
        return float("nan")
    _, inverse, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    return float((counts[np.ravel(inverse)] > 1).mean())


def _ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def distinct_n(queries: Iterable[str], n: int) -> float:
    """Distinct-n of generated queries: distinct n-grams / n-grams over all queries.

    Words are split on white space, lower-cased. Example: ``["red shoes", "red hat"]``
    has unigrams ``red, shoes, red, hat``: distinct-1 = 3 / 4; bigrams ``(red shoes),
    (red hat)``: distinct-2 = 2 / 2 = 1.

    Args:
        queries: Query texts.
        n: N-gram length (``n ≥ 1``).

    Returns:
        The ratio in (0, 1]; ``NaN`` if there is no n-gram.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    grams = [g for q in queries for g in _ngrams(str(q).lower().split(), n)]
    return len(set(grams)) / len(grams) if grams else float("nan")


def label_shift(
    prev_counts: Mapping[Any, float] | np.ndarray, counts: Mapping[Any, float] | np.ndarray
) -> float:
    """Jensen–Shannon divergence (bits) between two rounds' training-label distributions.

    Args:
        prev_counts: Label counts of the previous retraining round: an array indexed by
            label (shorter arrays are zero-padded) or a ``{label: count}`` mapping.
        counts: Label counts of this round, same form.

    Returns:
        JS divergence in [0, 1] bits; ``NaN`` if either round has no labels.
    """
    if isinstance(prev_counts, Mapping) or isinstance(counts, Mapping):
        a = Counter(dict(prev_counts)) if isinstance(prev_counts, Mapping) else Counter()
        b = Counter(dict(counts)) if isinstance(counts, Mapping) else Counter()
        labels = sorted(set(a) | set(b), key=repr)
        p = np.array([a.get(k, 0.0) for k in labels], np.float64)
        q = np.array([b.get(k, 0.0) for k in labels], np.float64)
    else:
        p = np.asarray(prev_counts, np.float64).ravel()
        q = np.asarray(counts, np.float64).ravel()
        size = max(p.shape[0], q.shape[0])
        p, q = np.pad(p, (0, size - p.shape[0])), np.pad(q, (0, size - q.shape[0]))
    if p.sum() <= 0 or q.sum() <= 0:
        return float("nan")
    return float(js_divergence_bits(p / p.sum(), q / q.sum()))


def collect_health(policy: Any) -> dict[str, float]:
    """The policy's optional ``health_metrics()`` values, named ``health_<name>``.

    Returns an empty dict when the policy has no such method or it returns nothing.
    """
    report = getattr(policy, "health_metrics", None)
    if not callable(report):
        return {}
    values = report() or {}
    return {f"{HEALTH_PREFIX}{name}": float(value) for name, value in values.items()}
