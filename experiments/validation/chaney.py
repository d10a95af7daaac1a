"""Chaney, Stewart & Engelhardt (2018): the feedback loop homogenises users.

Statement: a recommender retrained on its own feedback (``mf`` retrained after every
episode) makes users' consumption more similar than the ``oracle`` (which serves true
utilities, an ideal that learns nothing from the loop), and more than the same
recommender trained once, on the start-up data, then frozen.

Homogenisation is measured by ``homogenisation_overlap`` (the chance that a click of
one user and a click of another are the same item, mean over user pairs), whose
expectation does not depend on how much users click. ``homogenisation_jaccard`` (mean
pairwise Jaccard of the episode's consumed-item sets), whose value grows with the
sets' sizes, is reported beside it as a diagnostic: Chaney et al.'s users consume one
item per iteration under every recommender, so their sets have equal sizes, whereas
here the oracle's users click about twice as much as the others'.
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
    TestResult,
    base_world,
    paired_greater,
    per_seed,
    run_arms,
)
from experiments.validation.figures import plot_metrics

NAME = "chaney"
EPISODES = 12
METRIC = "homogenisation_overlap"
JACCARD = "homogenisation_jaccard"
METRICS = (METRIC, JACCARD, "clicks_per_session")
RETRAINED, ONCE, ORACLE = "mf-retrained", "mf-trained-once", "oracle"
ARMS = (
    Arm(RETRAINED, "mf"),
    # fitted on the warm-up (start-up) log, then frozen
    Arm(ONCE, "mf", {"retrain": False, "fit_episodes": WARMUP["episodes"]}),
    Arm(ORACLE, "oracle"),
)


def run(seeds: Sequence[int], out_dir: Path, episodes: int = EPISODES) -> StudyResult:
    """Run the study and test its statement over ``seeds``."""
    start = time.perf_counter()
    table = run_arms(
        NAME, ARMS, seeds, episodes, base_world(), METRICS, out_dir / "runs", warmup=WARMUP
    )
    measured = range(WARMUP["episodes"], episodes)  # every episode served by the arm
    means = {m: per_seed(table, m, measured) for m in METRICS}
    final = per_seed(table, METRIC, [episodes - 1])

    def compare(metric: str, other: str, values: object = None, when: str = "") -> TestResult:
        frame = means[metric] if values is None else values
        return paired_greater(
            frame[RETRAINED], frame[other], f"{metric}{when}: mf retrained > {other}"
        )

    figure = plot_metrics(
        table,
        list(METRICS),
        "Chaney et al. 2018: homogenisation",
        FIGURES_DIR / f"validation-{NAME}.png",
    )
    first = WARMUP["episodes"]
    return StudyResult(
        study=NAME,
        statement=(
            "Recommenders retrained on their own feedback homogenise users' consumption "
            "(homogenisation_overlap: chance that two users' clicks hit the same item) more "
            "than the oracle, and more than the same recommender trained once."
        ),
        setup=(
            f"{len(seeds)} seeds x 3 arms (mf retrained after every episode; mf fitted on "
            "the start-up log then frozen; oracle), each after one shared start-up episode "
            f"of random recommendations; {episodes} one-day episodes, 200 users, 400 items, "
            "10 topics, idiosyncratic tastes (sd 1), one-time consumption, endogenous drift "
            f"5%/click. Tested quantity: per-seed paired difference of {METRIC} averaged "
            f"over the measured episodes {first}..{episodes - 1}."
        ),
        tests=[compare(METRIC, ORACLE), compare(METRIC, ONCE)],
        diagnostics=[
            compare(METRIC, ORACLE, final, f" at episode {episodes - 1}"),
            compare(METRIC, ONCE, final, f" at episode {episodes - 1}"),
            compare(JACCARD, ORACLE),
            compare(JACCARD, ONCE),
        ],
        figure=f"figures/{figure.name}",
        summary={
            "means": {m: frame.mean().to_dict() for m, frame in means.items()},
            "final_overlap": final.mean().to_dict(),
            "runtime_s": time.perf_counter() - start,
        },
    )
