"""Scenario files: the validated model of an experiment, loading, interventions, reference.

The public names::

    from experiments.scenario import load_scenario, Scenario

Layout: :mod:`~experiments.scenario.models` (the frozen pydantic models),
:mod:`~experiments.scenario.loading` (find, parse, validate, override),
:mod:`~experiments.scenario.marked_yaml` (YAML with line marks) and
:mod:`~experiments.scenario.error_messages` (one line per problem, with the dotted key
path), :mod:`~experiments.scenario.interventions` (the schedule a run applies between
episodes) and :mod:`~experiments.scenario.reference_docs` (``docs/scenarios.md``).
"""

from experiments.scenario.loading import (
    SCENARIOS_DIR,
    available_scenarios,
    load_scenario,
    resolve_scenario_path,
    scenario_from_data,
    scenario_json_schema,
    with_overrides,
)
from experiments.scenario.models import (
    CatalogShockSpec,
    InterestShockSpec,
    InterventionSpec,
    OutputOptions,
    PolicySpec,
    PolicySwapSpec,
    Scenario,
    WarmupSpec,
    needs_ground_truth,
)

__all__ = [
    "SCENARIOS_DIR",
    "CatalogShockSpec",
    "InterestShockSpec",
    "InterventionSpec",
    "OutputOptions",
    "PolicySpec",
    "PolicySwapSpec",
    "Scenario",
    "WarmupSpec",
    "available_scenarios",
    "load_scenario",
    "needs_ground_truth",
    "resolve_scenario_path",
    "scenario_from_data",
    "scenario_json_schema",
    "with_overrides",
]
