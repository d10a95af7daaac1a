"""The bench's model registry: name → factory, validation grid and determinism.

``onefeed`` is resolved lazily from :mod:`experiments.replay.onefeed_rec`
(``OneFeedRecommender``); when that module is absent the model is reported unavailable.
A model class may define ``param_grid() -> list[dict]`` (constructor keyword arguments
tried on the validation stage; default: one empty setting) and ``deterministic``
(default ``False``: it is fitted once per seed).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from experiments.errors import UserError
from experiments.replay.baselines import EASE, CoocKNN, Popularity, Transition
from experiments.replay.protocol import Recommender

__all__ = [
    "ALL_MODELS",
    "CLASSICAL_MODELS",
    "ModelSpec",
    "ModelUnavailable",
    "get_model_spec",
    "load_onefeed_module",
]

CLASSICAL_MODELS = ("popularity", "popularity-all", "transition", "cooc-knn", "ease")
ALL_MODELS = (*CLASSICAL_MODELS, "onefeed")
ONEFEED_MODULE = "experiments.replay.onefeed_rec"


class ModelUnavailable(UserError):
    """A known model whose implementation is not importable (e.g. ``onefeed`` not yet built)."""


@dataclass(frozen=True)
class ModelSpec:
    """How the bench builds and tunes one model.

    Attributes:
        name: Row name.
        factory: ``params -> Recommender``.
        grid: Settings tried on the validation stage (first is the default).
        deterministic: Results do not depend on the seed (fitted once, reused per seed).
        module: The adapter module (``onefeed`` only), for its extra reports.
    """

    name: str
    factory: Callable[[dict], Recommender]
    grid: list[dict]
    deterministic: bool
    module: ModuleType | None = None


def load_onefeed_module() -> ModuleType:
    """Import the OneFeed adapter module.

    Raises:
        ModelUnavailable: If the module (or its ``OneFeedRecommender``) does not exist.
    """
    try:
        module = importlib.import_module(ONEFEED_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name and (ONEFEED_MODULE.startswith(exc.name) or exc.name.startswith("onefeed")):
            raise ModelUnavailable(
                f"model 'onefeed' is not available: cannot import {exc.name}"
            ) from exc
        raise
    if not hasattr(module, "OneFeedRecommender"):
        raise ModelUnavailable(f"model 'onefeed': {ONEFEED_MODULE} has no OneFeedRecommender")
    return module


def _grid_of(cls: object) -> list[dict]:
    grid = getattr(cls, "param_grid", None)
    return list(grid()) if callable(grid) else [{}]


def get_model_spec(name: str) -> ModelSpec:
    """The spec of a model by row name.

    Args:
        name: One of :data:`ALL_MODELS`.

    Raises:
        UserError: Unknown name.
        ModelUnavailable: ``onefeed`` requested but not importable.
    """
    if name == "popularity":
        return ModelSpec(name, lambda p: Popularity(use_all=False), [{}], True)
    if name == "popularity-all":
        return ModelSpec(name, lambda p: Popularity(use_all=True), [{}], True)
    if name == "transition":
        return ModelSpec(name, lambda p: Transition(**p), Transition.param_grid(), True)
    if name == "cooc-knn":
        return ModelSpec(name, lambda p: CoocKNN(**p), CoocKNN.param_grid(), True)
    if name == "ease":
        return ModelSpec(name, lambda p: EASE(**p), EASE.param_grid(), True)
    if name == "onefeed":
        module = load_onefeed_module()
        cls = module.OneFeedRecommender
        return ModelSpec(
            name,
            lambda p: cls(**p),
            _grid_of(cls),
            bool(getattr(cls, "deterministic", False)),
            module,
        )
    raise UserError(f"unknown model {name!r}; choose from {', '.join(ALL_MODELS)}")
