"""Run models through the leave-one-out protocol: tune on validation, refit, test.

For each model and seed: every fit setting of the model's grid is fitted on the
validation-stage prefixes, and every score-time setting of that fit (``score_grid``) is
evaluated on the validation item; the best pair by NDCG@10 (ties: first tried) is refitted
on the test-stage prefixes (up to and including the validation item) and evaluated on
the test item. A model with a single setting skips the validation pass. Deterministic
models are run once and their result is reported for every seed. Wall time, CPU time and
peak RSS are measured per model; every validation value tried is kept (``tuning``).

A model may depend on other rows (``ModelSpec.needs``, e.g. the blend on its
components): the bench runs those rows first and hands their chosen settings to the
factory. Models may also report extras: ``test_reports(stage)`` on the fitted test-stage
model (OneFeed: query head, beam recall, candidate shares) and
``valid_reports(stages, seed)`` on the chosen validation-stage model for the
``report_seeds`` only (OneFeed: offline self-enhancement, which must not see the test
stage's training data). An exception inside a model is not caught: the run fails.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from experiments.replay.metrics import DEFAULT_KS, Outcomes, evaluate_scores
from experiments.replay.models import ModelSpec, get_model_spec, with_prerequisites
from experiments.replay.protocol import Recommender, ReplayDataset, score_grid_of, score_settings
from experiments.replay.resources import ResourceMeter
from experiments.replay.split import Stage, make_stage

__all__ = [
    "METRIC_NAMES",
    "ModelFailed",
    "ModelResult",
    "evaluate_model",
    "run_bench",
    "run_model",
]

METRIC_NAMES = ("recall@5", "ndcg@5", "recall@10", "ndcg@10")
TUNE_METRIC = "ndcg@10"


class ModelFailed(RuntimeError):
    """A model raised while the bench fitted or scored it (the run must fail).

    Args:
        model: Row name.
        seed: Seed being run.
        cause: The exception (also chained as ``__cause__``).
    """

    def __init__(self, model: str, seed: int, cause: BaseException) -> None:
        super().__init__(f"model {model!r} failed on seed {seed}: {type(cause).__name__}: {cause}")
        self.model, self.seed = model, seed


@dataclass
class ModelResult:
    """The measured row of one model.

    Attributes:
        model: Row name.
        seeds: Seeds reported.
        per_seed: Test metrics per seed (same order as ``seeds``).
        params: Chosen setting per seed: ``{"fit": …, "score": …}``.
        valid: Validation NDCG@10 of the chosen setting per seed (``None`` if not tuned).
        time_s: Wall time of all fitting and evaluation of this model.
        cpu_s: CPU time (user + system) of the process while this model ran.
        peak_rss_mb: Peak resident memory of the process while this model ran.
        extras: Additional reports per seed (OneFeed: query head, beam recall, …).
        tuning: Per seed, every setting tried with its validation NDCG@10 and Recall@10.
        seed_time_s: Per seed, wall time of that seed's run (0 when reused).
        outcomes: Per seed, where every test user's target landed (paired comparisons).
    """

    model: str
    seeds: list[int]
    per_seed: list[dict[str, float]]
    params: list[dict]
    valid: list[float | None]
    time_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    extras: dict[str, Any] = field(default_factory=dict)
    tuning: list[list[dict[str, Any]]] = field(default_factory=list)
    seed_time_s: list[float] = field(default_factory=list)
    outcomes: list[Outcomes] = field(default_factory=list)

    def mean(self, metric: str) -> float:
        """Mean of ``metric`` over seeds."""
        return float(np.mean([m[metric] for m in self.per_seed]))

    def std(self, metric: str) -> float:
        """Population standard deviation of ``metric`` over seeds (exactly 0 if all equal)."""
        values = [m[metric] for m in self.per_seed]
        return 0.0 if len(set(values)) <= 1 else float(np.std(values))


def evaluate_model(
    model: Recommender,
    stage: Stage,
    settings: Sequence[dict[str, Any]] | None = None,
    *,
    chunk_size: int = 2048,
    desc: str | None = None,
    progress: bool = True,
) -> list[tuple[dict[str, float], Outcomes]]:
    """Evaluate a fitted model on a stage under one or more score-time settings.

    Args:
        model: A fitted recommender.
        stage: Validation or test stage.
        settings: Score-time settings (``None``: the model as it is).
        chunk_size: Users scored at once.
        desc: Progress-bar label.
        progress: Show a tqdm bar.

    Returns:
        Per setting ``(metrics, outcomes)``.
    """
    with tqdm(
        total=len(stage.targets), desc=desc, unit="user", leave=False, disable=not progress
    ) as bar:
        if settings is None:
            return evaluate_scores(
                model.score,
                stage.histories,
                stage.targets,
                ks=DEFAULT_KS,
                chunk_size=chunk_size,
                progress=bar.update,
            )
        return evaluate_scores(
            lambda h: score_settings(model, h, settings),
            stage.histories,
            stage.targets,
            ks=DEFAULT_KS,
            chunk_size=chunk_size,
            progress=bar.update,
            n_settings=len(settings),
        )


@dataclass
class _SeedRun:
    metrics: dict[str, float]
    params: dict[str, Any]
    valid: float | None
    tried: list[dict[str, Any]]
    outcomes: Outcomes
    extras: dict[str, Any]


def _tune(
    spec: ModelSpec,
    factory: Callable[[dict], Recommender],
    stage: Stage,
    seed: int,
    chunk_size: int,
    progress: bool,
) -> tuple[dict, dict, float, list[dict[str, Any]], Recommender]:
    """Validation pass: every fit setting x its score settings; returns the best."""
    best: tuple[float, dict, dict] | None = None
    best_model: Recommender | None = None
    tried: list[dict[str, Any]] = []
    for fit_setting in spec.grid:
        model = factory(fit_setting)
        model.fit(stage.train, seed)
        settings = score_grid_of(model)
        results = evaluate_model(
            model,
            stage,
            settings,
            chunk_size=chunk_size,
            desc=f"{spec.name} valid {fit_setting}",
            progress=progress,
        )
        improved = False
        for setting, (metrics, _) in zip(settings, results, strict=True):
            value = metrics[TUNE_METRIC]
            tried.append(
                {
                    "fit": dict(fit_setting),
                    "score": dict(setting),
                    f"valid_{TUNE_METRIC}": value,
                    "valid_recall@10": metrics["recall@10"],
                }
            )
            if best is None or value > best[0]:
                best, improved = (value, fit_setting, setting), True
        if improved:
            best_model = model
        del model
    assert best is not None and best_model is not None
    return best[1], best[2], best[0], tried, best_model


def _run_seed(
    spec: ModelSpec,
    factory: Callable[[dict], Recommender],
    stages: dict[str, Stage],
    seed: int,
    chunk_size: int,
    progress: bool,
    with_valid_reports: bool,
) -> _SeedRun:
    """One seed: validation pass (if there is anything to choose), test refit, reports."""
    fit_setting, score_setting, valid = spec.grid[0], {}, None
    tried: list[dict[str, Any]] = []
    extras: dict[str, Any] = {}
    timing: dict[str, float] = {}
    probe = factory(spec.grid[0])
    tunable = len(spec.grid) > 1 or callable(getattr(probe, "score_grid", None))
    with_valid_reports = with_valid_reports and callable(getattr(probe, "valid_reports", None))
    del probe
    if tunable or with_valid_reports:
        start = time.perf_counter()
        fit_setting, score_setting, valid, tried, vmodel = _tune(
            spec, factory, stages["valid"], seed, chunk_size, progress
        )
        timing["valid_s"] = time.perf_counter() - start
        reports = getattr(vmodel, "valid_reports", None)
        if with_valid_reports and callable(reports):
            if score_setting:
                vmodel.set_score_params(**score_setting)  # type: ignore[attr-defined]
            start = time.perf_counter()
            extras.update(reports(stages, seed))
            timing["valid_reports_s"] = time.perf_counter() - start
        del vmodel
    start = time.perf_counter()
    model = factory(fit_setting)
    model.fit(stages["test"].train, seed)
    if score_setting:
        model.set_score_params(**score_setting)  # type: ignore[attr-defined]
    ((metrics, outcomes),) = evaluate_model(
        model,
        stages["test"],
        chunk_size=chunk_size,
        desc=f"{spec.name} test seed {seed}",
        progress=progress,
    )
    timing["test_s"] = time.perf_counter() - start
    reports = getattr(model, "test_reports", None)
    if callable(reports):
        start = time.perf_counter()
        extras.update(reports(stages["test"]))
        timing["test_reports_s"] = time.perf_counter() - start
    extras["timing"] = timing
    params = {"fit": dict(fit_setting), "score": dict(score_setting)}
    return _SeedRun(metrics, params, valid, tried, outcomes, extras)


def run_model(
    spec: ModelSpec,
    stages: dict[str, Stage],
    seeds: Sequence[int],
    *,
    chunk_size: int = 2048,
    progress: bool = True,
    report_seeds: Sequence[int] | None = None,
    chosen: dict[str, ModelResult] | None = None,
) -> ModelResult:
    """Tune, refit and test one model for every seed.

    Args:
        spec: The model.
        stages: ``{"valid": …, "test": …}`` from :func:`make_stage`.
        seeds: Seeds to report.
        chunk_size: Users scored at once.
        progress: Show progress bars.
        report_seeds: Seeds whose validation-stage model makes its ``valid_reports``
            (expensive, e.g. self-enhancement); ``None``: the first seed only.
        chosen: Results of the rows this one needs (``spec.needs``), by name.

    Returns:
        The model's row.
    """
    result = ModelResult(spec.name, list(seeds), [], [], [])
    rep = set(list(seeds)[:1] if report_seeds is None else report_seeds)
    with ResourceMeter() as meter:
        cached: _SeedRun | None = None
        for i, seed in enumerate(seeds):
            if cached is None or not spec.deterministic:
                factory = spec.factory
                if spec.needs:
                    factory = spec.bind(_chosen_for(spec, chosen or {}, i))
                start = time.perf_counter()
                try:
                    cached = _run_seed(
                        spec, factory, stages, seed, chunk_size, progress, seed in rep
                    )
                except Exception as exc:  # re-raised with the row and seed named
                    raise ModelFailed(spec.name, seed, exc) from exc
                result.seed_time_s.append(time.perf_counter() - start)
            else:
                result.seed_time_s.append(0.0)  # reused: a deterministic model runs once
            result.tuning.append(cached.tried)
            result.per_seed.append(dict(cached.metrics))
            result.params.append(cached.params)
            result.valid.append(cached.valid)
            result.outcomes.append(cached.outcomes)
            result.extras.setdefault("per_seed", []).append({"seed": seed, **cached.extras})
    result.time_s = meter.elapsed_s
    result.cpu_s = meter.cpu_s
    result.peak_rss_mb = meter.peak_mb
    return result


def _chosen_for(spec: ModelSpec, chosen: dict[str, ModelResult], seed_index: int) -> dict:
    missing = [n for n in spec.needs if n not in chosen]
    if missing:
        raise ValueError(f"{spec.name} needs the rows {missing} to be run first")
    return {n: chosen[n].params[min(seed_index, len(chosen[n].params) - 1)] for n in spec.needs}


def run_bench(
    dataset: ReplayDataset,
    models: Sequence[str],
    seeds: Sequence[int],
    *,
    chunk_size: int = 2048,
    progress: bool = True,
    on_result: Callable[[ModelResult], None] | None = None,
    report_seeds: Sequence[int] | None = None,
) -> list[ModelResult]:
    """Run every model on ``dataset`` (rows another row needs are run first).

    Args:
        dataset: The data.
        models: Row names (see :func:`experiments.replay.models.available_models`).
        seeds: Seeds.
        chunk_size: Users scored at once.
        progress: Show progress bars.
        on_result: Called after each model (e.g. to print or save partial results).
        report_seeds: Seeds with ``valid_reports`` (``None``: first seed).

    Returns:
        One result per model, in run order (prerequisites first).
    """
    order = with_prerequisites(list(models))
    specs = [get_model_spec(m) for m in order]  # resolve every name before running
    stages = {s: make_stage(dataset, s) for s in ("valid", "test")}
    results: list[ModelResult] = []
    done: dict[str, ModelResult] = {}
    for spec in specs:
        res = run_model(
            spec,
            stages,
            seeds,
            chunk_size=chunk_size,
            progress=progress,
            report_seeds=report_seeds,
            chosen=done,
        )
        done[spec.name] = res
        results.append(res)
        if on_result is not None:
            on_result(res)
    return results


def relative_gap(measured: float, published: float) -> float:
    """``|measured - published| / published`` (``inf`` when ``published`` is 0)."""
    return abs(measured - published) / published if published else math.inf
