"""Validation studies: the statistics helpers (fast) and one slow test per statement.

The slow tests run each study for real (5 seeds, a few minutes each on 2 cores) and
assert what docs/validation.md reports. A claim that does not reproduce is marked
``xfail(strict=True)`` with the reason, never weakened until it passes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.validation import STUDIES
from experiments.validation.__main__ import main
from experiments.validation.common import (
    StudyResult,
    one_sample_greater,
    paired_greater,
    slope_greater,
    slope_per_episode,
)


def test_one_sample_greater_known_answer():
    # values 1, 2, 3: mean 2, sd 1, t = 2 / (1 / sqrt 3) = 3.464, df 2, one-sided p = 0.0370
    res = one_sample_greater([1.0, 2.0, 3.0], "claim")
    assert res.n == 3 and res.mean == pytest.approx(2.0) and res.sd == pytest.approx(1.0)
    assert res.statistic == pytest.approx(3.4641, abs=1e-4)
    assert res.p_value == pytest.approx(0.0370, abs=1e-4)
    assert res.effect_size == pytest.approx(2.0) and res.holds


def test_one_sample_greater_does_not_hold_for_a_negative_mean():
    res = one_sample_greater([-1.0, -2.0, -3.0], "claim")
    assert not res.holds and res.p_value > 0.9


def test_paired_greater_pairs_by_seed():
    a = pd.Series([3.0, 5.0, 4.0], index=[0, 1, 2])
    b = pd.Series([2.0, 3.0, 3.0], index=[0, 1, 2])
    res = paired_greater(a, b, "a > b")
    assert res.values == [1.0, 2.0, 1.0]


def test_slope_per_episode_is_the_ols_slope():
    episodes = np.arange(5)
    table = pd.DataFrame(
        {
            "arm": "x",
            "seed": np.repeat([0, 1], 5),
            "episode": np.tile(episodes, 2),
            "metric": "m",
            "value": np.concatenate([2.0 * episodes, -1.0 * episodes + 7]),
        }
    )
    slopes = slope_per_episode(table, "m", first_episode=1)
    assert slopes.loc[0, "x"] == pytest.approx(2.0) and slopes.loc[1, "x"] == pytest.approx(-1.0)


def test_slope_greater_pairs_slopes_by_seed():
    slopes = pd.DataFrame({"a": [0.3, 0.5, 0.2], "ctl": [0.1, 0.1, 0.1]}, index=[0, 1, 2])
    res = slope_greater(slopes, "a", "ctl", "m")
    assert res.values == pytest.approx([0.2, 0.4, 0.1]) and res.claim == "slope of m: a > ctl"


def test_study_markdown_separates_diagnostics():
    holds = one_sample_greater([1.0, 2.0, 3.0], "tested claim")
    fails = one_sample_greater([-1.0, -2.0, -3.0], "diagnostic claim")
    result = StudyResult("s", "statement", "setup", [holds], diagnostics=[fails])
    text = result.to_markdown()
    assert result.holds  # a failing diagnostic does not decide the statement
    assert text.index("tested claim") < text.index("Diagnostics") < text.index("diagnostic")


def test_validation_world_has_the_papers_assumptions():
    from experiments.scenario import Scenario
    from experiments.validation.common import WARMUP, base_world

    world = base_world(drift={"endogenous_rate": 0.1})
    assert world["drift"] == {"endogenous_rate": 0.1, "exogenous_sd_per_day": 0.02}
    choice = world["choice"]
    assert choice["idiosyncratic_sd"] > 0 and choice["repeat_penalty"] >= 10
    Scenario.model_validate(
        {"id": "v-v1", "episodes": 3, "policy": "mf", "world": world, "warmup": WARMUP}
    )


def test_chaney_setting_is_theirs():
    from experiments.scenario import load_scenario

    scenario = load_scenario("chaney-v1")
    world = scenario.world
    assert world.users.n_users == 100 and scenario.warmup.episodes == 10
    assert scenario.episodes - scenario.warmup.episodes == 100
    assert world.catalog.new_items_rate_per_day > 0  # new items every iteration
    assert not world.intent.enabled and world.suggestions.n_suggestions == 0  # no search
    assert world.satiation.increment == 0 and world.sessions.retention_gain == 0
    assert world.drift.endogenous_rate == 0 == world.drift.exogenous_sd_per_day  # fixed tastes
    assert world.choice.affinity == "dot" and world.choice.repeat_penalty >= 10


def test_world_variants_revert_one_change_each():
    from experiments.validation.common import VARIANTS, base_world, with_variant
    from sim.config import WorldConfig

    world = base_world()
    cosine = WorldConfig.model_validate(with_variant(world, "affinity-cosine"))
    assert cosine.choice.affinity == "cosine" and cosine.drift.rule == "reinforcing"
    assert with_variant(world, "drift-convex")["choice"] == world["choice"]  # untouched
    v1 = WorldConfig.model_validate(with_variant(world, "v1"))
    assert v1.model_version == 1 and v1.catalog.quality_distribution == "normal"
    assert v1.choice.repeat_penalty == world["choice"]["repeat_penalty"]  # study keys stay
    for name in VARIANTS:
        WorldConfig.model_validate(with_variant(world, name))
    with pytest.raises(KeyError, match="unknown variant"):
        with_variant(world, "nope")


def test_arm_scenario_takes_everything_but_the_policy_from_the_base():
    from experiments.validation.common import Arm, arm_scenario, base_world, study_scenario

    base = study_scenario("s", base_world(), episodes=4)
    assert base["id"] == "validation-s-v3" and base["warmup"] == {"episodes": 1, "policy": "random"}
    arm = Arm("greedy", "epsilon-greedy", {"base": "mf", "epsilon": 0.0})
    scenario = arm_scenario(base, arm, seed=3, metrics=["ctr"], episodes=6)
    assert scenario.seed == 3 and scenario.episodes == 6 and not scenario.allow_ground_truth
    assert scenario.policy.name == "epsilon-greedy" and scenario.policy.params["epsilon"] == 0.0
    assert scenario.world.users.n_users == 200 and scenario.world.catalog.n_items == 400
    assert scenario.warmup.episodes == 1 and scenario.warmup.policy.name == "random"
    assert list(scenario.output.metrics) == ["ctr"] and not scenario.output.plots
    assert arm_scenario(base, Arm("o", "oracle"), 0, ["ctr"]).allow_ground_truth
    assert base["world"] == base_world()  # the base is not modified


def test_bundled_scenario_variants_get_the_version_defaults():
    # chaney-v1 sets no version-dependent key, so its v1 variant must get every v1
    # default; a full dump of the loaded scenario would pin them at v2's values.
    from experiments.validation.common import Arm, arm_scenario, bundled_scenario

    base = bundled_scenario("chaney-v1")
    assert base["episodes"] == 110 and "affinity" not in base["world"]["choice"]
    v2 = arm_scenario(base, Arm("mf", "mf"), 0, ["ctr"]).world
    v1 = arm_scenario(base, Arm("mf", "mf"), 0, ["ctr"], variant="v1").world
    assert (v2.choice.affinity, v2.catalog.quality_distribution) == ("dot", "lognormal")
    assert (v1.choice.affinity, v1.catalog.quality_distribution) == ("cosine", "normal")
    assert v1.choice.idiosyncratic_sd == v2.choice.idiosyncratic_sd == 1.0  # study keys stay
    cosine = arm_scenario(base, Arm("mf", "mf"), 0, ["ctr"], variant="affinity-cosine").world
    assert cosine.choice.affinity == "cosine" and cosine.catalog.quality_distribution == "lognormal"


def test_run_arms_runs_every_arm_and_seed_and_reuses_finished_runs(tmp_path):
    from experiments.validation.common import Arm, run_arms, study_scenario

    world = {
        "catalog": {"n_items": 60, "n_topics": 4},
        "users": {"n_users": 12},
        "intent": {"enabled": False},
    }
    base = study_scenario("tiny", world, episodes=2)
    arms = (Arm("pop", "popularity"), Arm("rnd", "random"))
    lines: list[str] = []
    table = run_arms(base, arms, [0, 1], ["ctr"], tmp_path, log=lambda *a, **k: lines.append(a[0]))
    assert sorted({(a, s) for a, s in zip(table["arm"], table["seed"], strict=True)}) == [
        ("pop", 0), ("pop", 1), ("rnd", 0), ("rnd", 1)
    ]  # fmt: skip
    assert set(table["episode"]) == {0, 1} and set(table["metric"]) == {"ctr"}
    # episode 0 is the shared random start-up: identical in both arms of a seed (CRN)
    first = table[table["episode"] == 0].pivot_table(index="seed", columns="arm", values="value")
    assert (first["pop"] == first["rnd"]).all()
    stamp = (tmp_path / "pop-seed0" / "metrics.parquet").stat().st_mtime_ns
    again = run_arms(base, arms, [0, 1], ["ctr"], tmp_path, log=lambda *a, **k: None)
    assert (tmp_path / "pop-seed0" / "metrics.parquet").stat().st_mtime_ns == stamp  # reused
    pd.testing.assert_frame_equal(again, table)


def test_sensitivity_table_marks_each_claim_per_variant():
    from experiments.validation.sensitivity import sensitivity_markdown

    holds = one_sample_greater([1.0, 2.0, 3.0], "claim a")
    fails = one_sample_greater([-1.0, -2.0, -3.0], "claim a")
    table = sensitivity_markdown(
        {"s": {"v2": StudyResult("s", "", "", [holds]), "v1": StudyResult("s", "", "", [fails])}},
        3,
    )
    assert "| claim | v2 | v1 |" in table
    assert "| claim a | ✓ 2 (p = 0.037) | ✗ -2 (p = 0.96) |" in table


def test_sensitivity_table_lists_the_variants_not_run():
    from experiments.validation.sensitivity import sensitivity_markdown

    holds = one_sample_greater([1.0, 2.0, 3.0], "claim a")
    table = sensitivity_markdown(
        {"s": {"v2": StudyResult("s", "", "", [holds])}}, 3, {"s": ["v1", "drift-convex"]}
    )
    assert "Variants not run: v1, drift-convex." in table


def test_sensitivity_checks_every_variant_before_running_anything(tmp_path):
    from experiments.validation.sensitivity import run_sensitivity

    with pytest.raises(KeyError, match=r"mansoury: unknown sensitivity variant.*titles-v1"):
        run_sensitivity([0], tmp_path, variants={"mansoury": ["v1", "titles-v1"]})
    assert not any(tmp_path.iterdir())  # chaney (first in order) did not start


def test_cli_rejects_bad_variants(capsys):
    assert main(["sensitivity", "--variants", "mansoury:v1"]) == 2
    assert "is not STUDY=V1[,V2...]" in capsys.readouterr().err
    assert main(["sensitivity", "--variants", "jiang=conformity-0.5"]) == 2
    assert "jiang: unknown sensitivity variant(s) conformity-0.5" in capsys.readouterr().err


def test_cli_rejects_bad_seeds(capsys):
    assert main(["chaney", "--seeds", "4-1"]) == 2
    assert "--seeds" in capsys.readouterr().err


# ---------------------------------------------------------------- the statements (slow)
# Each study runs once per session (5 seeds; about 5 minutes per study on 2 cores) and its
# tests are asserted one by one: what reproduces is asserted (p < 0.05, right sign);
# what does not is xfail(strict=True) with the reason, so a change that makes it
# reproduce (or breaks what does) is noticed. Numbers and discussion: docs/validation.md.
# ONEFEED_VALIDATION_DIR=DIR runs the studies in DIR (as `python -m experiments.validation
# all --out DIR` does), reusing the finished runs of identical scenarios found there.
SEEDS = range(5)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    import importlib
    import os
    from pathlib import Path

    results: dict[str, StudyResult] = {}
    root = os.environ.get("ONEFEED_VALIDATION_DIR")

    def get(name: str) -> StudyResult:
        if name not in results:
            out = Path(root) / name if root else tmp_path_factory.mktemp(name)
            results[name] = importlib.import_module(STUDIES[name]).run(SEEDS, out)
        return results[name]

    return get


def _claim(result: StudyResult, text: str):
    (test,) = [t for t in result.tests if text in t.claim]
    assert test.n == len(SEEDS)
    return test


def _holds(result: StudyResult, text: str) -> None:
    test = _claim(result, text)
    assert test.holds and test.p_value < 0.05 and test.mean > 0, result.to_markdown()


#: Every tested claim of the three studies (a substring of the claim's wording).
CLAIMS: dict[str, tuple[str, ...]] = {
    "chaney": ("mf retrained > oracle", "mf retrained > mf-trained-once"),
    "jiang": ("final interest entropy", "final endogenous drift"),
    "mansoury": tuple(
        f"slope of {metric}: {learner} > random"
        for metric in ("rec_popularity_rel", "impression_gini_cumulative")
        for learner in ("popularity", "mf", "bpr")
    ),
}
#: Claims that do not reproduce (5 seeds, docs/validation.md), with the evidence: they
#: are strict xfails, so a change that makes one hold is noticed. Measured under world
#: model v2 with the current protocols (chaney-v1; Mansoury with 3,000 heavy-tailed items
#: and BPR) at commit 0b3131c: the other eight claims hold (p <= 0.0005).
_STEP_NOT_SLOPE = (
    "v2, 5 seeds at 0b3131c: under {learner} the recommended items' relative popularity "
    "jumps within the first retrainings ({first} at episode 1, {peak} at episode 3, "
    "random 1.00) and then declines slowly ({last} at episode 20: one-time consumption "
    "depletes the popular items a user has not yet consumed), so its slope over "
    "episodes 1-20 is below random's ({slope}, p = {p}); the amplification is a step, "
    "not the steady rise of Mansoury et al. With re-consumption allowed the rise "
    "comes back (docs/results/validation-v2/mansoury_reconsumption.py, 3 seeds)."
)
NOT_REPRODUCED: dict[tuple[str, str], str] = {
    ("mansoury", "slope of rec_popularity_rel: mf > random"): _STEP_NOT_SLOPE.format(
        learner="mf", first=2.37, peak=3.49, last=3.13, slope="-0.0057/episode", p=0.99
    ),
    ("mansoury", "slope of rec_popularity_rel: bpr > random"): _STEP_NOT_SLOPE.format(
        learner="bpr", first=3.64, peak=13.76, last=8.82, slope="-0.124/episode", p=1.0
    ),
}


def _cases():
    for name, claims in CLAIMS.items():
        for claim in claims:
            reason = NOT_REPRODUCED.get((name, claim))
            marks = [pytest.mark.slow]
            if reason:
                marks.append(pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason))
            yield pytest.param(name, claim, marks=marks, id=f"{name}: {claim}")


@pytest.mark.parametrize(("name", "claim"), list(_cases()))
def test_validation_claim(study, name, claim):
    _holds(study(name), claim)
