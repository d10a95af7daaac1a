"""The bench's model registry: row name → factory, validation grid, determinism, needs.

Classical rows are defined here; the OneFeed rows (``onefeed`` and its ablations
``onefeed-<part>``) come from :mod:`experiments.replay.onefeed_rec` (``ONEFEED_ROWS``),
imported lazily. A model class may define ``param_grid() -> list[dict]`` (constructor
settings tried on the validation stage, one fit each; default: one empty setting),
``score_grid()`` (score-time settings of a fitted model) and ``deterministic``
(default ``False``: it is fitted once per seed).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from types import ModuleType
from typing import Any

from experiments.errors import UserError
from experiments.replay.baselines import (
    EASE,
    SLIST,
    Blend,
    CoocKNN,
    ImplicitMF,
    Popularity,
    RandomScores,
    Transition,
)
from experiments.replay.baselines.blend import BLEND_COMPONENTS
from experiments.replay.protocol import Recommender, ReplayDataset

__all__ = [
    "CLASSICAL_MODELS",
    "ModelSpec",
    "ModelUnavailable",
    "available_models",
    "default_models",
    "get_model_spec",
    "load_onefeed_module",
    "with_prerequisites",
]

#: Classical rows, in the bench's default order.
CLASSICAL_MODELS = (
    "popularity",
    "popularity-all",
    "transition",
    "cooc-knn",
    "ease",
    "slist",
    "blend",
    "mf",
    "random",
)
ONEFEED_MODULE = "experiments.replay.onefeed_rec"
_CLASSES: dict[str, type] = {
    "transition": Transition,
    "cooc-knn": CoocKNN,
    "ease": EASE,
    "slist": SLIST,
    "mf": ImplicitMF,
    "random": RandomScores,
}


class ModelUnavailable(UserError):
    """A known model whose implementation is not importable."""


@dataclass(frozen=True)
class ModelSpec:
    """How the bench builds and tunes one model.

    Attributes:
        name: Row name.
        factory: ``fit setting -> Recommender``.
        grid: Fit settings tried on the validation stage (first is the default).
        deterministic: Results do not depend on the seed (fitted once, reused per seed).
        needs: Rows whose chosen settings this model is built from (run first).
        builder: With ``needs``: ``(chosen settings by row, fit setting) -> Recommender``.
        not_applicable: ``dataset -> reason`` when the row cannot run on a dataset (e.g.
            a query-head ablation without item text), else ``None``.
    """

    name: str
    factory: Callable[[dict], Recommender]
    grid: list[dict]
    deterministic: bool
    needs: tuple[str, ...] = ()
    builder: Callable[[dict[str, dict], dict], Recommender] | None = field(default=None)
    not_applicable: Callable[[ReplayDataset], str | None] | None = field(default=None)

    def bind(self, chosen: dict[str, dict]) -> Callable[[dict], Recommender]:
        """The factory given the chosen ``{"fit": …, "score": …}`` of every needed row."""
        if self.builder is None:
            return self.factory
        return partial(self.builder, chosen)


def load_onefeed_module() -> ModuleType:
    """Import the OneFeed adapter module.

    Raises:
        ModelUnavailable: If the module (or its ``ONEFEED_ROWS``) does not exist.
    """
    try:
        module = importlib.import_module(ONEFEED_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name and (ONEFEED_MODULE.startswith(exc.name) or exc.name.startswith("onefeed")):
            raise ModelUnavailable(
                f"model 'onefeed' is not available: cannot import {exc.name}"
            ) from exc
        raise
    if not hasattr(module, "ONEFEED_ROWS"):
        raise ModelUnavailable(f"model 'onefeed': {ONEFEED_MODULE} has no ONEFEED_ROWS")
    return module


def _onefeed_rows() -> tuple[str, ...]:
    try:
        return tuple(load_onefeed_module().ONEFEED_ROWS)
    except ModelUnavailable:
        return ()


def available_models() -> tuple[str, ...]:
    """Every row name the bench knows."""
    return (*CLASSICAL_MODELS, *_onefeed_rows())


def default_models() -> tuple[str, ...]:
    """Rows run when ``--models`` is not given: every classical row and every OneFeed row."""
    return available_models()


def with_prerequisites(names: list[str]) -> list[str]:
    """``names`` with the rows they need inserted before them (no duplicates)."""
    out: list[str] = []

    def add(name: str) -> None:
        if name in out:
            return
        for need in get_model_spec(name).needs:
            add(need)
        out.append(name)

    for n in names:
        add(n)
    return out


def _grid_of(cls: Any) -> list[dict]:
    grid = getattr(cls, "param_grid", None)
    return list(grid()) if callable(grid) else [{}]


def _build_blend(chosen: dict[str, dict], fit_setting: dict) -> Recommender:
    components = {
        name: (get_model_spec(name).factory, chosen[name]["fit"], chosen[name]["score"])
        for name in BLEND_COMPONENTS
    }
    return Blend(components, **fit_setting)


def get_model_spec(name: str) -> ModelSpec:
    """The spec of a model by row name.

    Args:
        name: One of :func:`available_models`.

    Raises:
        UserError: Unknown name.
        ModelUnavailable: A OneFeed row requested but the adapter is not importable.
    """
    if name == "popularity":
        return ModelSpec(name, lambda p: Popularity(use_all=False), [{}], True)
    if name == "popularity-all":
        return ModelSpec(name, lambda p: Popularity(use_all=True), [{}], True)
    if name in _CLASSES:
        cls = _CLASSES[name]
        deterministic = bool(getattr(cls, "deterministic", False))
        return ModelSpec(name, lambda p: cls(**p), _grid_of(cls), deterministic)
    if name == "blend":
        return ModelSpec(
            name,
            lambda p: _build_blend({}, p),
            [{}],
            True,
            needs=BLEND_COMPONENTS,
            builder=_build_blend,
        )
    if name == "onefeed" or name.startswith("onefeed-"):
        module = load_onefeed_module()
        if name in module.ONEFEED_ROWS:
            return module.row_spec(name, ModelSpec)
    raise UserError(f"unknown model {name!r}; choose from {', '.join(available_models())}")
