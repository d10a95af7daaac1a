"""Mansoury et al. (2020): feedback loops amplify popularity bias over iterations.

Statement: under ``popularity`` and ``mf``, each retrained on all the data accumulated
so far, the average popularity of recommended items (``rec_popularity_rel``: past
clicks of the impressed items relative to the catalogue mean) and the concentration of
the accumulated exposure (``impression_gini_cumulative``: Gini of impressions counted
from the first episode) rise over episodes faster than under ``random`` recommendations.

The ``random`` control is needed because a Gini of accumulated counts falls as counts
grow even under uniform exposure (sampling noise shrinks); amplification is a rise
relative to that baseline. Absolute slopes, the per-episode ``impression_gini`` and
the Gini of accumulated clicks are reported as diagnostics.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from experiments.validation.common import (
    FIGURES_DIR,
    WARMUP,
    Arm,
    StudyResult,
    base_world,
    one_sample_greater,
    run_arms,
    slope_greater,
    slope_per_episode,
)
from experiments.validation.figures import plot_metrics

NAME = "mansoury"
EPISODES = 12
TESTED = ("rec_popularity_rel", "impression_gini_cumulative")
EXTRA = ("click_gini_cumulative", "impression_gini")
METRICS = TESTED + EXTRA
CONTROL = "random"
LEARNERS = ("popularity", "mf")


def arms(episodes: int) -> tuple[Arm, ...]:
    """The arms; the learners are retrained on all the data accumulated so far."""
    return (
        Arm("popularity", "popularity", {"window_episodes": episodes}),
        Arm("mf", "mf", {"decay": 1.0}),
        Arm(CONTROL, "random"),
    )


def run(seeds: Sequence[int], out_dir: Path, episodes: int = EPISODES) -> StudyResult:
    """Run the study and test its statement over ``seeds``."""
    start = time.perf_counter()
    table = run_arms(
        NAME, arms(episodes), seeds, episodes, base_world(), METRICS, out_dir / "runs",
        warmup=WARMUP,
    )  # fmt: skip
    first = WARMUP["episodes"]
    slopes = {m: slope_per_episode(table, m, first_episode=first) for m in METRICS}
    tests = [slope_greater(slopes[m], arm, CONTROL, m) for m in TESTED for arm in LEARNERS]
    diagnostics = [slope_greater(slopes[m], arm, CONTROL, m) for m in EXTRA for arm in LEARNERS]
    diagnostics += [
        one_sample_greater(slopes[m][arm].to_numpy(), f"slope of {m} > 0 under {arm}")
        for m in METRICS
        for arm in (*LEARNERS, CONTROL)
    ]
    figure = plot_metrics(
        table,
        list(METRICS),
        "Mansoury et al. 2020: popularity bias",
        FIGURES_DIR / f"validation-{NAME}.png",
    )
    return StudyResult(
        study=NAME,
        statement=(
            "Popularity bias is amplified over iterations of the feedback loop: under "
            "popularity and mf, retrained on the accumulated data, the average past "
            "popularity of recommended items and the Gini of accumulated impressions "
            "rise over episodes faster than under random recommendations."
        ),
        setup=(
            f"{len(seeds)} seeds x 3 arms (popularity over all past clicks; mf without "
            "decay of past clicks; random), each after one shared start-up episode of "
            f"random recommendations; {episodes} one-day episodes, 200 users, 400 items, "
            "10 topics, idiosyncratic tastes (sd 1), one-time consumption, endogenous drift "
            "5%/click. Tested quantity: per-run OLS slope of the metric over episodes "
            f"{first}..{episodes - 1} (units per episode), paired by seed with the random "
            "arm's slope; one-sided t-test of the mean difference > 0."
        ),
        tests=tests,
        diagnostics=diagnostics,
        figure=f"figures/{figure.name}",
        summary={
            "mean_slopes": {m: frame.mean().to_dict() for m, frame in slopes.items()},
            "runtime_s": time.perf_counter() - start,
        },
    )
