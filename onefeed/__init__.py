"""OneFeed: a generative model unifying feed recommendation and search (numpy only).

The package knows nothing of the simulator or the replay bench: it takes item text,
behaviour sequences and feedback logs as plain arrays and dataclasses.
"""

from onefeed.behaviour import BehaviourSequence, EventType
from onefeed.config import OneFeedConfig
from onefeed.model import OneFeedModel
from onefeed.self_enhance import FeedbackLog, UserFeedback

__all__ = [
    "BehaviourSequence",
    "EventType",
    "FeedbackLog",
    "OneFeedConfig",
    "OneFeedModel",
    "UserFeedback",
]
