"""Registry of policies by name, resolved when a scenario is loaded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from policies.base import Policy

__all__ = ["available_policies", "make_policy", "register_policy"]

_REGISTRY: dict[str, Callable[..., Policy]] = {}
P = TypeVar("P", bound=type[Policy])


def register_policy(name: str) -> Callable[[P], P]:
    """Class decorator registering a policy under ``name``.

    Raises:
        ValueError: If ``name`` is already registered.
    """

    def decorate(cls: P) -> P:
        if name in _REGISTRY:
            raise ValueError(f"policy {name!r} is already registered")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def available_policies() -> list[str]:
    """Sorted names of every registered policy."""
    return sorted(_REGISTRY)


def make_policy(name: str, **params: Any) -> Policy:
    """Instantiate the policy registered as ``name`` with keyword ``params``.

    Raises:
        KeyError: If no policy has that name (the message lists the known names).
    """
    try:
        factory = _REGISTRY[name]
    except KeyError:
        known = ", ".join(available_policies())
        raise KeyError(f"unknown policy {name!r}; known policies: {known}") from None
    return factory(**params)
