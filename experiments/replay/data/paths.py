"""Where the real datasets live: ``--data-dir``, else ``$ONEFEED_DATA``, else ``../shared/data``."""

from __future__ import annotations

import os
from pathlib import Path

from experiments.errors import DataError
from experiments.project_paths import PROJECT_ROOT

__all__ = ["ENV_VAR", "default_data_dir", "resolve_data_dir"]

#: Environment variable naming the data directory.
ENV_VAR = "ONEFEED_DATA"


def default_data_dir() -> Path:
    """The fallback data directory: ``../shared/data`` relative to the project root."""
    return (PROJECT_ROOT / ".." / "shared" / "data").resolve()


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Resolve and check the data directory.

    Args:
        data_dir: Explicit directory (the ``--data-dir`` flag); ``None`` falls back to
            ``$ONEFEED_DATA`` and then to :func:`default_data_dir`.

    Returns:
        An existing directory.

    Raises:
        DataError: If the chosen directory does not exist (the message says where the
            path came from).
    """
    if data_dir is not None:
        path, source = Path(data_dir), "--data-dir"
    elif os.environ.get(ENV_VAR):
        path, source = Path(os.environ[ENV_VAR]), f"${ENV_VAR}"
    else:
        path, source = default_data_dir(), "default location (../shared/data)"
    if not path.is_dir():
        raise DataError(
            f"{path}: data directory not found (from {source}); pass --data-dir PATH "
            f"or set {ENV_VAR}"
        )
    return path
