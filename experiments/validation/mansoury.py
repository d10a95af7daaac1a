"""Mansoury et al. (2020): feedback loops amplify popularity bias over iterations.

Statement: under ``popularity`` and ``mf``, the average popularity of recommended items
(``rec_popularity_rel``) and the concentration of impressions (``impression_gini``)
rise over episodes: their per-run OLS slope over episodes ≥ 1 is positive across seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from experiments.validation.common import (
    FIGURES_DIR,
    Arm,
    StudyResult,
    base_world,
    one_sample_greater,
    run_arms,
    slope_per_episode,
)
from experiments.validation.figures import plot_metrics

NAME = "mansoury"
EPISODES = 12
METRICS = ("rec_popularity_rel", "impression_gini")
ARMS = (Arm("popularity", "popularity"), Arm("mf", "mf"))


def run(seeds: Sequence[int], out_dir: Path, episodes: int = EPISODES) -> StudyResult:
    """Run the study and test its statement over ``seeds``."""
    table = run_arms(NAME, ARMS, seeds, episodes, base_world(), METRICS, out_dir / "runs")
    tests = []
    slopes = {}
    for metric in METRICS:
        per_run = slope_per_episode(table, metric, first_episode=1)
        for arm in ARMS:
            slopes[f"{metric}/{arm.label}"] = float(per_run[arm.label].mean())
            tests.append(
                one_sample_greater(
                    per_run[arm.label].to_numpy(),
                    f"slope of {metric} over episodes > 0 under {arm.label}",
                )
            )
    figure = plot_metrics(
        table,
        list(METRICS),
        "Mansoury et al. 2020: popularity bias",
        FIGURES_DIR / f"validation-{NAME}.png",
    )
    return StudyResult(
        study=NAME,
        statement=(
            "Popularity bias is amplified over iterations of the feedback loop: the "
            "average past popularity of recommended items and the Gini of impressions "
            "rise over episodes under popularity and mf."
        ),
        setup=(
            f"{len(seeds)} seeds x 2 arms (popularity, mf), {episodes} one-day episodes, "
            "200 users, 400 items, 10 topics, endogenous drift 5%/click. Tested quantity: "
            "per-run OLS slope of the metric over episodes 1.."
            f"{episodes - 1} (units per episode), one-sided t-test of mean slope > 0."
        ),
        tests=tests,
        figure=f"figures/{figure.name}",
        summary={"mean_slopes": slopes},
    )
