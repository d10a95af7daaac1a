"""Policies: the batched Policy contract, its registry, baselines and OneFeed."""

from policies.base import Policy, PolicyContext
from policies.registry import available_policies, make_policy, register_policy

# Importing the modules registers their policies.
from policies import baselines as _baselines  # noqa: F401, E402

__all__ = ["Policy", "PolicyContext", "available_policies", "make_policy", "register_policy"]
