"""Exploratory check of the depletion explanation for Mansoury's mf/bpr popularity slope.

The mansoury study's world and arms, but re-consumption allowed (repeat_penalty 0) and
the learners free to re-serve consumed items (exclude_seen False); seeds 0-2.
"""

import sys
from pathlib import Path

from experiments.validation.common import (
    Arm,
    base_world,
    run_arms,
    slope_per_episode,
    study_scenario,
)
from experiments.validation.mansoury import WORLD

world = base_world(**WORLD, choice={"repeat_penalty": 0.0})
base = study_scenario("mansoury-repeat", world, 21)
arms = (
    Arm("mf", "mf", {"decay": 1.0, "exclude_seen": False}),
    Arm("bpr", "bpr", {"decay": 1.0, "exclude_seen": False}),
    Arm("random", "random"),
)
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs/validation/mansoury-reconsumption")
table = run_arms(
    base, arms, [0, 1, 2], ["rec_popularity_rel", "impression_gini_cumulative"], out / "runs"
)
table.to_csv(out / "table.csv", index=False)
rp = table[table.metric == "rec_popularity_rel"].pivot_table(
    index=["arm", "seed"], columns="episode", values="value"
)
print(rp[[1, 2, 3, 5, 10, 20]].groupby("arm").mean().round(2))
slopes = slope_per_episode(table, "rec_popularity_rel", first_episode=1)
print(slopes)
print((slopes.sub(slopes["random"], axis=0)).describe())
