"""Connecting to Ray, a local one or a cluster (the optional ``ray`` extra).

Shared by the Ray backend of ``onefeed compare`` (:mod:`.ray_backend`) and sharded runs
(:mod:`.shards`); nothing else imports Ray.
"""

from __future__ import annotations

from typing import Any

from experiments.errors import UserError

__all__ = ["RAY_MISSING", "connect"]

RAY_MISSING = "--backend ray: Ray is not installed; install the extra with: pip install -e '.[ray]'"


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError(RAY_MISSING) from None
    return ray


def connect(address: str | None = None, num_cpus: int | None = None) -> Any:
    """Connect to Ray (an existing cluster at ``address``, or a local one); return ``ray``.

    Args:
        address: ``host:port`` of a running cluster's head, ``"auto"`` for the cluster
            this node belongs to, or ``None`` for a new local Ray.
        num_cpus: CPUs of a new local Ray (``None``: all of this machine's).

    Raises:
        UserError: If Ray is not installed or the cluster cannot be reached.
    """
    ray = _ray()
    if ray.is_initialized():
        return ray
    try:
        ray.init(
            address=address,
            num_cpus=None if address else num_cpus,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    except ConnectionError as exc:
        raise UserError(f"--address {address}: cannot connect to Ray ({exc})") from None
    return ray
