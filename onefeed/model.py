"""The OneFeed model: semantic IDs, encoder, SID and query heads, alignment, ranking.

The ranking stage scores candidates from the SID generator's beam (and optionally the
dense head) with the dense head, the SID log-probability and transition evidence (see
:mod:`onefeed.ranking` and :meth:`OneFeedModel.score_all`); self-enhancement retrains on
feedback to the model's own outputs.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from onefeed.alignment import init_alignment
from onefeed.behaviour import BehaviourSequence, as_sequence, pack
from onefeed.config import OneFeedConfig
from onefeed.encoder import encode, init_encoder, item_vectors
from onefeed.examples import Examples, click_examples_from_behaviour, from_click_sequences
from onefeed.losses import log_softmax
from onefeed.objective import Batch, LossWeights, loss_and_grads
from onefeed.optim import Adam
from onefeed.query_head import generate_queries, init_query_head
from onefeed.ranking import (
    RankSettings,
    ScoreFeatures,
    candidate_mask,
    combine,
    transition_matrix,
    transition_scores,
)
from onefeed.rng import named_rng
from onefeed.self_enhance import FeedbackLog, self_enhance_round
from onefeed.semantic_ids import (
    SemanticIds,
    build_trie,
    hierarchical_quantise,
    residual_quantise,
)
from onefeed.sid_head import beam_search, init_sid_head, level_log_probs, sid_log_probs
from onefeed.text import (
    Vocabulary,
    build_vocabulary,
    collaborative_embeddings,
    text_embeddings,
)

History = np.ndarray | BehaviourSequence


class OneFeedModel:
    """The OneFeed generative recommender (feed SIDs + intent queries, one encoder).

    Args:
        config: Hyper-parameters.
    """

    def __init__(self, config: OneFeedConfig) -> None:
        self.config = config
        self.params: dict[str, np.ndarray] = {}
        self.sids: SemanticIds | None = None
        self.vocab: Vocabulary | None = None
        self.trans: sp.csr_matrix | None = None
        self.n_items = 0
        self.seed = 0
        self._opt: Adam | None = None
        self._round = 0
        self.history: list[dict[str, float]] = []

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        sequences: list[History],
        item_text: list[str],
        seed: int = 0,
        query_pairs: list[tuple[str, int]] | None = None,
        epochs: int | None = None,
        item_queries: list[str] | None = None,
    ) -> OneFeedModel:
        """Build semantic IDs and vocabulary, then train encoder, heads and alignment.

        Args:
            sequences: Per user, chronological clicks (item arrays) or behaviour sequences.
            item_text: ``n_items`` item texts (titles, brands, categories).
            seed: Root seed; every random stream derives from it by name.
            query_pairs: Optional logged ``(query text, clicked item)`` pairs for alignment.
            epochs: Overrides ``config.epochs``.
            item_queries: Optional per-item query text a searcher would type to find the
                item (e.g. title words with which a search index retrieves it): the query
                head's target when the item is next. Default: the item's most specific
                title words (highest IDF).

        Returns:
            ``self``.
        """
        cfg = self.config
        self.seed = seed
        self.n_items = len(item_text)
        seqs = [as_sequence(s) for s in sequences]
        clicks = [s.positive_items() for s in seqs]
        self.vocab = build_vocabulary(item_text, max_words=cfg.max_query_words)
        if item_queries is not None:
            self.vocab.set_item_queries(item_queries)
        emb = text_embeddings(item_text, cfg.text_dim, seed)
        if cfg.collab_dim > 0:
            emb = np.hstack(
                [emb, collaborative_embeddings(clicks, self.n_items, cfg.collab_dim, seed=seed)]
            )
        self.sids = self._quantise(emb, seed)
        self.trans = transition_matrix(clicks, self.n_items)
        rng = named_rng(seed, "init")
        self.params = {}
        init_encoder(self.params, rng, self.n_items, self.sids.level_sizes, cfg.dim, cfg.max_len)
        init_sid_head(self.params, rng, self.sids, cfg.dim, cfg.hidden)
        init_query_head(self.params, rng, self.vocab.size, cfg.dim, cfg.hidden)
        init_alignment(self.params, rng, cfg.dim)
        self.params["rank.bias"] = np.zeros(self.n_items, dtype=np.float32)
        self._opt = Adam(cfg.lr, weight_decay=cfg.weight_decay)
        self._query_pairs = self._encode_query_pairs(query_pairs or [])
        self._round = 0
        ex = self.examples_from(sequences)
        self.train(ex, epochs if epochs is not None else cfg.epochs, "fit")
        return self

    def _quantise(self, emb: np.ndarray, seed: int) -> SemanticIds:
        cfg = self.config
        rng = named_rng(seed, "quantiser")
        if cfg.sid_method == "hierarchical":
            return hierarchical_quantise(emb, cfg.levels, cfg.branching, rng, cfg.kmeans_iters)
        return residual_quantise(emb, cfg.levels, cfg.codebook_size, rng, cfg.kmeans_iters)

    def sid_stats(self) -> dict[str, Any]:
        """Codebook utilisation per level, collision rate and level sizes of the SIDs."""
        assert self.sids is not None
        return {
            "utilisation": list(self.sids.utilisation),
            "collision_rate": self.sids.collision_rate,
            "level_sizes": list(self.sids.level_sizes),
        }

    def examples_from(self, sequences: list[History]) -> Examples:
        """Training examples of every positive event given its past."""
        assert self.vocab is not None
        if all(not isinstance(s, BehaviourSequence) for s in sequences):
            return from_click_sequences(
                [np.asarray(s) for s in sequences], self.config.max_len, self.vocab.item_query
            )
        return click_examples_from_behaviour(
            [as_sequence(s) for s in sequences], self.config.max_len, self.vocab.item_query
        )

    def _encode_query_pairs(self, pairs: list[tuple[str, int]]) -> tuple[np.ndarray, np.ndarray]:
        assert self.vocab is not None
        q = self.config.max_query_words
        words, items = [], []
        for text, item in pairs:
            ids = self.vocab.encode(text)[:q]
            if len(ids):
                words.append(np.pad(ids, (0, q - len(ids)), constant_values=-1))
                items.append(item)
        if not words:
            return np.zeros((0, q), dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.array(words), np.array(items, dtype=np.int64)

    def loss_weights(self) -> LossWeights:
        """The objective's weights from the config."""
        c = self.config
        return LossWeights(
            c.rank_weight,
            c.sid_weight,
            c.query_weight,
            c.align_weight,
            c.tau,
            c.dropout,
            c.query_rows,
        )

    def train(self, ex: Examples, epochs: int, stage: str) -> list[dict[str, float]]:
        """Run ``epochs`` passes of Adam over ``ex`` (warm-starting from current params).

        Args:
            ex: Training examples.
            epochs: Passes over the data.
            stage: Name of the round (keys the random streams, e.g. ``"fit"``).

        Returns:
            Mean per-term losses of every epoch.
        """
        assert self.sids is not None and self.vocab is not None and self._opt is not None
        cfg = self.config
        rng = named_rng(self.seed, f"train/{stage}/{self._round}")
        drop_rng = named_rng(self.seed, f"dropout/{stage}/{self._round}")
        self._round += 1
        lw = self.loss_weights()
        text_items = np.nonzero((self.vocab.item_query >= 0).any(1))[0]
        qp_words, qp_items = self._query_pairs
        log: list[dict[str, float]] = []
        bar = tqdm(range(epochs), desc=f"onefeed {stage}", disable=not cfg.progress)
        for _ in bar:
            order = rng.permutation(len(ex))
            sums: dict[str, float] = {}
            n_b = 0
            for s in range(0, len(ex), cfg.batch_size):
                idx = order[s : s + cfg.batch_size]
                b = len(idx)
                a_codes, a_words = self._align_pairs(rng, text_items, qp_words, qp_items)
                cands = None
                if 0 < cfg.negatives < self.n_items:
                    sampled = rng.choice(self.n_items, cfg.negatives, replace=False)
                    cands = np.union1d(ex.targets[idx], sampled)
                batch = Batch(
                    ex.behaviour(idx),
                    ex.targets[idx],
                    ex.weights[idx] / b,
                    ex.negative[idx],
                    ex.queries[idx],
                    ex.query_weights[idx] / b,
                    ex.query_negative[idx],
                    a_codes,
                    a_words,
                    cands,
                )
                loss, parts, grads = loss_and_grads(self.params, self.sids, batch, lw, drop_rng)
                self._opt.step(self.params, grads)
                for k, v in {"loss": loss, **parts}.items():
                    sums[k] = sums.get(k, 0.0) + v
                n_b += 1
            means = {k: v / max(n_b, 1) for k, v in sums.items()}
            log.append(means)
            bar.set_postfix(loss=f"{means.get('loss', 0):.3f}")
        self.history.extend(log)
        return log

    def _align_pairs(
        self,
        rng: np.random.Generator,
        text_items: np.ndarray,
        qp_words: np.ndarray,
        qp_items: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        assert self.sids is not None and self.vocab is not None
        a = self.config.align_batch
        if not self.config.align_weight or len(text_items) < 2:
            return np.zeros((0, self.sids.n_levels), dtype=np.int64), np.zeros((0, 1), np.int64)
        n_q = min(len(qp_items), a // 2)
        items = rng.choice(text_items, size=min(a - n_q, len(text_items)), replace=False)
        words = self.vocab.item_query[items]
        if n_q:
            pick = rng.choice(len(qp_items), size=n_q, replace=False)
            items = np.concatenate([items, qp_items[pick]])
            words = np.concatenate([words, qp_words[pick]])
        return self.sids.codes[items], words

    # ---------------------------------------------------------------- inference
    def user_states(self, histories: list[History]) -> np.ndarray:
        """Shape ``(b, dim)`` user states of ``histories`` (no dropout)."""
        assert self.sids is not None
        v = item_vectors(self.params, self.sids.codes)
        pb = pack(
            [as_sequence(h) for h in histories], self.config.max_len, self.config.max_query_words
        )
        return encode(self.params, v, pb)[0]

    def generate(
        self, histories: list[History], beam: int | None = None, exclude_history: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """SID generation: constrained beam search, ``(items, sid_logp)`` of ``(b, beam)``."""
        assert self.sids is not None
        u = self.user_states(histories)
        ex = [as_sequence(h).items for h in histories] if exclude_history else None
        return beam_search(self.params, u, self.sids, beam or self.config.beam, ex)

    def rank_settings(self, **overrides: Any) -> RankSettings:
        """The ranking settings of the config (``budget`` 0 → the beam, -1 → all items)."""
        c = self.config
        budget: int | None = c.beam if c.budget == 0 else (None if c.budget < 0 else c.budget)
        base = {
            "beam": c.beam,
            "budget": budget,
            "w_dense": c.blend_rank,
            "w_sid": c.blend_sid,
            "w_trans": c.blend_trans,
        }
        return RankSettings(**{**base, **overrides})

    def score_features(
        self,
        histories: list[History],
        beams: tuple[int, ...] = (),
        with_sid: bool = True,
        exclude_history: bool = True,
    ) -> ScoreFeatures:
        """Whole-catalogue ranking features of ``histories`` and their SID beams.

        Args:
            histories: ``b`` users' behaviour.
            beams: Beam widths to search (each a separate constrained beam search).
            with_sid: Compute the exact SID log-probability of every item.
            exclude_history: Keep the users' own history items out of the candidates.

        Returns:
            :class:`~onefeed.ranking.ScoreFeatures` (float32 arrays of shape
            ``(b, n_items)``).
        """
        assert self.sids is not None and self.trans is not None
        seqs = [as_sequence(h) for h in histories]
        u = self.user_states(seqs)
        v = item_vectors(self.params, self.sids.codes)
        dense = log_softmax(u @ v.T + self.params["rank.bias"]).astype(np.float32)
        excluded = [
            s.items[s.items >= 0] if exclude_history else np.zeros(0, np.int64) for s in seqs
        ]
        lps = level_log_probs(self.params, self.sids, u) if (with_sid or beams) else None
        sid = None
        if with_sid:
            sid = sid_log_probs(self.params, self.sids, u, lps).astype(np.float32)
        found = {
            w: beam_search(self.params, u, self.sids, w, excluded, level_lp=lps)[0]
            for w in sorted(set(beams))
            if w > 0
        }
        trans = transition_scores(
            self.trans, [s.positive_items() for s in seqs], self.config.trans_decay
        )
        return ScoreFeatures(dense, sid, trans, found, excluded)

    def score_all(
        self,
        histories: list[History],
        settings: RankSettings | None = None,
        exclude_history: bool = True,
        batch_size: int = 256,
    ) -> np.ndarray:
        """Ranking-stage scores over all items; ``-inf`` for items that are not candidates.

        The score of a candidate ``i`` is ``w_dense * log_softmax(u · v + bias)_i +
        w_sid * log P_sid(i | u) + w_trans * log(1e-4 + sum_k decay^k T[h_{-1-k}, i])``
        (see :mod:`onefeed.ranking`; default settings: :meth:`rank_settings`).

        Returns:
            Shape ``(b, n_items)`` float32.
        """
        s = settings or self.rank_settings()
        out = np.full((len(histories), self.n_items), -np.inf, dtype=np.float32)
        for i in range(0, len(histories), batch_size):
            feats = self.score_features(
                histories[i : i + batch_size], (s.beam,), bool(s.w_sid), exclude_history
            )
            out[i : i + batch_size] = combine(feats, s)
        return out

    def rank_candidates(
        self,
        histories: list[History],
        settings: RankSettings | None = None,
        exclude_history: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The candidates of every user, ranked: ``(items, scores, from_beam)``.

        Returns:
            Shapes ``(b, c)`` with ``c`` the largest candidate count (``-1`` / ``-inf`` /
            False padded), best first; ``from_beam`` marks items the SID beam generated.
        """
        s = settings or self.rank_settings()
        feats = self.score_features(histories, (s.beam,), bool(s.w_sid), exclude_history)
        scores = combine(feats, s)
        _, from_beam = candidate_mask(feats, s)
        width = int(np.isfinite(scores).sum(axis=1).max(initial=0))
        order = np.argsort(-scores, axis=1, kind="stable")[:, :width]
        sc = np.take_along_axis(scores, order, 1)
        items = np.where(np.isfinite(sc), order, -1)
        beam = np.take_along_axis(from_beam, order, 1) & (items >= 0)
        return items, np.where(items >= 0, sc, -np.inf), beam

    def candidate_features(
        self, histories: list[History], beam: int | None = None, exclude_history: bool = True
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """SID candidates and their ranking features.

        Returns:
            ``(items, feats)``: shape ``(b, beam)`` generated items (``-1`` padded) and
            ``feats["sid"|"rank"|"trans"]`` of the same shape: SID log-probability,
            dense-head log-softmax, and ``log(1e-4 + sum_k decay^k T[h_{-1-k}, i])``.
        """
        width = beam or self.config.beam
        feats = self.score_features(histories, (width,), True, exclude_history)
        items = feats.beams[width]
        ci = np.clip(items, 0, None)
        assert feats.sid is not None
        out = {
            "sid": np.take_along_axis(feats.sid, ci, 1).astype(np.float64),
            "rank": np.take_along_axis(feats.dense, ci, 1).astype(np.float64),
            "trans": np.take_along_axis(feats.trans, ci, 1).astype(np.float64),
        }
        return items, {k: np.where(items >= 0, v, -np.inf) for k, v in out.items()}

    def recommend(
        self, histories: list[History], k: int = 10, exclude_history: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` feed items: candidate generation then the ranking stage.

        Returns:
            ``(items, scores)`` of shape ``(b, k)``, best first (``-1`` padded).
        """
        items, sc, _ = self.rank_candidates(histories, None, exclude_history)
        pad = max(0, k - items.shape[1])
        items = np.pad(items[:, :k], ((0, 0), (0, pad)), constant_values=-1)
        return items, np.pad(sc[:, :k], ((0, 0), (0, pad)), constant_values=-np.inf)

    def generate_query_ids(self, histories: list[History], n_queries: int = 1) -> np.ndarray:
        """Shape ``(b, n_queries, max_query_words)`` generated word ids, ``-1`` padded."""
        u = self.user_states(histories)
        return generate_queries(self.params, u, self.config.max_query_words, n_queries)

    def generate_queries(self, histories: list[History], n_queries: int = 1) -> list[list[str]]:
        """Generated intent queries (1-4 distinct catalogue words) per user."""
        assert self.vocab is not None
        ids = self.generate_query_ids(histories, n_queries)
        return [[self.vocab.decode(q) for q in row] for row in ids]

    # --------------------------------------------------------- self-enhancement
    def self_enhance(
        self,
        log: FeedbackLog,
        replay: list[History] | None = None,
        epochs: int = 1,
        **weights: float,
    ) -> list[dict[str, float]]:
        """One self-enhancement round on a :class:`~onefeed.self_enhance.FeedbackLog`.

        See :func:`onefeed.self_enhance.self_enhance_round`.
        """
        return self_enhance_round(self, log, replay, epochs, **weights)

    # ------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to restore the model (arrays and plain values)."""
        assert self.sids is not None and self.vocab is not None and self.trans is not None
        t = self.trans.tocoo()
        return {
            "config": asdict(self.config),
            "seed": self.seed,
            "n_items": self.n_items,
            "params": {k: v.copy() for k, v in self.params.items()},
            "codes": self.sids.codes.copy(),
            "level_sizes": list(self.sids.level_sizes),
            "utilisation": list(self.sids.utilisation),
            "collision_rate": self.sids.collision_rate,
            "vocab_words": list(self.vocab.words),
            "vocab_idf": self.vocab.idf.copy(),
            "item_words": [w.copy() for w in self.vocab.item_words],
            "item_query": self.vocab.item_query.copy(),
            "trans": (t.row.copy(), t.col.copy(), t.data.copy()),
            "round": self._round,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (the optimiser restarts)."""
        self.config = replace(self.config, **state["config"])
        self.seed, self.n_items = state["seed"], state["n_items"]
        self.params = {k: v.copy() for k, v in state["params"].items()}
        codes = state["codes"]
        children, leaf = build_trie(codes, state["level_sizes"])
        self.sids = SemanticIds(
            codes,
            state["level_sizes"],
            children,
            leaf,
            state["utilisation"],
            state["collision_rate"],
        )
        self.vocab = Vocabulary(
            state["vocab_words"], state["vocab_idf"], state["item_words"], state["item_query"]
        )
        r, c, d = state["trans"]
        self.trans = sp.csr_matrix((d, (r, c)), shape=(self.n_items, self.n_items))
        self._round = state["round"]
        self._opt = Adam(self.config.lr, weight_decay=self.config.weight_decay)
        self._query_pairs = self._encode_query_pairs([])
