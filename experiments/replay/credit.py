"""What each part adds: paired per-user differences between rows, with t-intervals.

Two rows of one bench are scored on the same test users, so they are compared user by
user: for every seed both rows have, the user's expected NDCG@10 (or Recall@10) under
row A minus under row B; the per-user differences are averaged over those seeds (a
deterministic row has the same values for every seed), and the 95% interval is the
t-interval of the mean over users, ``mean ± t_{0.975, m-1} * sd / sqrt(m)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from experiments.replay.bench import ModelResult
from experiments.replay.metrics import expected_metric

__all__ = ["CREDIT_METRICS", "PairedDiff", "credit_table", "paired_difference"]

#: Metrics compared user by user.
CREDIT_METRICS = ("ndcg@10", "recall@10")


@dataclass(frozen=True)
class PairedDiff:
    """Row ``a`` minus row ``b`` on one metric, paired by user.

    Attributes:
        a: Row name.
        b: Row name.
        metric: Metric name.
        mean: Mean per-user difference.
        low: Lower end of the 95% t-interval.
        high: Upper end.
        n_users: Users compared.
        seeds: Seeds both rows have.
        per_seed: Mean difference of every seed.
    """

    a: str
    b: str
    metric: str
    mean: float
    low: float
    high: float
    n_users: int
    seeds: list[int]
    per_seed: list[float]

    @property
    def excludes_zero(self) -> bool:
        """The interval lies entirely above or below 0."""
        return self.low > 0 or self.high < 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready record."""
        return {
            "a": self.a,
            "b": self.b,
            "metric": self.metric,
            "mean": self.mean,
            "ci95": [self.low, self.high],
            "n_users": self.n_users,
            "seeds": self.seeds,
            "per_seed": self.per_seed,
        }


def paired_difference(a: ModelResult, b: ModelResult, metric: str = "ndcg@10") -> PairedDiff:
    """Row ``a`` minus row ``b``, paired per user over the seeds both rows ran.

    Raises:
        ValueError: The rows share no seed or were scored on different users.
    """
    seeds = [s for s in a.seeds if s in b.seeds]
    if not seeds or not a.outcomes or not b.outcomes:
        raise ValueError(f"{a.model} and {b.model} have no seed with outcomes in common")
    diffs = []
    for s in seeds:
        va = expected_metric(a.outcomes[a.seeds.index(s)], metric)
        vb = expected_metric(b.outcomes[b.seeds.index(s)], metric)
        if va.shape != vb.shape:
            raise ValueError(f"{a.model} and {b.model} were scored on different users")
        diffs.append(va - vb)
    per_user = np.mean(diffs, axis=0)
    m = len(per_user)
    mean = float(per_user.mean()) if m else 0.0
    if m > 1:
        half = float(stats.t.ppf(0.975, m - 1) * per_user.std(ddof=1) / np.sqrt(m))
    else:
        half = float("nan")
    return PairedDiff(
        a.model,
        b.model,
        metric,
        mean,
        mean - half,
        mean + half,
        m,
        seeds,
        [float(d.mean()) for d in diffs],
    )


def credit_table(results: Sequence[ModelResult], reference: str = "onefeed") -> list[PairedDiff]:
    """``reference`` minus every other row, for each metric of :data:`CREDIT_METRICS`.

    Returns:
        One difference per (other row, metric); empty when ``reference`` did not run.
    """
    by_name = {r.model: r for r in results}
    ref = by_name.get(reference)
    if ref is None or not ref.outcomes:
        return []
    out = []
    for r in results:
        if r.model == reference or not r.outcomes:
            continue
        for metric in CREDIT_METRICS:
            out.append(paired_difference(ref, r, metric))
    return out
