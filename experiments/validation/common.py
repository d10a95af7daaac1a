"""Shared machinery of the validation studies: the world, runs, statistics, figures.

Every study runs small scenarios through the real run loop
(:func:`experiments.runner.run.run_scenario`), one run per (arm, seed), with every arm of a
seed sharing that seed's exogenous randomness (common random numbers), so arms are
compared by paired tests over seeds.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from experiments.atomic import atomic_write_text
from experiments.runner.run import run_scenario
from experiments.runner.run_dir import is_reusable_run
from experiments.scenario import Scenario

__all__ = [
    "FIGURES_DIR",
    "Arm",
    "StudyResult",
    "TestResult",
    "arm_scenario",
    "base_world",
    "bundled_scenario",
    "one_sample_greater",
    "paired_greater",
    "run_arms",
    "slope_greater",
    "slope_per_episode",
    "study_scenario",
    "with_variant",
    "write_result",
]

#: Standard deviation of every user's fixed idiosyncratic taste for each item
#: (``choice.idiosyncratic_sd``, utility units): twice the spread of the shared quality
#: term (0.5 · N(0, 1)); chosen a priori under world model v1, whose affinity weight was 4
#: (v2's is 6).
IDIOSYNCRATIC_SD = 1.0
#: Utility subtracted from an item the user already consumed (``choice.repeat_penalty``):
#: large enough (odds × e^-10) that every item is consumed at most once, as in the
#: simulations of all three papers.
REPEAT_PENALTY = 10.0
#: Start-up shared by every arm: one episode of random recommendations, whose log each
#: arm's policy is trained on before its first episode (Chaney et al.'s start-up
#: period; Mansoury et al. start from existing, non-feedback data). Under common random
#: numbers the warm-up episode is identical in every arm of a seed.
WARMUP: dict[str, Any] = {"episodes": 1, "policy": "random"}

#: Where the studies' figures go (small PNGs, referenced by docs/validation.md).
FIGURES_DIR = Path(__file__).resolve().parents[2] / "docs" / "figures"


#: World variants of the sensitivity analysis (``experiments.validation.sensitivity``):
#: each reverts one change of world model v2 to its v1 behaviour, or turns on the
#: optional conformity term; ``v1`` reverts them all (``model_version: 1``).
VARIANTS: dict[str, dict[str, Any]] = {
    "v2": {},
    "affinity-cosine": {"choice": {"affinity": "cosine", "affinity_weight": 4.0}},
    "drift-convex": {"drift": {"rule": "convex"}},
    "appeal-normal": {"catalog": {"quality_distribution": "normal"}},
    "titles-v1": {
        "catalog": {
            "off_topic_share": 0.0,
            "title_synonym_prob": 0.0,
            "brand_vocab_size": 0,
            "brand_prob": 0.0,
        }
    },
    "suggestions-v1": {"suggestions": {"result_quality_weight": 0.0}},
    "conformity-0.5": {"choice": {"conformity_weight": 0.5}},
    "v1": {"model_version": 1},
}


def with_variant(world: dict[str, Any], variant: str) -> dict[str, Any]:
    """``world`` with the overrides of :data:`VARIANTS` ``[variant]`` merged into its sections.

    Raises:
        KeyError: If the variant is unknown (the message lists the known ones).
    """
    if variant not in VARIANTS:
        raise KeyError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in world.items()}
    for key, value in VARIANTS[variant].items():
        out[key] = {**out.get(key, {}), **value} if isinstance(value, dict) else value
    return out


def base_world(**overrides: Any) -> dict[str, Any]:
    """The studies' small world (filter-bubble-ish): 200 users, 400 items, 10 topics.

    Users start with broad interests (concentration 1.0) and consumption moves them by a
    drift step of 0.05 per click (default 0.02; the world's drift rule, by default the
    reinforcing rule of world model v2) with a weak exogenous walk, so feedback-loop
    effects show within a dozen one-day episodes. As in the papers'
    simulations, each user has an idiosyncratic taste for each item
    (:data:`IDIOSYNCRATIC_SD`) and consumes an item at most once
    (:data:`REPEAT_PENALTY`). ``overrides`` are merged into the top-level sections (e.g.
    ``drift={"endogenous_rate": 0.1}``).
    """
    world: dict[str, Any] = {
        "episode_length_days": 1.0,
        "catalog": {"n_items": 400, "n_topics": 10},
        "users": {"n_users": 200, "interest_concentration": 1.0},
        "drift": {"endogenous_rate": 0.05, "exogenous_sd_per_day": 0.02},
        "choice": {"idiosyncratic_sd": IDIOSYNCRATIC_SD, "repeat_penalty": REPEAT_PENALTY},
    }
    for key, value in overrides.items():
        world[key] = {**world.get(key, {}), **value} if isinstance(value, dict) else value
    return world


@dataclass(frozen=True)
class Arm:
    """One experimental arm: a label and the policy serving it."""

    label: str
    policy: str
    params: dict[str, Any] = field(default_factory=dict)


def study_scenario(
    study: str, world: dict[str, Any], episodes: int, warmup: dict[str, Any] | None = WARMUP
) -> dict[str, Any]:
    """The base scenario (as data) of a study run in a world built by :func:`base_world`.

    Args:
        study: Study name; the scenario id is ``validation-<study>-v3``.
        world: World configuration data (only the keys the study sets).
        episodes: Episodes per run, the start-up included.
        warmup: The ``warmup`` section shared by every arm (default :data:`WARMUP`), or
            ``None`` for none.
    """
    base: dict[str, Any] = {"id": f"validation-{study}-v3", "episodes": episodes, "world": world}
    if warmup:
        base["warmup"] = dict(warmup)
    return base


def bundled_scenario(name: str) -> dict[str, Any]:
    """A bundled scenario (``scenarios/<file>.yaml``) as data, with only the keys it sets.

    Keys the file leaves unset stay unset, so a world variant that changes
    ``model_version`` (:data:`VARIANTS` ``["v1"]``) gets that version's defaults for
    them; a full dump would pin every key at the v2 defaults and make ``v1`` a no-op.
    """
    from experiments.scenario import load_scenario

    return load_scenario(name).model_dump(mode="json", exclude_unset=True)


def arm_scenario(
    base: dict[str, Any],
    arm: Arm,
    seed: int,
    metrics: Sequence[str],
    variant: str = "v2",
    episodes: int | None = None,
) -> Scenario:
    """The validated scenario of one (arm, seed) run of a study.

    Everything but the policy comes from ``base``: the world (with the overrides of
    ``variant`` merged in), the episodes (unless ``episodes`` overrides them) and the
    start-up, so every arm of a seed shares that seed's exogenous randomness. Ground
    truth is allowed for the ``oracle`` only; outputs are the ``metrics``, truth
    snapshots and no plots.

    Args:
        base: Scenario data (:func:`study_scenario`, :func:`bundled_scenario`).
        arm: The arm (its policy and parameters replace the base's policy).
        seed: Root seed.
        metrics: Metric names computed per episode.
        variant: World variant (a key of :data:`VARIANTS`).
        episodes: Override of ``base["episodes"]``.

    Raises:
        KeyError: If ``variant`` is unknown.
        pydantic.ValidationError: If the resulting scenario is invalid.
    """
    data = {
        **base,
        "seed": int(seed),
        "episodes": int(episodes or base["episodes"]),
        "allow_ground_truth": arm.policy == "oracle",
        "policy": {"name": arm.policy, "params": dict(arm.params)},
        "world": with_variant(base.get("world", {}), variant),
        "output": {"plots": False, "truth_snapshots": True, "metrics": list(metrics)},
    }
    return Scenario.model_validate(data)


def run_arms(
    base: dict[str, Any],
    arms: Sequence[Arm],
    seeds: Sequence[int],
    metrics: Sequence[str],
    out_dir: Path,
    variant: str = "v2",
    episodes: int | None = None,
    log: Callable[..., None] = print,
) -> pd.DataFrame:
    """Run every (arm, seed) of a study on its base scenario; the tidy metrics of all runs.

    A finished run of the identical scenario already in ``out_dir`` is reused; an
    unfinished or different one is replaced.

    Args:
        base: The study's base scenario as data (see :func:`arm_scenario`).
        arms: The arms.
        seeds: Root seeds; each seed is shared by every arm (common random numbers).
        metrics: Metric names computed per episode.
        out_dir: Parent of the run directories (``<arm>-seed<N>/``).
        variant: World variant (a key of :data:`VARIANTS`).
        episodes: Override of the base scenario's episodes.
        log: Progress printer.

    Returns:
        Columns ``arm, seed, episode, metric, value``.
    """
    tables = []
    for seed in seeds:
        for arm in arms:
            scenario = arm_scenario(base, arm, seed, metrics, variant, episodes)
            run_dir = Path(out_dir) / f"{arm.label}-seed{seed}"
            if is_reusable_run(run_dir, scenario.model_dump(mode="json")):
                table = pd.read_parquet(run_dir / "metrics.parquet")
            else:
                if run_dir.exists():
                    shutil.rmtree(run_dir)
                table = run_scenario(scenario, run_dir, show_progress=False).metrics
            log(f"  {scenario.id} ({variant}): {arm.label} seed {seed} done", flush=True)
            tables.append(
                table.assign(arm=arm.label)[["arm", "seed", "episode", "metric", "value"]]
            )
    return pd.concat(tables, ignore_index=True)


def per_seed(
    table: pd.DataFrame, metric: str, episodes: Sequence[int] | None = None
) -> pd.DataFrame:
    """Mean of ``metric`` over ``episodes`` (all if ``None``), one row per seed, arms as columns."""
    rows = table[table["metric"] == metric]
    if episodes is not None:
        rows = rows[rows["episode"].isin(list(episodes))]
    return rows.pivot_table(index="seed", columns="arm", values="value", aggfunc="mean")


def slope_greater(
    slopes: pd.DataFrame, arm: str, control: str, metric: str, alpha: float = 0.05
) -> TestResult:
    """One-sided paired t-test that ``metric`` rises faster under ``arm`` than ``control``.

    Args:
        slopes: Per-run slopes from :func:`slope_per_episode` (seeds × arms).
        arm: The arm claimed to rise faster.
        control: The control arm (paired by seed).
        metric: Metric name, for the claim's wording.
        alpha: Significance level.
    """
    return paired_greater(
        slopes[arm],
        slopes[control],
        f"slope of {metric}: {arm} > {control}",
        alpha,
    )


def slope_per_episode(table: pd.DataFrame, metric: str, first_episode: int = 1) -> pd.DataFrame:
    """OLS slope of ``metric`` over episodes ``>= first_episode``, per (arm, seed).

    Returns:
        Seeds as rows, arms as columns (units of the metric per episode).
    """
    rows = table[(table["metric"] == metric) & (table["episode"] >= first_episode)]
    rows = rows.dropna(subset=["value"])
    out = rows.groupby(["seed", "arm"]).apply(
        lambda g: float(np.polyfit(g["episode"].to_numpy(float), g["value"].to_numpy(float), 1)[0]),
        include_groups=False,
    )
    return out.unstack("arm")


@dataclass(frozen=True)
class TestResult:
    """One statistical test of a statement.

    Attributes:
        claim: What is tested, in words (the alternative hypothesis).
        test: The test used.
        n: Number of seeds.
        mean: Mean of the tested quantity (difference or slope).
        sd: Its standard deviation over seeds.
        effect_size: Cohen's d_z (mean / sd).
        statistic: The test statistic.
        p_value: One-sided p-value.
        holds: ``p_value < alpha`` and the mean has the claimed sign.
        values: Per-seed values of the tested quantity.
    """

    claim: str
    test: str
    n: int
    mean: float
    sd: float
    effect_size: float
    statistic: float
    p_value: float
    holds: bool
    values: list[float]


def one_sample_greater(values: Sequence[float], claim: str, alpha: float = 0.05) -> TestResult:
    """One-sided one-sample t-test of ``mean(values) > 0`` (e.g. paired differences, slopes)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    sd = float(x.std(ddof=1)) if x.size >= 2 else float("nan")
    if x.size >= 2 and sd > 0:
        res = stats.ttest_1samp(x, 0.0, alternative="greater")
        statistic, p = float(res.statistic), float(res.pvalue)
    else:
        statistic, p = float("nan"), float("nan")
    mean = float(x.mean()) if x.size else float("nan")
    return TestResult(
        claim=claim,
        test="one-sided t-test over seeds (paired: common random numbers)",
        n=int(x.size),
        mean=mean,
        sd=sd,
        effect_size=mean / sd if sd and np.isfinite(sd) and sd > 0 else float("nan"),
        statistic=statistic,
        p_value=p,
        holds=bool(np.isfinite(p) and p < alpha and mean > 0),
        values=[float(v) for v in x],
    )


def paired_greater(a: pd.Series, b: pd.Series, claim: str, alpha: float = 0.05) -> TestResult:
    """One-sided paired t-test of ``a > b`` over seeds (``a``, ``b`` indexed by seed)."""
    joined = pd.concat([a, b], axis=1, keys=["a", "b"]).dropna()
    return one_sample_greater((joined["a"] - joined["b"]).to_numpy(), claim, alpha)


@dataclass
class StudyResult:
    """A study's statement, setup, tests and figure.

    ``tests`` decide whether the statement holds; ``diagnostics`` are further tests
    reported beside them (e.g. the same comparison on another metric) that do not.
    """

    study: str
    statement: str
    setup: str
    tests: list[TestResult]
    figure: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    diagnostics: list[TestResult] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        """Whether every test supports the statement."""
        return all(t.holds for t in self.tests)

    def to_markdown(self) -> str:
        """Statement, setup and a table of the tests."""
        lines = [
            f"### {self.study}",
            "",
            f"**Statement.** {self.statement}",
            "",
            f"**Setup.** {self.setup}",
            "",
            *_table(self.tests),
        ]
        if self.diagnostics:
            lines += ["", "Diagnostics (reported, not part of the statement):", ""]
            lines += _table(self.diagnostics)
        if self.figure:
            lines += ["", f"![{self.study}]({self.figure})"]
        return "\n".join(lines) + "\n"


def _table(tests: Sequence[TestResult]) -> list[str]:
    lines = [
        "| claim | n | mean | sd | d_z | t | p (one-sided) | holds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in tests:
        lines.append(
            f"| {t.claim} | {t.n} | {t.mean:.4g} | {t.sd:.3g} | {t.effect_size:.2f} | "
            f"{t.statistic:.2f} | {t.p_value:.2g} | {'yes' if t.holds else 'no'} |"
        )
    return lines


def write_result(result: StudyResult, out_dir: Path) -> None:
    """Write ``<study>.json`` and ``<study>.md`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {**asdict(result), "holds": result.holds}
    atomic_write_text(out_dir / f"{result.study}.json", json.dumps(data, indent=2) + "\n")
    atomic_write_text(out_dir / f"{result.study}.md", result.to_markdown())
