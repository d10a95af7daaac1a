"""Policies: the batched Policy contract, its registry, baselines and OneFeed."""

# Importing the modules registers their policies.
from policies import baselines as _baselines  # noqa: F401
from policies import bpr as _bpr  # noqa: F401
from policies import collaborative as _collaborative  # noqa: F401
from policies import content as _content  # noqa: F401
from policies import exploration as _exploration  # noqa: F401
from policies import onefeed_policy as _onefeed_policy  # noqa: F401
from policies import oracle as _oracle  # noqa: F401
from policies.base import Policy, PolicyContext
from policies.conformance import check_policy
from policies.registry import available_policies, make_policy, register_policy

__all__ = [
    "Policy",
    "PolicyContext",
    "available_policies",
    "check_policy",
    "make_policy",
    "register_policy",
]
