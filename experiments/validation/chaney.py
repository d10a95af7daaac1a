"""Chaney, Stewart & Engelhardt (2018): the feedback loop homogenises users.

Statement: a recommender retrained on its own feedback (``mf`` retrained after every
episode) makes users' consumption more similar (``homogenisation_jaccard``) than the
``oracle`` (which serves true utilities, an ideal that learns nothing from the loop),
and more than the same recommender trained once, after the first episode, then frozen.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from experiments.validation.common import (
    FIGURES_DIR,
    Arm,
    StudyResult,
    base_world,
    paired_greater,
    per_seed,
    run_arms,
)
from experiments.validation.figures import plot_metrics

NAME = "chaney"
EPISODES = 12
METRIC = "homogenisation_jaccard"
ARMS = (
    Arm("mf-retrained", "mf"),
    Arm("mf-trained-once", "mf", {"retrain": False, "fit_episodes": 1}),
    Arm("oracle", "oracle"),
)


def run(seeds: Sequence[int], out_dir: Path, episodes: int = EPISODES) -> StudyResult:
    """Run the study and test its statement over ``seeds``."""
    table = run_arms(NAME, ARMS, seeds, episodes, base_world(), [METRIC], out_dir / "runs")
    measured = range(2, episodes)  # from the first episode served by a trained model
    means = per_seed(table, METRIC, measured)
    tests = [
        paired_greater(
            means["mf-retrained"], means["oracle"], "homogenisation: mf retrained > oracle"
        ),
        paired_greater(
            means["mf-retrained"],
            means["mf-trained-once"],
            "homogenisation: mf retrained > mf trained once",
        ),
    ]
    figure = plot_metrics(
        table,
        [METRIC],
        "Chaney et al. 2018: homogenisation",
        FIGURES_DIR / f"validation-{NAME}.png",
    )
    return StudyResult(
        study=NAME,
        statement=(
            "Recommenders retrained on their own feedback homogenise users' consumption "
            "(mean pairwise Jaccard of consumed-item sets) more than the oracle, and more "
            "than the same recommender trained once."
        ),
        setup=(
            f"{len(seeds)} seeds x 3 arms (mf retrained after every episode; mf fitted "
            f"after episode 0 then frozen; oracle), {episodes} one-day episodes, "
            "200 users, 400 items, 10 topics, endogenous drift 5%/click. Tested quantity: "
            f"per-seed paired difference of {METRIC} averaged over episodes 2.."
            f"{episodes - 1}."
        ),
        tests=tests,
        figure=f"figures/{figure.name}",
        summary={"means": means.mean().to_dict()},
    )
