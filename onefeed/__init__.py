"""OneFeed: a generative model unifying feed recommendation and search (numpy only).

The package knows nothing of the simulator or the replay bench: it takes item text,
behaviour sequences and feedback logs as plain arrays and dataclasses.

Modules (one job each): ``text`` (tokens, vocabulary, TF-IDF/SVD and PPMI/SVD item
embeddings), ``semantic_ids`` (residual or balanced hierarchical k-means SIDs, trie),
``encoder`` (shared behaviour encoder), ``sid_head`` (autoregressive SID generator: a
softmax over each trie node's children, exact item log-probabilities, constrained beam
search), ``query_head`` (intent query generator), ``alignment`` (SID-text InfoNCE),
``objective`` (joint loss, hand-written gradients), ``ranking`` (candidates from the SID
beam and the dense head, and their scores), ``self_enhance`` (feedback log → weighted
examples, retraining round), ``model`` (:class:`OneFeedModel`), ``config``, ``optim``
(Adam), ``rng`` (named streams).

Typical use::

    model = OneFeedModel(OneFeedConfig()).fit(sequences, item_text, seed=0)
    items, scores = model.recommend(histories, k=10)       # SID beam + ranking stage
    scores = model.score_all(histories, RankSettings(beam=200, budget=None))
    queries = model.generate_queries(histories, n_queries=3)
    model.self_enhance(FeedbackLog([...]), replay=sequences)
"""

from onefeed.behaviour import BehaviourSequence, EventType
from onefeed.config import OneFeedConfig
from onefeed.model import OneFeedModel
from onefeed.ranking import RankSettings
from onefeed.self_enhance import FeedbackLog, UserFeedback

__all__ = [
    "BehaviourSequence",
    "EventType",
    "FeedbackLog",
    "OneFeedConfig",
    "OneFeedModel",
    "RankSettings",
    "UserFeedback",
]
