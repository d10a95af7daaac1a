"""The configuration of the OneFeed model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OneFeedConfig:
    """Hyper-parameters of :class:`OneFeedModel`.

    Attributes:
        levels: Residual quantiser levels (a collision code is appended).
        codebook_size: Centroids per level.
        kmeans_iters: Lloyd iterations per level.
        text_dim: TF-IDF/SVD item-embedding dimension.
        collab_dim: Co-occurrence PPMI/SVD factor dimension (0: text only).
        dim: Encoder/state dimension.
        hidden: Hidden width of the SID and query heads.
        max_len: Events of history read by the encoder.
        max_query_words: Maximum generated query length.
        epochs: Training epochs of :meth:`OneFeedModel.fit`.
        batch_size: Examples per step.
        negatives: Sampled softmax of the dense head: items sampled uniformly per batch
            besides the batch's own targets (``0``: full softmax over every item).
        lr: Adam learning rate.
        weight_decay: Decoupled weight decay.
        dropout: Event-embedding dropout.
        rank_weight: Weight of the ranking-stage item loss.
        sid_weight: Weight of the SID generation loss.
        query_weight: Weight of the query generation loss.
        align_weight: Weight of the SID-query InfoNCE.
        align_batch: Alignment pairs per step.
        query_rows: Examples of each batch that also train the query head (0: all).
        tau: InfoNCE temperature.
        beam: Beam width = SID-generated candidates per user.
        budget: Candidates per user: the beam, then the dense head's best other items up
            to this many (``0``: the beam alone; ``-1``: every item is a candidate).
        blend_sid: Ranking-stage weight of the SID log-probability.
        blend_rank: Ranking-stage weight of the dense head's log-softmax score.
        blend_trans: Ranking-stage weight of the transition feature.
        trans_decay: Decay over the last three history items in the transition feature.
        sid_method: ``"residual"`` (residual k-means + collision code) or
            ``"hierarchical"`` (balanced hierarchical k-means, ``levels`` codes).
        branching: Children per trie node of hierarchical SIDs (above the last level).
        progress: Show tqdm progress bars.
    """

    levels: int = 3
    codebook_size: int = 256
    kmeans_iters: int = 20
    text_dim: int = 64
    collab_dim: int = 32
    dim: int = 64
    hidden: int = 128
    max_len: int = 20
    max_query_words: int = 4
    epochs: int = 20
    batch_size: int = 512
    negatives: int = 0
    lr: float = 2e-3
    weight_decay: float = 0.0
    dropout: float = 0.2
    rank_weight: float = 1.0
    sid_weight: float = 1.0
    query_weight: float = 0.2
    align_weight: float = 0.1
    align_batch: int = 256
    query_rows: int = 128
    tau: float = 0.1
    beam: int = 100
    budget: int = 0
    blend_sid: float = 0.1
    blend_rank: float = 1.0
    blend_trans: float = 0.3
    trans_decay: float = 0.5
    sid_method: str = "residual"
    branching: int = 32
    progress: bool = False

    def __post_init__(self) -> None:
        if self.levels < 1 or self.codebook_size < 1 or self.dim < 1 or self.beam < 1:
            raise ValueError("levels, codebook_size, dim and beam must be >= 1")
        if not 1 <= self.max_query_words <= 8:
            raise ValueError("max_query_words must be in [1, 8]")
        if not 0 <= self.dropout < 1:
            raise ValueError("dropout must be in [0, 1)")
        if self.sid_method not in ("residual", "hierarchical"):
            raise ValueError("sid_method must be 'residual' or 'hierarchical'")
        if self.budget < -1 or (self.budget > 0 and self.budget < self.beam):
            raise ValueError("budget must be -1 (all items), 0 (the beam) or >= beam")
        if self.branching < 2:
            raise ValueError("branching must be >= 2")
