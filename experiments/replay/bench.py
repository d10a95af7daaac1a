"""Run models through the leave-one-out protocol: tune on validation, refit, test.

For each model and seed: every setting of the model's grid is fitted on the
validation-stage prefixes and evaluated on the validation item; the best setting by
NDCG@10 (ties: first in the grid) is refitted on the test-stage prefixes (up to and
including the validation item) and evaluated on the test item. A model with a single
setting skips the validation pass. Deterministic models are run once and their result is
reported for every seed. Fit + evaluation wall time and peak RSS are measured per model.

A model with an adapter module (OneFeed) also gets its extra reports: the query-head
metrics of the test-stage model for every seed, and offline self-enhancement for the
``self_enhance_seeds`` only (default: the first seed). Self-enhancement forces a
validation pass for that seed and starts from the fitted validation-stage model (passed
as ``valid_model``), so it never refits from scratch.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from experiments.replay.metrics import DEFAULT_KS, evaluate_scores
from experiments.replay.models import ModelSpec, get_model_spec
from experiments.replay.protocol import Recommender, ReplayDataset
from experiments.replay.resources import ResourceMeter
from experiments.replay.split import Stage, make_stage

__all__ = ["METRIC_NAMES", "ModelResult", "evaluate_model", "run_bench", "run_model"]

METRIC_NAMES = ("recall@5", "ndcg@5", "recall@10", "ndcg@10")
TUNE_METRIC = "ndcg@10"
QUERY_FN = "query_metrics"
SELF_ENHANCE_FN = "offline_self_enhancement"


@dataclass
class ModelResult:
    """The measured row of one model.

    Attributes:
        model: Row name.
        seeds: Seeds reported.
        per_seed: Test metrics per seed (same order as ``seeds``).
        params: Chosen setting per seed.
        valid: Validation metric of the chosen setting per seed (``None`` if not tuned).
        time_s: Wall time of all fitting and evaluation of this model.
        peak_rss_mb: Peak resident memory of the process while this model ran.
        extras: Additional reports (OneFeed query-head metrics, self-enhancement rounds).
        tuning: Per seed, the validation NDCG@10 of every grid setting tried.
        seed_time_s: Per seed, wall time of that seed's run (0 when a deterministic
            model's first run is reused).
    """

    model: str
    seeds: list[int]
    per_seed: list[dict[str, float]]
    params: list[dict]
    valid: list[float | None]
    time_s: float = 0.0
    peak_rss_mb: float = 0.0
    extras: dict[str, Any] = field(default_factory=dict)
    tuning: list[list[dict[str, Any]]] = field(default_factory=list)
    seed_time_s: list[float] = field(default_factory=list)

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
    *,
    chunk_size: int = 2048,
    desc: str | None = None,
    progress: bool = True,
) -> dict[str, float]:
    """Evaluate a fitted model on a stage (masked full ranking, chunked).

    Args:
        model: A fitted recommender.
        stage: Validation or test stage.
        chunk_size: Users scored at once.
        desc: Progress-bar label.
        progress: Show a tqdm bar.

    Returns:
        Recall/NDCG at 5 and 10.
    """
    with tqdm(
        total=len(stage.targets), desc=desc, unit="user", leave=False, disable=not progress
    ) as bar:
        metrics, _ = evaluate_scores(
            model.score,
            stage.histories,
            stage.targets,
            ks=DEFAULT_KS,
            chunk_size=chunk_size,
            progress=bar.update,
        )
    return metrics


def _call_adapter(fn: Callable[..., Any], available: dict[str, Any]) -> Any:
    """Call ``fn`` with the keyword arguments it names among ``available``."""
    params = inspect.signature(fn).parameters
    kwargs = {}
    for pname, p in params.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if pname in available:
            kwargs[pname] = available[pname]
        elif p.default is p.empty:
            raise TypeError(f"{fn.__name__}() needs argument {pname!r} the bench cannot supply")
    return fn(**kwargs)


def _adapter_available(model: Recommender, stages: dict[str, Stage], seed: int) -> dict[str, Any]:
    """The keyword arguments the bench can hand to an adapter's extra reports."""
    test = stages["test"]
    return {
        "model": model,
        "recommender": model,
        "rec": model,
        "dataset": test.train.dataset,
        "data": test.train,
        "train": test.train,
        "train_data": test.train,
        "stage": test,
        "test_stage": test,
        "valid_stage": stages["valid"],
        "stages": stages,
        "histories": test.histories,
        "targets": test.targets,
        "users": test.users,
        "seed": seed,
        "ks": DEFAULT_KS,
        "evaluate": evaluate_model,
    }


def _adapter_extra(
    spec: ModelSpec, fn_name: str, available: dict[str, Any]
) -> tuple[Any, float] | None:
    """Call one extra report of the adapter (``None`` if it has none) and time it."""
    fn = getattr(spec.module, fn_name, None) if spec.module is not None else None
    if fn is None:
        return None
    start = time.perf_counter()
    try:
        value = _call_adapter(fn, available)
    except Exception as exc:  # the adapter is another module's code: report, go on
        value = {"error": f"{type(exc).__name__}: {exc}"}
    return value, time.perf_counter() - start


def _wants_self_enhancement(spec: ModelSpec) -> bool:
    return spec.module is not None and hasattr(spec.module, SELF_ENHANCE_FN)


