"""The application: scenario loading, run / compare / replay, metrics, plots, CLI."""

from typing import Any

__all__ = ["evaluate_policy"]


def __getattr__(name: str) -> Any:
    """Lazily export :func:`experiments.evaluate.evaluate_policy` (imports gymnasium)."""
    if name == "evaluate_policy":
        from experiments.evaluate import evaluate_policy

        return evaluate_policy
    raise AttributeError(f"module 'experiments' has no attribute {name!r}")
