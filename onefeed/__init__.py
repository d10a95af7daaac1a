"""OneFeed: a generative model unifying feed recommendation and search (numpy only).

The package knows nothing of the simulator or the replay bench: it takes item text,
behaviour sequences and feedback logs as plain arrays and dataclasses.

Modules (one job each): ``text`` (tokens, vocabulary, TF-IDF/SVD and PPMI/SVD item
embeddings), ``semantic_ids`` (residual k-means SIDs, collision code, trie), ``encoder``
(shared behaviour encoder), ``sid_head`` (autoregressive SID generator, constrained beam
search), ``query_head`` (intent query generator), ``alignment`` (SID-text InfoNCE),
``objective`` (joint loss, hand-written gradients), ``ranking`` (transition features of
the ranking stage), ``self_enhance`` (feedback log → weighted examples, retraining round),
``model`` (:class:`OneFeedModel`), ``config``, ``optim`` (Adam), ``rng`` (named streams).

Typical use::

    model = OneFeedModel(OneFeedConfig()).fit(sequences, item_text, seed=0)
    items, scores = model.recommend(histories, k=10)       # SID generation + ranking
    queries = model.generate_queries(histories, n_queries=3)
    model.self_enhance(FeedbackLog([...]), replay=sequences)
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