def _run_seed(
    spec: ModelSpec,
    stages: dict[str, Stage],
    seed: int,
    chunk_size: int,
    progress: bool,
    self_enhance: bool = False,
) -> tuple[dict[str, float], dict, float | None, dict[str, Any], list[dict[str, Any]]]:
    """One seed: validation pass (if tuned or self-enhancing), extras, test refit."""
    best_params, best_valid = spec.grid[0], None
    tried: list[dict[str, Any]] = []
    extras: dict[str, Any] = {}
    timing: dict[str, float] = {}
    self_enhance = self_enhance and _wants_self_enhancement(spec)
    if len(spec.grid) > 1 or self_enhance:
        start = time.perf_counter()
        best_model = None
        for params in spec.grid:
            model = spec.factory(params)
            model.fit(stages["valid"].train, seed)
            value = evaluate_model(
                model,
                stages["valid"],
                chunk_size=chunk_size,
                desc=f"{spec.name} valid {params}",
                progress=progress,
            )
            tried.append({"params": dict(params), f"valid_{TUNE_METRIC}": value[TUNE_METRIC]})
            if best_valid is None or value[TUNE_METRIC] > best_valid:
                best_params, best_valid = params, value[TUNE_METRIC]
                if self_enhance:
                    best_model = model
            del model
        timing["valid_fit_eval_s"] = time.perf_counter() - start
        if self_enhance:
            # offline self-enhancement starts from the fitted validation-stage model
            available = _adapter_available(best_model, stages, seed)
            available["valid_model"] = best_model
            done = _adapter_extra(spec, SELF_ENHANCE_FN, available)
            if done is not None:
                extras["self_enhancement"], timing["self_enhancement_s"] = done
            del best_model, available
    start = time.perf_counter()
    model = spec.factory(best_params)
    model.fit(stages["test"].train, seed)
    metrics = evaluate_model(
        model,
        stages["test"],
        chunk_size=chunk_size,
        desc=f"{spec.name} test seed {seed}",
        progress=progress,
    )
    timing["test_fit_eval_s"] = time.perf_counter() - start
    done = _adapter_extra(spec, QUERY_FN, _adapter_available(model, stages, seed))
    if done is not None:
        extras["query_head"], timing["query_head_s"] = done
    if extras:
        extras["timing"] = timing
    return metrics, best_params, best_valid, extras, tried


def run_model(
    spec: ModelSpec,
    stages: dict[str, Stage],
    seeds: Sequence[int],
    *,
    chunk_size: int = 2048,
    progress: bool = True,
    self_enhance_seeds: Sequence[int] | None = None,
) -> ModelResult:
    """Tune, refit and test one model for every seed.

    Args:
        spec: The model.
        stages: ``{"valid": …, "test": …}`` from :func:`make_stage`.
        seeds: Seeds to report.
        chunk_size: Users scored at once.
        progress: Show progress bars.
        self_enhance_seeds: Seeds for which the adapter's offline self-enhancement runs
            (it is expensive); ``None``: the first seed only.

    Returns:
        The model's row.
    """
    result = ModelResult(spec.name, list(seeds), [], [], [])
    se_seeds = set(list(seeds)[:1] if self_enhance_seeds is None else self_enhance_seeds)
    with ResourceMeter() as meter:
        cached = None
        for seed in seeds:
            if cached is None or not spec.deterministic:
                start = time.perf_counter()
                cached = _run_seed(spec, stages, seed, chunk_size, progress, seed in se_seeds)
                result.seed_time_s.append(time.perf_counter() - start)
            else:
                result.seed_time_s.append(0.0)  # reused: a deterministic model runs once
            metrics, params, valid, extras, tried = cached
            result.tuning.append(tried)
            result.per_seed.append(dict(metrics))
            result.params.append(dict(params))
            result.valid.append(valid)
            if extras:
                result.extras.setdefault("per_seed", []).append({"seed": seed, **extras})
    result.time_s = meter.elapsed_s
    result.peak_rss_mb = meter.peak_mb
    return result


def run_bench(
    dataset: ReplayDataset,
    models: Sequence[str],
    seeds: Sequence[int],
    *,
    chunk_size: int = 2048,
    progress: bool = True,
    on_result: Callable[[ModelResult], None] | None = None,
    self_enhance_seeds: Sequence[int] | None = None,
) -> list[ModelResult]:
    """Run every model on ``dataset``.

    Args:
        dataset: The data.
        models: Row names (see :data:`experiments.replay.models.ALL_MODELS`).
        seeds: Seeds.
        chunk_size: Users scored at once.
        progress: Show progress bars.
        on_result: Called after each model (e.g. to print or save partial results).
        self_enhance_seeds: Seeds with offline self-enhancement (``None``: first seed).

    Returns:
        One result per model, in the given order.
    """
    specs = [get_model_spec(m) for m in models]  # resolve every name before running
    stages = {s: make_stage(dataset, s) for s in ("valid", "test")}
    results = []
    for spec in specs:
        res = run_model(
            spec,
            stages,
            seeds,
            chunk_size=chunk_size,
            progress=progress,
            self_enhance_seeds=self_enhance_seeds,
        )
        results.append(res)
        if on_result is not None:
            on_result(res)
    return results


def relative_gap(measured: float, published: float) -> float:
    """``|measured - published| / published`` (``inf`` when ``published`` is 0)."""
    return abs(measured - published) / published if published else math.inf
