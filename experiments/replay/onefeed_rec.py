"""OneFeed behind the replay bench: the ``onefeed`` row and its ablation rows.

Every row is a :class:`OneFeedRecommender`: a training variant (what the model is trained
with) and a scoring variant (how its candidates are formed and ranked, see
:mod:`onefeed.ranking`). Rows with the same training variant share one fitted model per
stage and seed (cached here), so the scoring ablations cost only their scoring:

========================  =====================  ==========================================
row                       training               scoring
========================  =====================  ==========================================
``onefeed``               full                   SID beam + dense fill, dense + SID + trans
``onefeed-sid-only``      full                   the SID beam in SID order (beam width)
``onefeed-dense``         full                   dense head over the whole catalogue
``onefeed-dense-trans``   full                   dense + trans, whole catalogue, no SID
``onefeed-no-trans``      full                   as ``onefeed`` without transitions
``onefeed-no-sid-loss``   SID loss off           ``onefeed``'s chosen dense + trans weights
``onefeed-no-query``      query loss off         ``onefeed``'s chosen setting
``onefeed-no-align``      alignment off          ``onefeed``'s chosen setting
========================  =====================  ==========================================

The scoring rows on the full model are tuned on validation (their own grid, on the
``onefeed`` row's cached fits). The three retrained rows change one thing, the training
objective: they are fitted once per seed on the test-stage training data and ranked with
the ``onefeed`` row's chosen score setting (``no-sid-loss`` without its SID term and beam),
so they cost one fit per seed and no validation pass.

The model's settings per dataset are in :func:`dataset_config`; its score-time settings
(beam width, candidate budget, blend weights) are chosen on the validation item by the
bench, which records every value tried. Without item text the model's query head and
alignment are switched off (logged by the bench), the query rows are not applicable and
query metrics are reported as such.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from experiments.replay.protocol import ReplayDataset, TrainData
from experiments.replay.split import Stage
from onefeed import OneFeedConfig, OneFeedModel, RankSettings
from onefeed.ranking import ScoreFeatures, candidate_mask, combine

__all__ = [
    "ONEFEED_ROWS",
    "TRAIN_GRID",
    "FixedRanking",
    "OneFeedRecommender",
    "ablation_settings",
    "dataset_config",
    "row_spec",
]

#: OneFeed's settings for Amazon S3-Rec datasets (Beauty and any ``s3rec:NAME``): balanced
#: hierarchical SIDs (32 x 32 x leaves), a sampled-softmax dense head (2,048 sampled items
#: per batch of 1,024; half the CPU time of the full softmax for the same validation NDCG
#: of the final ranking on Beauty).
AMAZON_CONFIG = OneFeedConfig(
    epochs=6,
    hidden=64,
    query_rows=64,
    sid_method="hierarchical",
    levels=3,
    branching=32,
    negatives=2048,
    batch_size=1024,
    lr=3e-3,
)
#: MovieLens: long histories of a small catalogue (full softmax: 1,682 items).
MOVIELENS_CONFIG = replace(AMAZON_CONFIG, epochs=10, max_len=50, negatives=0, branching=16)

#: Beam widths searched for candidates, and the SID-only row's width.
BEAMS = (100, 300)
SID_ONLY_BEAM = 100


def dataset_config(dataset: ReplayDataset) -> OneFeedConfig:
    """OneFeed's configuration for a dataset."""
    return MOVIELENS_CONFIG if dataset.name.startswith("ml-") else AMAZON_CONFIG


@dataclass(frozen=True)
class Row:
    """A bench row: training overrides and scoring variant."""

    train: tuple[tuple[str, float], ...]
    scoring: str
    needs_text: bool = False
    retrained: bool = False


ONEFEED_ROWS: dict[str, Row] = {
    "onefeed": Row((), "full"),
    "onefeed-sid-only": Row((), "sid-only"),
    "onefeed-dense": Row((), "dense"),
    "onefeed-dense-trans": Row((), "dense-trans"),
    "onefeed-no-trans": Row((), "no-trans"),
    "onefeed-no-sid-loss": Row((("sid_weight", 0.0),), "dense-trans", retrained=True),
    "onefeed-no-query": Row((("query_weight", 0.0),), "full", needs_text=True, retrained=True),
    "onefeed-no-align": Row((("align_weight", 0.0),), "full", needs_text=True, retrained=True),
}


def scoring_grid(scoring: str) -> list[RankSettings]:
    """The score-time settings a scoring variant tries on validation."""
    trans = (0.2, 0.35, 0.5)
    sid = (0.5, 1.0, 2.0)
    # candidates: the SID beam alone (two widths), or the beam plus every other item
    cands = [(b, b) for b in BEAMS] + [(BEAMS[-1], None)]
    if scoring == "sid-only":
        return [RankSettings(SID_ONLY_BEAM, SID_ONLY_BEAM, 0.0, 1.0, 0.0)]
    if scoring == "dense":
        return [RankSettings(0, None, 1.0, 0.0, 0.0)]
    if scoring == "dense-trans":
        return [RankSettings(0, None, 1.0, 0.0, t) for t in trans]
    if scoring == "no-trans":
        return [RankSettings(b, n, 1.0, s, 0.0) for b, n in cands for s in sid]
    if scoring == "full":
        return [RankSettings(b, n, 1.0, s, t) for b, n in cands for s in sid for t in trans]
    raise ValueError(f"unknown scoring variant {scoring!r}")


