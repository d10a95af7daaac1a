"""The validated, frozen model of one experiment (what a scenario file may say).

A scenario YAML names an experiment (``id``, versioned as ``name-vN``), the root seed,
the number of episodes, the policy (a registered name, or ``{name, params}``), the world
(:class:`sim.config.WorldConfig`) and output options. Validation resolves every registry
name (policies, metrics) and rejects unknown keys, wrong types, out-of-range values and
cross-field problems; :mod:`experiments.scenario.loading` reads files into these models.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from experiments.metrics import available_metrics
from policies import available_policies, make_policy
from sim.config import WorldConfig

__all__ = [
    "CatalogShockSpec",
    "InterestShockSpec",
    "InterventionSpec",
    "OutputOptions",
    "PolicySpec",
    "PolicySwapSpec",
    "Scenario",
    "WarmupSpec",
    "needs_ground_truth",
]

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]*(?:-[a-z0-9_]+)*-v[1-9][0-9]*$")

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class PolicySpec(BaseModel):
    """Which policy serves the feed and search pages, and its constructor parameters."""

    model_config = _FROZEN

    name: str = Field(description="Registered policy name, e.g. `popularity` or `random`.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Keyword arguments of the policy's constructor, as documented by the policy.",
    )

    @model_validator(mode="after")
    def _check_registered(self) -> PolicySpec:
        known = available_policies()
        if self.name not in known:
            raise ValueError(f"unknown policy {self.name!r}; known policies: {', '.join(known)}")
        try:
            make_policy(self.name, **self.params)
        except (TypeError, ValueError, KeyError) as exc:
            # KeyError: a parameter naming another policy (epsilon-greedy's ``base``).
            reason = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            raise ValueError(f"invalid params for policy {self.name!r}: {reason}") from None
        return self


def needs_ground_truth(spec: PolicySpec) -> bool:
    """Whether the policy of ``spec`` declares ``needs_ground_truth`` (an oracle)."""
    return bool(getattr(make_policy(spec.name, **spec.params), "needs_ground_truth", False))


def _policy_from_name(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class WarmupSpec(BaseModel):
    """Warm start: the first episodes are served by another policy, then the measured one."""

    model_config = _FROZEN

    episodes: int = Field(
        default=0,
        ge=0,
        description="Number of warm-up episodes served by `warmup.policy` before the "
        "scenario's policy takes over (0: no warm-up). The measured policy's `update` "
        "receives their logs, one episode at a time, before its first episode; summaries "
        "of `onefeed compare` leave them out.",
    )
    policy: Annotated[
        PolicySpec,
        BeforeValidator(_policy_from_name, json_schema_input_type=str | PolicySpec),
    ] = Field(
        default_factory=lambda: PolicySpec(name="popularity"),
        description="The warm-up policy: a name, or a mapping `{name, params}`.",
    )


class _InterventionBase(BaseModel):
    model_config = _FROZEN

    episode: int = Field(
        ge=1,
        description="Applied between episodes `episode - 1` and `episode`, before the "
        "latter starts (episodes); must be less than the scenario's `episodes`.",
    )


class InterestShockSpec(_InterventionBase):
    """Interest shock: a seeded random share of users jump towards new topic mixtures."""

    kind: Literal["interest_shock"] = Field(description="`interest_shock`.")
    share: float = Field(ge=0, le=1, description="Share of users shocked (fraction).")
    strength: float = Field(
        ge=0,
        le=1,
        description="Weight of the move towards the random target: interests become "
        "(1 - strength) * interests + strength * target (fraction).",
    )
    concentration: float = Field(
        default=0.3,
        gt=0,
        le=100,
        description="Dirichlet concentration of the random targets (dimensionless).",
    )
    shared_target: bool = Field(
        default=False,
        description="One target for every shocked user (a common trend) instead of one each.",
    )


class CatalogShockSpec(_InterventionBase):
    """Catalogue shock: a burst of new items and/or retiring the most clicked items."""

    kind: Literal["catalog_shock"] = Field(description="`catalog_shock`.")
    n_new_items: int = Field(
        default=0, ge=0, le=1_000_000, description="New items released at once (items)."
    )
    topics: list[int] = Field(
        default_factory=list,
        description="Latent topics the new items are about; empty means the catalogue's "
        "usual topic mix.",
    )
    retire_popular_share: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="Share of the available items, the most clicked so far, made "
        "unavailable (fraction).",
    )

    @model_validator(mode="after")
    def _check_something(self) -> CatalogShockSpec:
        if self.n_new_items == 0 and self.retire_popular_share == 0:
            raise ValueError("a catalog_shock needs n_new_items > 0 or retire_popular_share > 0")
        if any(t < 0 for t in self.topics):
            raise ValueError(f"topics must be >= 0 (got {self.topics})")
        if self.topics and self.n_new_items == 0:
            raise ValueError("topics are given but n_new_items is 0")
        return self


class PolicySwapSpec(_InterventionBase):
    """Policy swap: another policy serves from this episode on."""

    kind: Literal["policy_swap"] = Field(description="`policy_swap`.")
    policy: Annotated[
        PolicySpec,
        BeforeValidator(_policy_from_name, json_schema_input_type=str | PolicySpec),
    ] = Field(description="The new policy: a name, or a mapping `{name, params}`.")
    replay_history: bool = Field(
        default=True,
        description="Before serving, the new policy's `update` receives every past "
        "episode's log in order (read back from the run directory); false: it starts "
        "from nothing.",
    )


#: One intervention; the ``kind`` key selects the model.
InterventionSpec = Annotated[
    InterestShockSpec | CatalogShockSpec | PolicySwapSpec, Field(discriminator="kind")
]


class OutputOptions(BaseModel):
    """What a run writes besides the manifest, the event log and the metrics table."""

    model_config = _FROZEN

    plots: bool = Field(default=True, description="Draw `plots/*.png` at the end of the run.")
    truth_snapshots: bool = Field(
        default=True,
        description="Save the simulator's ground-truth user state per episode as "
        "`truth/episode-NNNN.npz`, plus `truth/initial.npz`; needed by drift metrics.",
    )
    metrics: list[str] | None = Field(
        default=None,
        description="Metric names to compute after each episode; null means every "
        "registered metric.",
    )

    @field_validator("metrics")
    @classmethod
    def _check_metrics(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        known = available_metrics()
        unknown = [name for name in value if name not in known]
        if unknown:
            raise ValueError(f"unknown metric {unknown[0]!r}; known metrics: {', '.join(known)}")
        return value


class Scenario(BaseModel):
    """One experiment: a world, a policy, a seed and a number of episodes."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="OneFeed-Sim scenario")

    id: str = Field(
        description="Versioned scenario id `name-vN`, lower-case, e.g. `quickstart-v1`; "
        "bump N when the semantics change."
    )
    description: str = Field(default="", description="What the scenario is for.")
    seed: int = Field(default=0, ge=0, description="Root seed of the run; `--seed` overrides it.")
    episodes: int = Field(ge=1, description="Number of episodes to simulate.")
    allow_ground_truth: bool = Field(
        default=False,
        description="Allow a policy that sees the simulator's ground truth, such as "
        "`oracle`; its results are an upper bound, never a real policy's.",
    )
    policy: Annotated[
        PolicySpec,
        BeforeValidator(_policy_from_name, json_schema_input_type=str | PolicySpec),
    ] = Field(description="A policy name, or a mapping `{name, params}`.")
    warmup: WarmupSpec = Field(
        default_factory=WarmupSpec,
        description="Warm start: episodes served by another policy before the measured one.",
    )
    world: WorldConfig = Field(
        default_factory=WorldConfig,
        description="The simulated world: catalogue, users, behaviour, serving.",
    )
    interventions: list[InterventionSpec] = Field(
        default_factory=list,
        description="Shocks applied between episodes, each a mapping with `kind` "
        "(`interest_shock`, `catalog_shock` or `policy_swap`) and `episode`; see the "
        "sections below.",
    )
    output: OutputOptions = Field(default_factory=OutputOptions, description="What the run writes.")

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not ID_PATTERN.match(value):
            raise ValueError(
                f"must be a versioned id like 'quickstart-v1' (lower-case name, "
                f"then '-v' and a version number) (got {value!r})"
            )
        return value

    @field_validator("policy")
    @classmethod
    def _check_ground_truth(cls, value: PolicySpec, info: ValidationInfo) -> PolicySpec:
        if needs_ground_truth(value) and not info.data.get("allow_ground_truth", False):
            raise ValueError(
                f"the {value.name!r} policy sees the simulator's ground truth (an upper "
                "bound); set `allow_ground_truth: true` in the scenario to run it"
            )
        return value

    @field_validator("warmup")
    @classmethod
    def _check_warmup(cls, value: WarmupSpec, info: ValidationInfo) -> WarmupSpec:
        episodes = info.data.get("episodes")
        if value.episodes and episodes is not None and value.episodes >= episodes:
            raise ValueError(
                f"episodes ({value.episodes}) must be less than the scenario's episodes "
                f"({episodes}), so that at least one episode is served by the measured policy"
            )
        if (
            value.episodes
            and needs_ground_truth(value.policy)
            and not info.data.get("allow_ground_truth", False)
        ):
            raise ValueError(
                f"the warm-up policy {value.policy.name!r} sees the simulator's ground truth; "
                "set `allow_ground_truth: true` in the scenario to use it"
            )
        return value

    @model_validator(mode="after")
    def _check_calibrated(self) -> Scenario:
        spec = self.world.from_data
        if spec is not None and spec.warm_start and self.warmup.episodes:
            raise ValueError(
                "world.from_data.warm_start and warmup.episodes cannot be combined: the "
                "real log warm-starts the policy that serves episode 0"
            )
        return self

    @model_validator(mode="after")
    def _check_interventions(self) -> Scenario:
        errors = [
            InitErrorDetails(
                type=PydanticCustomError("value_error", "{error}", {"error": reason}),
                loc=("interventions", i, key),
                input=value,
            )
            for i, spec in enumerate(self.interventions)
            for key, value, reason in _intervention_problems(spec, self)
        ]
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    @property
    def warmup_episodes(self) -> int:
        """Number of warm-up episodes (0 when the scenario has no warm start)."""
        return self.warmup.episodes

    @property
    def policy_name(self) -> str:
        """Registered name of the scenario's policy."""
        return self.policy.name


