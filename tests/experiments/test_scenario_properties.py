"""Property-based tests (hypothesis) of the scenario loader against the models' bounds.

Every numeric key of a scenario with a documented bound: a value inside the bound loads,
a value outside is rejected with one line naming the file, the line of that key and its
dotted path — whichever key it is.
"""

from __future__ import annotations

import math
import re
from typing import Any

import annotated_types as at
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from experiments.errors import ScenarioError
from experiments.scenario import Scenario, load_scenario
from tests.experiments.conftest import TINY_YAML


def numeric_fields(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple]:
    """(dotted path, type, lower, lower inclusive, upper, upper inclusive) of bounded numbers."""
    out = []
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += numeric_fields(annotation, path)
            continue
        if annotation not in (int, float):
            continue
        lo = hi = None
        lo_incl = hi_incl = True
        for meta in field.metadata:
            if isinstance(meta, at.Ge):
                lo = meta.ge
            elif isinstance(meta, at.Gt):
                lo, lo_incl = meta.gt, False
            elif isinstance(meta, at.Le):
                hi = meta.le
            elif isinstance(meta, at.Lt):
                hi, hi_incl = meta.lt, False
        if lo is not None or hi is not None:
            out.append((path, annotation, lo, lo_incl, hi, hi_incl))
    return out


FIELDS = [f for f in numeric_fields(Scenario) if f[0][0] in ("world", "seed", "episodes")]


def with_value(path: tuple[str, ...], value: Any) -> str:
    data = yaml.safe_load(TINY_YAML)
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return yaml.safe_dump(data, sort_keys=False)


def test_the_walk_finds_the_bounded_keys():
    paths = {".".join(f[0]) for f in FIELDS}
    assert {"seed", "episodes", "world.catalog.n_items", "world.users.n_users"} <= paths
    assert len(FIELDS) > 20


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_out_of_range_values_are_rejected_with_their_path(tmp_path, data):
    path, kind, lo, lo_incl, hi, hi_incl = data.draw(st.sampled_from(FIELDS))
    sides = [s for s, bound in (("low", lo), ("high", hi)) if bound is not None]
    side = data.draw(st.sampled_from(sides))
    step = data.draw(st.sampled_from([1, 2, 10, 1000]))
    if side == "low":
        value = lo - step if lo_incl else lo - (step - 1)
    else:
        value = hi + step if hi_incl else hi + (step - 1)
    value = kind(value)
    file = tmp_path / "scenario.yaml"
    text = with_value(path, value)
    file.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(file)
    dotted = ".".join(path)
    lines = str(caught.value).splitlines()
    match = [ln for ln in lines if f": {dotted}: must be" in ln]
    assert match, (dotted, value, lines)
    key_line = next(
        i + 1 for i, ln in enumerate(text.splitlines()) if re.match(rf"\s*{path[-1]}:", ln)
    )
    assert match[0].startswith(f"{file}:{key_line}: ")


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_in_range_values_load(tmp_path, data):
    path, kind, lo, lo_incl, hi, hi_incl = data.draw(st.sampled_from(FIELDS))
    if kind is int:
        low = lo if lo is not None else (hi - 50 if hi is not None else 0)
        low = low if lo_incl else low + 1
        high = hi if hi is not None else low + 50
        high = high if hi_incl else high - 1
        value = data.draw(st.integers(math.ceil(low), math.floor(min(high, low + 50))))
    else:
        low = lo if lo is not None else -10.0
        high = hi if hi is not None else low + 10.0
        value = data.draw(
            st.floats(low, high, exclude_min=not lo_incl, exclude_max=not hi_incl, allow_nan=False)
        )
    file = tmp_path / "scenario.yaml"
    file.write_text(with_value(path, value), encoding="utf-8")
    try:
        load_scenario(file)
    except ScenarioError as exc:
        # A value inside its own bound may still break a cross-field rule; that rule's
        # message must then name another key, never this key's own range.
        assert f"{'.'.join(path)}: must be" not in str(exc), str(exc)
