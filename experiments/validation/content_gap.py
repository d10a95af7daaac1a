"""The content gap: how much of the oracle's CTR a pure title-content ranker reaches.

DESIGN §10: observables are informative about the latent state but never a readout of
it, and the gap between a pure content ranker and the oracle is a reported number. This
module measures it in one bundled scenario (default ``quickstart``) under world model v1
and v2 (the :data:`~experiments.validation.common.VARIANTS` ``"v1"`` and ``"v2"`` of the
same scenario file), with the arms

* ``content`` — the TF-IDF title-profile ranker (the textbook content recommender),
* ``content-word-groups`` — the same ranker in the word-group title space that the
  OneFeed policy's ranking stage reads,
* ``random`` — the floor, and ``oracle`` — the ceiling (true utilities),

all with the same seeds (common random numbers within a world version). Per seed, a
run's CTR is its mean per-episode ``ctr`` over the measured episodes, and

* ``share`` = CTR(content) / CTR(oracle),
* ``lift share`` = (CTR(content) − CTR(random)) / (CTR(oracle) − CTR(random)): the part
  of the oracle's lift over random that content alone recovers.

Both are reported as means with 95% t-intervals over seeds, and v2 − v1 as a per-seed
paired difference (a v1 catalogue's draws are the first draws of the v2 catalogue of the
same seed). Command line::

    python -m experiments.validation content-gap --seeds 0-4 --out DIR
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.atomic import atomic_write_text
from experiments.reporting.stats import Interval, paired_difference, t_interval
from experiments.validation.common import Arm, bundled_scenario, run_arms

__all__ = ["ARMS", "CONTENT_ARMS", "content_gap_markdown", "gap_table", "run_content_gap"]

NAME = "content_gap"
#: The content rankers measured, then the floor and the ceiling.
CONTENT_ARMS = ("content", "content-word-groups")
ARMS = tuple(Arm(name, name) for name in (*CONTENT_ARMS, "random", "oracle"))
VERSIONS = ("v1", "v2")


def run_content_gap(
    seeds: Sequence[int],
    out_dir: Path,
    scenario: str = "quickstart",
    log: Callable[..., None] = print,
) -> dict[str, Any]:
    """Run every arm in both world versions and write ``content_gap.{md,json}``.

    Args:
        seeds: Root seeds (each shared by every arm of a version).
        out_dir: Runs go to ``out_dir/content_gap/<version>/<arm>-seed<N>/``; the tables
            to ``out_dir/content_gap.{md,json}``.
        scenario: Bundled scenario name.
        log: Progress printer.

    Returns:
        The JSON data written (per-seed CTRs, the gap intervals, the runtime).
    """
    start = time.perf_counter()
    base = bundled_scenario(scenario)
    per_version = {}
    for version in VERSIONS:
        table = run_arms(
            base, ARMS, seeds, ["ctr"], Path(out_dir) / NAME / version, version, log=log
        )
        first = int(base.get("warmup", {}).get("episodes", 0))
        rows = table[table["episode"] >= first]
        per_version[version] = rows.pivot_table(
            index="seed", columns="arm", values="value", aggfunc="mean"
        )
    gaps = gap_table(per_version)
    data = {
        "scenario": base["id"],
        "seeds": [int(s) for s in seeds],
        "ctr_per_seed": {
            v: {arm: {int(s): float(x) for s, x in col.items()} for arm, col in frame.items()}
            for v, frame in per_version.items()
        },
        "gaps": [
            {k: asdict(v) if isinstance(v, Interval) else v for k, v in row.items()}
            for row in gaps.to_dict(orient="records")
        ],
        "runtime_s": time.perf_counter() - start,
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / f"{NAME}.json", json.dumps(data, indent=2) + "\n")
    atomic_write_text(
        out_dir / f"{NAME}.md", content_gap_markdown(per_version, gaps, base["id"], len(seeds))
    )
    return data


def _shares(ctr: pd.DataFrame, arm: str) -> tuple[pd.Series, pd.Series]:
    """Per-seed share of the oracle's CTR and of its lift over random."""
    share = ctr[arm] / ctr["oracle"]
    lift = (ctr[arm] - ctr["random"]) / (ctr["oracle"] - ctr["random"])
    return share, lift


def gap_table(per_version: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The content gap per (content arm, quantity, version) and v2 − v1.

    Args:
        per_version: ``{version: per-seed mean CTR}`` with seeds as rows and the arms of
            :data:`ARMS` as columns.

    Returns:
        One row per content arm and quantity (``share``, ``lift share``): columns
        ``arm, quantity`` and, per version and for ``v2 - v1``, an
        :class:`~experiments.reporting.stats.Interval` (mean, low, high, n).
    """
    rows = []
    for arm in CONTENT_ARMS:
        for i, quantity in enumerate(("share", "lift share")):
            values = {v: _shares(frame, arm)[i] for v, frame in per_version.items()}
            row: dict[str, Any] = {"arm": arm, "quantity": quantity}
            for version, series in values.items():
                row[version] = t_interval(series.to_numpy())
            if {"v1", "v2"} <= set(values):
                joined = pd.concat([values["v2"], values["v1"]], axis=1).dropna()
                row["v2 - v1"] = paired_difference(joined.iloc[:, 0], joined.iloc[:, 1])
            rows.append(row)
    return pd.DataFrame(rows)


def _fmt(interval: Interval) -> str:
    star = "*" if interval.excludes_zero else ""
    return f"{interval.mean:.3f} [{interval.low:.3f}, {interval.high:.3f}]{star}"


def content_gap_markdown(
    per_version: dict[str, pd.DataFrame], gaps: pd.DataFrame, scenario: str, n_seeds: int
) -> str:
    """CTR per arm and version, then the gap table (means with 95% t-intervals)."""
    versions = list(per_version)
    lines = [
        f"# Content gap in {scenario} ({n_seeds} seeds; world model {', '.join(versions)})",
        "",
        "Mean CTR over the measured episodes; mean over seeds [95% t-interval].",
        "",
        "| arm | " + " | ".join(versions) + " |",
        "|---|" + "---|" * len(versions),
    ]
    for arm in (a.label for a in ARMS):
        cells = [_fmt(t_interval(per_version[v][arm].to_numpy())) for v in versions]
        cells = [c.replace("*", "") for c in cells]
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    columns = [c for c in gaps.columns if c not in ("arm", "quantity")]
    lines += [
        "",
        "share = CTR(content) / CTR(oracle); lift share = (CTR(content) − CTR(random)) / "
        "(CTR(oracle) − CTR(random)); per seed, then mean [95% t-interval]; v2 − v1 paired "
        "by seed (* = interval excludes 0).",
        "",
        "| content ranker | quantity | " + " | ".join(columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for _, row in gaps.iterrows():
        cells = [_fmt(row[c]).replace("*", "") if c != "v2 - v1" else _fmt(row[c]) for c in columns]
        lines.append(f"| {row['arm']} | {row['quantity']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
