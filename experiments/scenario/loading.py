"""Reading scenario files: find, parse (with line marks), validate, override.

Loading rejects any problem before anything runs: an unreadable file as ``file: reason``,
a YAML syntax error as ``file:line:col: message``, and each unknown key, wrong type or
out-of-range value as one line ``file:line: dotted.key.path: reason``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from experiments.errors import ScenarioError, UserError
from experiments.project_paths import SCENARIOS_DIR
from experiments.scenario.error_messages import describe_error, format_validation_error
from experiments.scenario.marked_yaml import MarkedYaml, load_marked_yaml
from experiments.scenario.models import Scenario

__all__ = [
    "SCENARIOS_DIR",
    "available_scenarios",
    "load_scenario",
    "resolve_scenario_path",
    "scenario_from_data",
    "scenario_json_schema",
    "with_overrides",
]


def available_scenarios(directory: Path = SCENARIOS_DIR) -> list[str]:
    """Names (file stems) of the scenario files in ``directory``, sorted."""
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def resolve_scenario_path(ref: str | Path, directory: Path = SCENARIOS_DIR) -> Path:
    """Find a scenario file: an existing path, or a bare name in the scenarios folder.

    Args:
        ref: A file path, or a name such as ``quickstart``.
        directory: Where bare names are looked up.

    Returns:
        Path of an existing file.

    Raises:
        ScenarioError: If nothing is found (the message lists the known names).
    """
    path = Path(ref)
    if path.is_file():
        return path
    if path.exists():
        raise ScenarioError(f"{ref}: not a file")
    name = str(ref)
    if "/" not in name and "\\" not in name:
        for suffix in ("", ".yaml", ".yml"):
            candidate = directory / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    known = ", ".join(available_scenarios(directory)) or "none"
    raise ScenarioError(
        f"{ref}: scenario file not found (give a path, or one of the names in {directory}: {known})"
    )


def scenario_from_data(marked: MarkedYaml) -> Scenario:
    """Validate parsed YAML data into a :class:`Scenario`.

    Raises:
        ScenarioError: One line per problem, each ``file:line: dotted.path: reason``.
    """
    if not isinstance(marked.data, dict):
        kind = "empty" if marked.data is None else f"a {type(marked.data).__name__}"
        raise ScenarioError(
            f"{marked.source}:{marked.line_of(())}: a scenario must be a mapping of keys "
            f"(id, episodes, policy, world, ...), but the document is {kind}"
        )
    try:
        return Scenario.model_validate(marked.data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, marked, Scenario)) from None


def load_scenario(ref: str | Path, directory: Path = SCENARIOS_DIR) -> Scenario:
    """Read and validate a scenario file; nothing is run or written.

    Args:
        ref: A path to a YAML file, or a bare scenario name looked up in ``directory``.
        directory: The scenarios folder for bare names.

    Returns:
        The validated, frozen scenario (policy and metric names already resolved).

    Raises:
        ScenarioError: If the file is missing, unreadable, not YAML, or invalid.
    """
    path = resolve_scenario_path(ref, directory)
    source = str(ref) if Path(ref).is_file() else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise ScenarioError(f"{source}: cannot read file: {exc.strerror}") from None
    return scenario_from_data(load_marked_yaml(text, source))


def with_overrides(
    scenario: Scenario, *, seed: int | None = None, policy: str | None = None
) -> Scenario:
    """Return ``scenario`` with the command line's ``--seed`` / ``--policy`` applied.

    A ``--policy`` override replaces the policy with that name and default parameters
    (the scenario's parameters are kept when the name is unchanged).

    Raises:
        UserError: If the seed is negative or the policy name is unknown.
    """
    update: dict[str, Any] = {}
    if seed is not None:
        update["seed"] = seed
    if policy is not None and policy != scenario.policy.name:
        update["policy"] = {"name": policy}
    if not update:
        return scenario
    data = {**scenario.model_dump(mode="python"), **update}
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        option = {"seed": "--seed", "policy": "--policy"}.get(str(error["loc"][0]), "override")
        raise UserError(
            f"{option}: {describe_error(error, tuple(error['loc']), Scenario)}"
        ) from None


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of scenario files, from the pydantic models."""
    schema = Scenario.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
