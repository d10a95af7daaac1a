"""Chaney, Stewart & Engelhardt (2018): the feedback loop homogenises users.

Statement: a recommender retrained on its own feedback (``mf`` retrained after every
iteration) makes users' consumption more similar than the ``oracle`` (the ideal
recommender, serving true utilities), and more than the same recommender trained once,
on the start-up data, then frozen.

Setting: the ``chaney-v1`` scenario (``scenarios/chaney-v1.yaml``), their simulation's
set-up: 100 users with fixed preferences, 10 start-up iterations of random
recommendations, then 100 iterations of the recommender, new items every iteration,
about one consumption per user per iteration, no search, satiation or retention
response. Homogenisation is measured, as they measure it, on the users' cumulative
consumption histories: ``homogenisation_overlap_cumulative`` (the chance that a
consumption of one user and one of another are the same item, mean over user pairs;
its expectation does not depend on how much users consume) at the last iteration;
``homogenisation_jaccard_cumulative`` (their Jaccard index of consumed-item sets) is
reported beside it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from experiments.validation.common import (
    FIGURES_DIR,
    Arm,
    StudyResult,
    TestResult,
    bundled_scenario,
    paired_greater,
    per_seed,
    run_arms,
)
from experiments.validation.figures import plot_metrics

NAME = "chaney"
SCENARIO = "chaney-v1"
METRIC = "homogenisation_overlap_cumulative"
JACCARD = "homogenisation_jaccard_cumulative"
METRICS = (METRIC, JACCARD, "homogenisation_overlap", "clicks_per_session")
RETRAINED, ONCE, ORACLE = "mf-retrained", "mf-trained-once", "oracle"
#: World variants of the sensitivity analysis that can matter here (no drift, no search).
SENSITIVITY = ("affinity-cosine", "appeal-normal", "conformity-0.5", "v1")


def arms(startup: int) -> tuple[Arm, ...]:
    """The arms; the frozen mf is fitted on the ``startup`` episodes' logs.

    As in Chaney et al., the recommender is trained on all the interactions so far
    (``decay: 1.0``: no down-weighting of old clicks; mf's default is 0.9 per episode).
    """
    return (
        Arm(RETRAINED, "mf", {"decay": 1.0}),
        Arm(ONCE, "mf", {"decay": 1.0, "retrain": False, "fit_episodes": startup}),
        Arm(ORACLE, "oracle"),
    )


def run(
    seeds: Sequence[int], out_dir: Path, episodes: int | None = None, variant: str = "v2"
) -> StudyResult:
    """Run the study and test its statement over ``seeds``.

    Args:
        seeds: Root seeds (each shared by every arm).
        out_dir: Where the runs go (``<arm>-seed<N>/`` under ``runs/``).
        episodes: Override of the scenario's 110 episodes (start-up included).
        variant: World variant (:data:`~experiments.validation.common.VARIANTS`).
    """
    start = time.perf_counter()
    base = bundled_scenario(SCENARIO)
    episodes = episodes or base["episodes"]
    startup = base["warmup"]["episodes"]
    table = run_arms(base, arms(startup), seeds, METRICS, out_dir / "runs", variant, episodes)
    last = [episodes - 1]
    final = {m: per_seed(table, m, last) for m in METRICS}
    measured = range(startup, episodes)
    means = {m: per_seed(table, m, measured) for m in METRICS}

    def compare(frame: Any, metric: str, other: str, when: str) -> TestResult:
        return paired_greater(
            frame[RETRAINED], frame[other], f"{metric}{when}: mf retrained > {other}"
        )

    at_end = f" at iteration {episodes - 1}"
    figure = None
    if variant == "v2":
        figure = plot_metrics(
            table, list(METRICS), "Chaney et al. 2018: homogenisation (chaney-v1)",
            FIGURES_DIR / f"validation-{NAME}.png",
        )  # fmt: skip
    return StudyResult(
        study=NAME,
        statement=(
            "Recommenders retrained on their own feedback homogenise users' consumption "
            "(overlap of the cumulative consumption histories) more than the ideal "
            "recommender (oracle), and more than the same recommender trained once."
        ),
        setup=(
            f"{len(seeds)} seeds x 3 arms (mf retrained after every iteration; mf fitted on "
            f"the {startup} start-up iterations then frozen; oracle) in the chaney-v1 "
            f"scenario ({variant} world): 100 users with fixed preferences, {startup} "
            f"start-up iterations of random recommendations then {episodes - startup} of "
            "the arm, 200 items + 10 new per iteration, ~1 consumption per user per "
            "iteration, no search, satiation or retention response. Tested quantity: "
            f"per-seed paired difference of {METRIC} at the last iteration ({episodes - 1})."
        ),
        tests=[
            compare(final[METRIC], METRIC, ORACLE, at_end),
            compare(final[METRIC], METRIC, ONCE, at_end),
        ],
        diagnostics=[
            compare(final[JACCARD], JACCARD, ORACLE, at_end),
            compare(final[JACCARD], JACCARD, ONCE, at_end),
            compare(means[METRIC], METRIC, ORACLE, " (mean over measured iterations)"),
            compare(means[METRIC], METRIC, ONCE, " (mean over measured iterations)"),
        ],
        figure=None if figure is None else f"figures/{figure.name}",
        summary={
            "variant": variant,
            "final": {m: frame.mean().to_dict() for m, frame in final.items()},
            "means": {m: frame.mean().to_dict() for m, frame in means.items()},
            "runtime_s": time.perf_counter() - start,
        },
    )
