"""Metric panels: axis labels with units, definitions in titles, constants marked as such.

Figures are inspected as matplotlib objects (axes, texts, limits), never as pixels.
"""

import math

import numpy as np
import pandas as pd
import pytest

from experiments.metrics import axis_label
from experiments.reporting import compare_plots, run_plots
from experiments.reporting.panels import constant_value, constant_ylim

NAN = math.nan


def _table(series: dict[str, list[float]]) -> pd.DataFrame:
    rows = [(e, name, v) for name, values in series.items() for e, v in enumerate(values)]
    return pd.DataFrame(rows, columns=["episode", "metric", "value"])


def _texts(ax, gid: str) -> list[str]:
    return [t.get_text() for t in ax.texts if t.get_gid() == gid]


# ----------------------------------------------------------------- constants
def test_constant_value():
    assert constant_value([0.5, 0.5, 0.5]) == 0.5
    assert constant_value([NAN, 0.5, 0.5]) == 0.5  # episodes without a value skipped
    assert constant_value([3.808, 3.808 + 4e-16]) == 3.808  # round-off only
    assert constant_value([0.5, 0.5000001]) is None  # a real change, however small
    assert constant_value([0.5]) is None  # one value says nothing about change
    assert constant_value([NAN, NAN]) is None
    assert constant_value([]) is None


def test_constant_ylim_spans_zero_to_twice_the_value():
    assert constant_ylim([0.048]) == (0.0, 0.096)
    assert constant_ylim([-2.0]) == (-4.0, 0.0)
    assert constant_ylim([0.0]) == (-1.0, 1.0)
    assert constant_ylim([-1.0, 3.0]) == (-2.0, 6.0)


# ----------------------------------------------------------------- one run
SERIES = {
    "ctr": [0.03, 0.04, 0.045],
    "dwell_per_session_s": [60.0, 100.0, 120.0],
    "welfare": [2.0, 2.1, 2.2],
    "health_sid_collapse_l0": [0.0481, 0.0481, 0.0481],
    "health_label_shift_js_bits": [NAN, NAN, NAN],
    "health_query_distinct_1": [0.5, 0.5, 0.5000001],
}


def test_a_constant_series_is_marked_and_drawn_on_a_fixed_range():
    fig = run_plots.metric_figure(_table(SERIES), "health_sid_collapse_l0")
    [ax] = fig.axes
    assert _texts(ax, "constant") == ["constant: 0.0481"]
    assert ax.get_ylim() == pytest.approx((0.0, 0.0962))
    assert ax.get_xlabel() == "episode"
    assert ax.get_ylabel() == "SID collapse, level 0 [0, 1]"
    # the health value's one-line definition is in the title, as for registered metrics
    assert ax.get_title().startswith("health_sid_collapse_l0\nCodebook collapse at SID level 0")


def test_a_varying_series_is_not_marked_and_keeps_its_automatic_range():
    for name in ("ctr", "health_query_distinct_1"):
        [ax] = run_plots.metric_figure(_table(SERIES), name).axes
        assert _texts(ax, "constant") == []
        assert ax.get_ylim()[0] > 0.0  # auto-scaled around the data, not anchored at 0
    [ax] = run_plots.metric_figure(_table(SERIES), "dwell_per_session_s").axes
    assert ax.get_ylabel() == "dwell per session (s)"
    assert ax.get_title().startswith("dwell_per_session_s\nSeconds of dwell")


def test_a_series_without_values_says_so():
    [ax] = run_plots.metric_figure(_table(SERIES), "health_label_shift_js_bits").axes
    assert _texts(ax, "no-values") == ["no values"]
    assert _texts(ax, "constant") == []


def test_several_runs_constant_at_different_values_are_listed():
    table = pd.concat(
        [
            _table({"health_sid_collision_rate": [0.7, 0.7]}).assign(policy="a", seed=0),
            _table({"health_sid_collision_rate": [0.2, 0.2]}).assign(policy="b", seed=0),
        ]
    )
    [ax] = run_plots.metric_figure(table, "health_sid_collision_rate").axes
    assert _texts(ax, "constant") == ["constant:\na 0 0.7\nb 0 0.2"]
    assert ax.get_ylim() == pytest.approx((0.0, 1.4))


def test_every_overview_panel_is_labelled_and_families_start_their_own_rows():
    fig = run_plots.overview_figure(_table(SERIES), n_cols=3)
    titles = [ax.get_title() for ax in fig.axes]
    # engagement (2), feedback loop (1), then health (4) in rows of 3
    assert titles == [
        "ctr",
        "dwell_per_session_s",
        "welfare",
        "health_label_shift_js_bits",
        "health_query_distinct_1",
        "health_sid_collapse_l0",
    ]
    rows = [ax.get_subplotspec().rowspan.start for ax in fig.axes]
    assert rows == [0, 0, 1, 2, 2, 2]
    for ax in fig.axes:
        assert ax.get_xlabel() == "episode"
        assert ax.get_ylabel() == axis_label(ax.get_title(), 26)
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert all(float(t).is_integer() for t in ticks)
    assert [t.get_text() for t in fig.texts] == [
        "Engagement",
        "Feedback loop",
        "Generative-model health",
    ]
    constant = [ax.get_title() for ax in fig.axes if _texts(ax, "constant")]
    assert constant == ["health_sid_collapse_l0"]


# ----------------------------------------------------------------- a comparison
def _per_run() -> pd.DataFrame:
    rows = []
    for policy, seed in (("onefeed", 0), ("onefeed", 1), ("popularity", 0), ("popularity", 1)):
        for episode in range(3):
            rows.append((policy, seed, episode, "ctr", 0.03 + 0.01 * episode + 0.001 * seed))
            if policy == "onefeed":  # only onefeed reports health
                rows.append((policy, seed, episode, "health_sid_entropy_l0_bits", 3.5))
    return pd.DataFrame(rows, columns=["policy", "seed", "episode", "metric", "value"])


def _draw_args():
    return (str, frozenset(), 0, ())


def test_compare_figures_label_their_axes_and_mark_constants():
    bands = compare_plots.episode_bands(_per_run())
    policies = ["onefeed", "popularity"]
    fig = compare_plots.metric_figure(
        bands, "health_sid_entropy_l0_bits", policies, 2, _draw_args()
    )
    [ax] = fig.axes
    assert ax.get_ylabel() == "SID entropy, level 0 (bits)" and ax.get_xlabel() == "episode"
    assert _texts(ax, "constant") == ["constant: 3.5"]
    assert ax.get_ylim() == pytest.approx((0.0, 7.0))
    assert "Entropy of the items' level-0 semantic-ID codes" in ax.get_title()
    [ax] = compare_plots.metric_figure(bands, "ctr", policies, 2, _draw_args()).axes
    assert _texts(ax, "constant") == [] and ax.get_ylabel() == "CTR (ratio)"
    grid = compare_plots.panels_figure(
        bands, ["ctr", "health_sid_entropy_l0_bits"], policies, _draw_args()
    )
    assert [ax.get_xlabel() for ax in grid.axes] == ["episode", "episode"]
    assert [ax.get_ylabel() for ax in grid.axes] == [
        "CTR (ratio)",
        axis_label("health_sid_entropy_l0_bits", 26),
    ]
    assert [bool(_texts(ax, "constant")) for ax in grid.axes] == [False, True]
    assert np.isfinite(bands["mean"]).all()