class _FitCache:
    """The last few fitted models, keyed by training data, seed and configuration."""

    def __init__(self, size: int = 12) -> None:
        self.size = size
        self._models: OrderedDict[tuple, OneFeedModel] = OrderedDict()

    @staticmethod
    def key(data: TrainData, seed: int, config: OneFeedConfig) -> tuple:
        digest = hashlib.sha256()
        for s in data.sequences:
            digest.update(np.asarray(s, dtype=np.int64).tobytes())
            digest.update(b"|")
        return (data.dataset.name, data.stage, digest.hexdigest(), seed, config)

    def get(self, key: tuple) -> OneFeedModel | None:
        model = self._models.get(key)
        if model is not None:
            self._models.move_to_end(key)
        return model

    def put(self, key: tuple, model: OneFeedModel) -> None:
        self._models[key] = model
        while len(self._models) > self.size:
            self._models.popitem(last=False)


_FITS = _FitCache()


class OneFeedRecommender:
    """One OneFeed row behind the bench's :class:`~experiments.replay.protocol.Recommender`.

    Args:
        row: Row name (a key of :data:`ONEFEED_ROWS`).
        config: Model configuration (default: :func:`dataset_config` of the data).
        blas_threads: BLAS threads while fitting/scoring (1 is fastest for these small
            matrix products on a shared 2-core machine; ``None`` leaves the default).
        **train: Training overrides (the bench's fit settings, e.g. ``sid_weight``).
    """

    deterministic = False  # training depends on the seed: fitted once per seed

    def __init__(
        self,
        row: str = "onefeed",
        config: OneFeedConfig | None = None,
        blas_threads: int | None = 1,
        **train: Any,
    ) -> None:
        self.name = row
        self.row = ONEFEED_ROWS[row]
        self.base_config = config
        # the row's own switch (e.g. sid_weight 0) wins over a chosen training setting
        self.train_overrides = {**train, **dict(self.row.train)}
        self.blas_threads = blas_threads
        self.model: OneFeedModel | None = None
        self.settings = scoring_grid(self.row.scoring)[0]
        self.fit_reused = False

    def _config(self, dataset: ReplayDataset) -> OneFeedConfig:
        config = replace(self.base_config or dataset_config(dataset), **self.train_overrides)
        if dataset.item_text is None:  # nothing to search or align with: both heads off
            config = replace(config, query_weight=0.0, align_weight=0.0)
        return config

    def fit(self, data: TrainData, seed: int) -> None:
        """Fit on the training prefixes (or reuse this stage's fit of the same variant)."""
        from experiments.replay.onefeed_queries import retrieving_queries

        ds = data.dataset
        config = self._config(ds)
        key = _FITS.key(data, seed, config)
        cached = _FITS.get(key)
        self.fit_reused = cached is not None
        if cached is None:
            text = list(ds.item_text) if ds.item_text is not None else [""] * ds.n_items
            queries = retrieving_queries(text) if ds.item_text is not None else None
            with threadpool_limits(self.blas_threads):
                cached = OneFeedModel(config).fit(
                    list(data.sequences), text, seed, item_queries=queries
                )
            _FITS.put(key, cached)
        self.model = cached

    def score_grid(self) -> list[dict[str, Any]]:
        """Score-time settings tried on validation (see :func:`scoring_grid`)."""
        return [asdict(s) for s in scoring_grid(self.row.scoring)]

    def set_score_params(self, **settings: Any) -> None:
        """Switch the ranking settings (the fields of :class:`~onefeed.RankSettings`)."""
        self.settings = RankSettings(**settings)

    def features(
        self, histories: list[np.ndarray], settings: Sequence[RankSettings], block: int = 512
    ) -> ScoreFeatures:
        """Whole-catalogue features (and the beams ``settings`` need), block by block."""
        if self.model is None:
            raise RuntimeError("fit() must be called before scoring")
        beams = tuple(sorted({s.beam for s in settings if s.beam}))
        with_sid = any(s.w_sid for s in settings)
        parts = []
        with threadpool_limits(self.blas_threads):
            for i in range(0, len(histories), block):
                parts.append(self.model.score_features(histories[i : i + block], beams, with_sid))
        return ScoreFeatures(
            np.concatenate([p.dense for p in parts]),
            np.concatenate([p.sid for p in parts]) if with_sid else None,  # type: ignore[misc]
            np.concatenate([p.trans for p in parts]),
            {w: np.concatenate([p.beams[w] for p in parts]) for w in beams},
            [e for p in parts for e in p.excluded],
        )

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        """Shape ``(b, n_items)`` float32 ranking-stage scores, ``-inf`` for non-candidates."""
        return combine(self.features(histories, [self.settings]), self.settings)

    def score_settings(
        self, histories: list[np.ndarray], settings: Sequence[dict[str, Any]]
    ) -> Iterator[np.ndarray]:
        """Scores under every setting, from one computation of the features."""
        chosen = [RankSettings(**s) for s in settings]
        feats = self.features(histories, chosen)
        masks: dict[tuple, np.ndarray] = {}
        for s in chosen:
            key = (s.beam, s.budget)
            if key not in masks:
                masks = {key: candidate_mask(feats, s)[0]}  # settings come grouped by key
            yield combine(feats, s, masks[key])

    # ------------------------------------------------------------ bench extras
    def test_reports(self, stage: Stage) -> dict[str, Any]:
        """Beam recall, candidate shares and the query head of the ``onefeed`` row."""
        if self.name != "onefeed" or self.model is None:
            return {"fit_reused": self.fit_reused}
        from experiments.replay.onefeed_queries import query_metrics
        from experiments.replay.onefeed_reports import beam_recall, top_k_shares

        ds = stage.train.dataset
        out: dict[str, Any] = {"fit_reused": self.fit_reused}
        with threadpool_limits(self.blas_threads):
            out.update(beam_recall(self.model, stage.histories, stage.targets))
            out["shares"] = top_k_shares(self, stage.histories, stage.targets)
            if ds.item_text is None:
                out["query_head"] = {"not_applicable": f"no item text ({ds.text_source})"}
            else:
                out["query_head"] = query_metrics(
                    self.model, self.settings, stage.histories, stage.targets, list(ds.item_text)
                )
        return out

    def valid_reports(self, stages: dict[str, Stage], seed: int) -> dict[str, Any]:
        """Offline self-enhancement from this validation-stage model (``onefeed`` only)."""
        if self.name != "onefeed" or self.model is None:
            return {}
        from experiments.replay.onefeed_self_enhance import offline_self_enhancement

        ds = stages["test"].train.dataset
        with threadpool_limits(self.blas_threads):
            rows = offline_self_enhancement(self.model, self.settings, ds, seed=seed)
        return {"self_enhancement": rows}


