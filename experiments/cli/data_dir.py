"""The ``--data-dir`` option of commands that may read real datasets (calibrated worlds)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

#: The data-directory variable of ``experiments.replay.data.paths`` (not imported: the
#: command line stays light and ``cli`` does not import ``replay``, which imports ``cli``).
ENV_VAR = "ONEFEED_DATA"

__all__ = ["data_dir_option"]


def _use_data_dir(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    """Point ``$ONEFEED_DATA`` at ``value`` for this process and the ones it starts."""
    if value is not None:
        os.environ[ENV_VAR] = str(value)


def data_dir_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--data-dir PATH`` (sets ``$ONEFEED_DATA`` for the command and its workers)."""
    return click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_use_data_dir,
        help=f"Data directory of a calibrated scenario's dataset (default: ${ENV_VAR}, "
        "then ../shared/data).",
    )(command)
