"""The application: scenarios, runs and comparisons, metrics, reports, the CLI, envs, replay.

Subpackages, in the manner of Gymnasium's ``envs/``, ``spaces/``, ``wrappers/``:

* :mod:`experiments.scenario` — scenario files: validated models, loading, interventions;
* :mod:`experiments.runner` — one run, its directory, comparisons, evaluation;
* :mod:`experiments.metrics` — the metric registry and one module per metric family;
* :mod:`experiments.reporting` — plots, tables and reports from result files;
* :mod:`experiments.cli` — the ``onefeed`` command line;
* :mod:`experiments.envs` — the gymnasium environments (registered on import of this
  package, by string entry points);
* :mod:`experiments.replay` and :mod:`experiments.replay.data` — the offline replay bench and
  its dataset loaders; :mod:`experiments.validation` — published feedback-loop studies;
  :mod:`experiments.bench` — benchmark scripts.

:func:`evaluate_policy` is re-exported lazily (it needs gymnasium's wrappers).
"""

from typing import Any

from experiments.envs import FEED_ID, POPULATION_ID

__all__ = ["FEED_ID", "POPULATION_ID", "evaluate_policy"]


def __getattr__(name: str) -> Any:
    """Lazily export :func:`experiments.runner.evaluate.evaluate_policy`."""
    if name == "evaluate_policy":
        from experiments.runner.evaluate import evaluate_policy

        return evaluate_policy
    raise AttributeError(f"module 'experiments' has no attribute {name!r}")