class FixedRanking(OneFeedRecommender):
    """A retrained ablation row ranked with a given setting: no validation pass.

    The bench tunes a row only if it has a ``score_grid`` or ``valid_reports``; this row
    has neither, so it is fitted once per seed (test stage) and scored with ``settings``.
    """

    score_grid = None  # type: ignore[assignment]
    valid_reports = None  # type: ignore[assignment]

    def __init__(self, row: str, settings: RankSettings, **train: Any) -> None:
        super().__init__(row, **train)
        self.settings = settings

    def set_score_params(self, **settings: Any) -> None:
        """Fixed at construction: refuses any other setting."""
        if RankSettings(**settings) != self.settings:
            raise ValueError(f"{self.name} ranks with {self.settings} only")

    def test_reports(self, stage: Stage) -> dict[str, Any]:
        """The fixed score setting (the row has no tuning record to show it)."""
        return {**super().test_reports(stage), "ranking": asdict(self.settings)}


def ablation_settings(row: str, chosen: RankSettings) -> RankSettings:
    """The score setting a retrained row uses, given the ``onefeed`` row's chosen one."""
    if ONEFEED_ROWS[row].scoring == "dense-trans":  # no SID head to score with
        return RankSettings(0, None, chosen.w_dense, 0.0, chosen.w_trans)
    return chosen


#: Training settings of the ``onefeed`` row tried on the validation item (one fit each);
#: every other OneFeed row is built with the one ``onefeed`` chose (same seed). One point:
#: on a 2-core machine shared by four people each further point costs a Beauty fit and a
#: full validation grid per seed (the Amazon configuration above was chosen in
#: validation-stage runs, see docs/replay.md).
TRAIN_GRID: list[dict[str, Any]] = [{}]


def row_spec(name: str, spec_type: Any) -> Any:
    """The bench's ``ModelSpec`` of one OneFeed row."""
    row = ONEFEED_ROWS[name]

    def not_applicable(dataset: ReplayDataset) -> str | None:
        if row.needs_text and dataset.item_text is None:
            return "no item text, so the model has no query head or alignment to switch off"
        return None

    def factory(p: dict) -> OneFeedRecommender:
        return OneFeedRecommender(name, **p)

    if name == "onefeed":
        return spec_type(name, factory, list(TRAIN_GRID), False, not_applicable=not_applicable)

    def builder(chosen: dict[str, dict], fit: dict) -> OneFeedRecommender:
        train = {**chosen["onefeed"]["fit"], **fit}
        if row.retrained:
            base = RankSettings(**chosen["onefeed"]["score"])
            return FixedRanking(name, ablation_settings(name, base), **train)
        return OneFeedRecommender(name, **train)

    return spec_type(
        name,
        factory,
        [{}],
        False,
        needs=("onefeed",),
        builder=builder,
        not_applicable=not_applicable,
    )