def _intervention_problems(spec: Any, scenario: Scenario) -> list[tuple[str, Any, str]]:
    """``(key, value, reason)`` of each cross-field problem of one intervention."""
    problems: list[tuple[str, Any, str]] = []
    if spec.episode >= scenario.episodes:
        problems.append(
            (
                "episode",
                spec.episode,
                f"must be < the scenario's episodes ({scenario.episodes}) (got {spec.episode})",
            )
        )
    if isinstance(spec, CatalogShockSpec):
        n_topics = scenario.world.catalog.n_topics
        bad = [t for t in spec.topics if t >= n_topics]
        if bad:
            problems.append(
                ("topics", bad, f"topics must be < world.catalog.n_topics ({n_topics}) (got {bad})")
            )
    if isinstance(spec, PolicySwapSpec):
        if scenario.warmup.episodes and spec.episode <= scenario.warmup.episodes:
            problems.append(
                (
                    "episode",
                    spec.episode,
                    f"a policy swap must come after the warm-up ({scenario.warmup.episodes} "
                    f"episodes) (got {spec.episode})",
                )
            )
        if needs_ground_truth(spec.policy) and not scenario.allow_ground_truth:
            problems.append(
                (
                    "policy",
                    spec.policy.name,
                    f"the {spec.policy.name!r} policy sees the simulator's ground truth; set "
                    "`allow_ground_truth: true` in the scenario to swap it in",
                )
            )
    return problems
