"""Mansoury et al. (2020): feedback loops amplify popularity bias over iterations.

Statement: under ``popularity`` and matrix factorisation (``mf``, implicit ALS, and
``bpr``, Bayesian Personalised Ranking, the pairwise learner of their study), each
retrained on all the data accumulated so far, the average popularity of recommended
items (``rec_popularity_rel``: past clicks of the impressed items relative to the
catalogue mean) and the concentration of the accumulated exposure
(``impression_gini_cumulative``: Gini of impressions counted from the first episode)
rise over episodes faster than under ``random`` recommendations.

Setting: a catalogue of thousands of items with heavy-tailed appeal (world model v2's
log-normal quality; Mansoury et al. simulate on MovieLens, whose popularity is
heavy-tailed), 300 users, 20 iterations — their number — after one start-up episode.

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
    study_scenario,
)
from experiments.validation.figures import plot_metrics

NAME = "mansoury"
EPISODES = 21  # the start-up episode, then 20 iterations
TESTED = ("rec_popularity_rel", "impression_gini_cumulative")
EXTRA = ("click_gini_cumulative", "impression_gini")
METRICS = TESTED + EXTRA
CONTROL = "random"
LEARNERS = ("popularity", "mf", "bpr")
#: The study's world: the common validation world with 300 users and 3,000 items.
WORLD = {"catalog": {"n_items": 3000}, "users": {"n_users": 300}}
#: World variants of the sensitivity analysis that can matter here.
SENSITIVITY = ("affinity-cosine", "drift-convex", "appeal-normal", "conformity-0.5", "v1")


def arms(episodes: int) -> tuple[Arm, ...]:
    """The arms; the learners are retrained on all the data accumulated so far."""
    return (
        Arm("popularity", "popularity", {"window_episodes": episodes}),
        Arm("mf", "mf", {"decay": 1.0}),
        Arm("bpr", "bpr", {"decay": 1.0}),
        Arm(CONTROL, "random"),
    )


def run(
    seeds: Sequence[int], out_dir: Path, episodes: int = EPISODES, variant: str = "v2"
) -> StudyResult:
    """Run the study and test its statement over ``seeds`` (``variant``: the world variant)."""
    start = time.perf_counter()
    base = study_scenario(NAME, base_world(**WORLD), episodes)
    table = run_arms(base, arms(episodes), seeds, METRICS, out_dir / "runs", variant)
    first = WARMUP["episodes"]
    slopes = {m: slope_per_episode(table, m, first_episode=first) for m in METRICS}
    tests = [slope_greater(slopes[m], arm, CONTROL, m) for m in TESTED for arm in LEARNERS]
    diagnostics = [slope_greater(slopes[m], arm, CONTROL, m) for m in EXTRA for arm in LEARNERS]
    diagnostics += [
        one_sample_greater(slopes[m][arm].to_numpy(), f"slope of {m} > 0 under {arm}")
        for m in METRICS
        for arm in (*LEARNERS, CONTROL)
    ]
    figure = None
    if variant == "v2":
        figure = plot_metrics(
            table, list(METRICS), "Mansoury et al. 2020: popularity bias",
            FIGURES_DIR / f"validation-{NAME}.png",
        )  # fmt: skip
    return StudyResult(
        study=NAME,
        statement=(
            "Popularity bias is amplified over iterations of the feedback loop: under "
            "popularity and matrix factorisation (ALS mf, BPR), retrained on the "
            "accumulated data, the average past "
            "popularity of recommended items and the Gini of accumulated impressions "
            "rise over episodes faster than under random recommendations."
        ),
        setup=(
            f"{len(seeds)} seeds x 4 arms (popularity over all past clicks; mf and bpr "
            "without decay of past clicks; random), each after one shared start-up episode "
            f"of random recommendations; {episodes} one-day episodes, 300 users, 3,000 "
            f"items with heavy-tailed appeal ({variant} world), 10 topics, idiosyncratic "
            "tastes (sd 1), one-time consumption, endogenous drift 0.05/click. Tested "
            "quantity: per-run OLS slope of the metric over episodes "
            f"{first}..{episodes - 1} (units per episode), paired by seed with the random "
            "arm's slope; one-sided t-test of the mean difference > 0."
        ),
        tests=tests,
        diagnostics=diagnostics,
        figure=None if figure is None else f"figures/{figure.name}",
        summary={
            "variant": variant,
            "mean_slopes": {m: frame.mean().to_dict() for m, frame in slopes.items()},
            "runtime_s": time.perf_counter() - start,
        },
    )
