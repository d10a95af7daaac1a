"""Reporting: plots, tables and the one-page reports of runs and comparisons.

Everything here reads result files only (``metrics.parquet``, ``per_run.parquet``,
``truth/``), so any figure or report can be redrawn without rerunning::

    from experiments.reporting import plot_directory
    plot_directory("runs/quickstart-v1-onefeed-seed0-...")

Layout: :mod:`~experiments.reporting.run_plots` (one run's metrics over episodes),
:mod:`~experiments.reporting.compare_plots` (policies with seed bands),
:mod:`~experiments.reporting.drift_plots` (Lorenz curves, interest trajectories, topic
heatmaps), :mod:`~experiments.reporting.compare_report` (per-run and summary tables),
:mod:`~experiments.reporting.stats` (paired t-intervals),
:mod:`~experiments.reporting.render` (Markdown and HTML) and
:mod:`~experiments.reporting.report` (what a directory holds, and its report).
"""

from experiments.reporting.report import (
    DirectoryInfo,
    inspect_directory,
    plot_directory,
    write_report,
)

__all__ = ["DirectoryInfo", "inspect_directory", "plot_directory", "write_report"]
