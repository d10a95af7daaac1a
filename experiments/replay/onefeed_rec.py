"""OneFeed behind the replay bench's ``Recommender`` contract, and its own measurements.

Besides the adapter: Query-Hit@K, the candidate-expansion gain of generated queries, and
offline self-enhancement rounds. ``python -m experiments.replay.onefeed_rec`` prints them
on Amazon Beauty.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from experiments.replay.protocol import ReplayDataset, TrainData
from onefeed import FeedbackLog, OneFeedConfig, OneFeedModel, UserFeedback
from onefeed.self_enhance import FeedbackWeights, feedback_examples
from onefeed.text import word_tokens

__all__ = [
    "OneFeedRecommender",
    "evaluate",
    "load_beauty",
    "offline_self_enhancement",
    "query_metrics",
    "ranking_metrics",
]

#: Ranking-stage and training settings tuned on the Beauty validation item only.
BEAUTY_CONFIG = OneFeedConfig(epochs=6, hidden=64, query_rows=64)


def load_beauty(data_dir: str | os.PathLike | None = None) -> ReplayDataset:
    """Amazon Beauty through the project's loader (:func:`experiments.replay.data.load_dataset`).

    Args:
        data_dir: The data directory (default ``$ONEFEED_DATA``, then ``../shared/data``).

    Returns:
        A :class:`ReplayDataset` with 0-based item ids and title/brand/category text.

    Raises:
        DataError: When a Beauty file is missing or malformed.
    """
    from experiments.replay.data import load_dataset

    return load_dataset("beauty", data_dir)


class OneFeedRecommender:
    """OneFeed behind the bench's :class:`~experiments.replay.protocol.Recommender` contract.

    ``score`` runs SID generation (constrained beam search over the semantic-ID trie, the
    user's history excluded) and the model's ranking stage over the generated candidates;
    items not generated score ``-inf``.

    Args:
        config: Model configuration (default: :data:`BEAUTY_CONFIG`).
        blas_threads: BLAS threads while fitting/scoring (1 is fastest for these small
            matrix products on a shared 2-core machine; ``None`` leaves the default).
    """

    name = "onefeed"
    deterministic = False  # training depends on the seed: fitted once per seed

    @staticmethod
    def param_grid() -> list[dict[str, Any]]:
        """Hyper-parameter grid for the bench (tuned beforehand on validation items)."""
        return [{}]

    def __init__(self, config: OneFeedConfig | None = None, blas_threads: int | None = 1) -> None:
        self.config = config or BEAUTY_CONFIG
        self.blas_threads = blas_threads
        self.model: OneFeedModel | None = None

    def fit(self, data: TrainData, seed: int) -> None:
        """Fit on the training prefixes (never ``data.dataset.sequences``)."""
        ds = data.dataset
        text = ds.item_text or [f"item{i}" for i in range(ds.n_items)]
        with threadpool_limits(self.blas_threads):
            self.model = OneFeedModel(self.config).fit(list(data.sequences), list(text), seed)

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        """Shape ``(b, n_items)`` float32 ranking-stage scores, ``-inf`` if not generated."""
        if self.model is None:
            raise RuntimeError("fit() must be called before score()")
        with threadpool_limits(self.blas_threads):
            return self.model.score_all(histories)


def ranking_metrics(
    scores: np.ndarray,
    targets: np.ndarray,
    histories: list[np.ndarray],
    ks: tuple[int, ...] = (5, 10),
) -> dict[str, float]:
    """Recall@K and NDCG@K of full-ranking scores, history items masked.

    Args:
        scores: Shape ``(b, n_items)`` (not modified).
        targets: Shape ``(b,)`` held-out items.
        histories: The users' history items (masked).
        ks: Cut-offs.

    Returns:
        ``{"R@5": ..., "N@5": ..., ...}`` averaged over the ``b`` users.
    """
    b = len(scores)
    rank = np.empty(b, dtype=np.int64)
    for r in range(b):
        row = scores[r].copy()
        row[np.asarray(histories[r], dtype=np.int64)] = -np.inf
        t = row[targets[r]]
        # ties are broken by item id (as the bench does); -inf: not retrieved, a miss
        ties = int((row[: targets[r]] == t).sum())
        rank[r] = int((row > t).sum()) + ties if np.isfinite(t) else np.iinfo(np.int64).max // 2
    out = {}
    for k in ks:
        hit = rank < k
        out[f"R@{k}"] = float(hit.mean())
        out[f"N@{k}"] = float(np.mean(np.where(hit, 1.0 / np.log2(np.minimum(rank, k) + 2), 0)))
    return out


def evaluate(
    model: OneFeedRecommender | OneFeedModel,
    histories: list[np.ndarray],
    targets: np.ndarray,
    chunk: int = 2048,
) -> dict[str, float]:
    """:func:`ranking_metrics` over all users, scored chunk by chunk (bounded memory)."""
    score = model.score if isinstance(model, OneFeedRecommender) else model.score_all
    sums: dict[str, float] = {}
    for i in range(0, len(histories), chunk):
        h = histories[i : i + chunk]
        m = ranking_metrics(score(h), targets[i : i + chunk], h)
        for k, v in m.items():
            sums[k] = sums.get(k, 0.0) + v * len(h)
    return {k: v / max(len(histories), 1) for k, v in sums.items()}


class _Bm25:
    """BM25 (bm25s) over item texts with the model's tokenizer."""

    def __init__(self, texts: list[str]) -> None:
        import bm25s

        self.retriever = bm25s.BM25()
        self.retriever.index([word_tokens(t) or ["empty"] for t in texts], show_progress=False)
        self.n = len(texts)

    def search(self, queries: list[str], k: int) -> np.ndarray:
        """Shape ``(len(queries), k)`` item ids (best first)."""
        toks = [word_tokens(q) or ["empty"] for q in queries]
        docs, _ = self.retriever.retrieve(toks, k=min(k, self.n), show_progress=False)
        return np.asarray(docs, dtype=np.int64)


def _batched(fn: Any, histories: list[np.ndarray], size: int = 1024) -> list[Any]:
    return [fn(histories[i : i + size]) for i in range(0, len(histories), size)]


def query_metrics(
    model: OneFeedModel | OneFeedRecommender,
    histories: list[np.ndarray],
    targets: np.ndarray,
    dataset: ReplayDataset | None = None,
    item_text: list[str] | None = None,
    k: int = 10,
    budget: int = 50,
    n_query_items: int = 10,
    n_examples: int = 5,
) -> dict[str, Any]:
    """Query-Hit@K and the candidate-expansion gain of generated intent queries.

    Args:
        model: A fitted OneFeed model (or the fitted adapter).
        histories: Users' histories (items before the held-out one).
        targets: Shape ``(b,)`` held-out items.
        dataset: Source of the item texts when ``item_text`` is not given.
        item_text: The BM25 corpus (item titles).
        k: Query-Hit cut-off (the query's BM25 top ``k`` must contain the target).
        budget: Candidate budget for the expansion comparison.
        n_query_items: Candidates taken from the query's BM25 results in the merge.
        n_examples: Generated query examples returned.

    Returns:
        ``query_hit@k``, ``sid_recall@budget`` (top ``budget`` SID candidates after the
        ranking stage), ``merged_recall@budget`` (top ``budget - n_query_items`` SID
        candidates plus the query's top new results, history excluded), ``expansion_gain``
        (their difference) and ``examples``.
    """
    if isinstance(model, OneFeedRecommender):
        if model.model is None:
            raise RuntimeError("fit() must be called before query_metrics()")
        model = model.model
    if item_text is None:
        if dataset is None or dataset.item_text is None:
            raise ValueError("query_metrics needs item_text (or a dataset with item_text)")
        item_text = list(dataset.item_text)
    targets = np.asarray(targets, dtype=np.int64)
    with threadpool_limits(1):
        return _query_metrics(
            model, histories, targets, item_text, k, budget, n_query_items, n_examples
        )


def _query_metrics(
    model: OneFeedModel,
    histories: list[np.ndarray],
    targets: np.ndarray,
    item_text: list[str],
    k: int,
    budget: int,
    n_query_items: int,
    n_examples: int,
) -> dict[str, Any]:
    bm = _Bm25(item_text)
    queries = [q[0] for part in _batched(model.generate_queries, histories) for q in part]
    found = bm.search(queries, max(k, 4 * n_query_items))
    hit = np.array([t in row[:k] for t, row in zip(targets, found, strict=True)])
    ranked = np.concatenate(
        [
            np.take_along_axis(it, np.argsort(-sc, 1, kind="stable"), 1)
            for it, sc in _batched(
                lambda h: model._rank(h, max(budget, model.config.beam), True), histories
            )
        ]
    )
    sid_hit, merged_hit = [], []
    for r, t in enumerate(targets):
        sid_top = [int(x) for x in ranked[r] if x >= 0][:budget]
        sid_hit.append(t in sid_top)
        keep = sid_top[: budget - n_query_items]
        seen = set(keep) | {int(x) for x in histories[r]}
        extra = [int(x) for x in found[r] if int(x) not in seen][:n_query_items]
        merged = keep + extra
        merged += [x for x in sid_top[len(keep) :] if x not in merged][: budget - len(merged)]
        merged_hit.append(t in merged)
    shown = item_text
    examples = [
        {
            "last_item": shown[int(histories[r][-1])][:80],
            "query": queries[r],
            "target": shown[int(targets[r])][:80],
            "hit": bool(hit[r]),
        }
        for r in range(min(n_examples, len(targets)))
    ]
    sid_r, merged_r = float(np.mean(sid_hit)), float(np.mean(merged_hit))
    return {
        f"query_hit@{k}": float(hit.mean()),
        f"sid_recall@{budget}": sid_r,
        f"merged_recall@{budget}": merged_r,
        "expansion_gain": merged_r - sid_r,
        "examples": examples,
    }


def offline_self_enhancement(
    dataset: ReplayDataset,
    config: OneFeedConfig | None = None,
    seed: int = 0,
    rounds: int = 2,
    shown: int = 10,
    epochs_per_round: int = 1,
    blas_threads: int | None = 1,
    ignore_weight: float = 0.0,
    on_round: Any = None,
    valid_model: OneFeedModel | OneFeedRecommender | None = None,
    replay_fraction: float = 0.25,
) -> list[dict[str, Any]]:
    """Self-enhancement rounds whose feedback comes only from validation items.

    The starting model is fitted on prefixes ending before the validation item — either
    ``valid_model`` (the bench passes the model it already fitted for the validation
    pass; it is copied, never modified) or a fresh fit. Each round serves every user
    ``shown`` generated items and one generated query (BM25 top 10); the user "clicks" a
    shown item, or a query result, only if it is their validation item; the other shown
    items are ignored (unlikelihood weight ``ignore_weight``; replay logs have no skips,
    so by default only positives and query feedback are used). The model retrains on that
    feedback plus a replay of the training prefixes of a random ``replay_fraction`` of the
    users (fresh sample each round), warm-starting. A same-compute control starts from the
    same parameters and retrains on the replay alone, cycled to the same number of
    examples (hence the same number of steps). After every round both are evaluated on
    the test item with the validation item in the history. The test item is never
    trained on.

    Args:
        dataset: The replay dataset (full sequences; the split is made here).
        config: Model configuration (default :data:`BEAUTY_CONFIG`; ignored when
            ``valid_model`` is given).
        seed: Root seed.
        rounds: Feedback rounds.
        shown: Generated items shown per user per round.
        epochs_per_round: Retraining epochs per round.
        blas_threads: BLAS threads.
        ignore_weight: Unlikelihood weight of shown-but-ignored items.
        on_round: Optional callback receiving each row as soon as it is computed.
        valid_model: A model already fitted on the validation-stage prefixes
            (``sequence[:-2]``), reused instead of refitting.
        replay_fraction: Share of users whose prefixes are replayed each round (in
            ``(0, 1]``; 1 replays every training prefix).

    Returns:
        One row per round (round 0 = before feedback): test metrics of both models,
        the feedback counts, the examples trained on and the round's wall time.
    """
    import time

    if not 0 < replay_fraction <= 1:
        raise ValueError("replay_fraction must be in (0, 1]")
    train = [s[:-2] for s in dataset.sequences]
    val = np.array([s[-2] for s in dataset.sequences])
    hist_test = [s[:-1] for s in dataset.sequences]
    test = np.array([s[-1] for s in dataset.sequences])
    text = list(dataset.item_text or [f"item{i}" for i in range(dataset.n_items)])
    bm = _Bm25(text)
    rows: list[dict[str, Any]] = []
    rng = np.random.default_rng([seed, 0x5E1F])
    with threadpool_limits(blas_threads):
        t0 = time.perf_counter()
        if isinstance(valid_model, OneFeedRecommender):
            valid_model = valid_model.model
        if valid_model is None:
            valid_model = OneFeedModel(config or BEAUTY_CONFIG).fit(train, text, seed)
        state = valid_model.state_dict()
        model = OneFeedModel(valid_model.config)
        model.load_state_dict(state)
        control = OneFeedModel(valid_model.config)
        control.load_state_dict(state)  # same parameters, same optimiser restart
        del state
        cfg = model.config

        base = evaluate(model, hist_test, test)
        rows.append(
            {
                "round": 0,
                "feedback": base,
                "control": base,
                "clicks": 0,
                "query_clicks": 0,
                "examples": 0,
                "time_s": time.perf_counter() - t0,
            }
        )
        if on_round is not None:
            on_round(rows[-1])
        n_replay = max(1, round(replay_fraction * len(train)))
        for rnd in range(1, rounds + 1):
            t0 = time.perf_counter()
            items = np.concatenate(
                [m[0] for m in _batched(lambda h: model.recommend(h, k=shown), train)]
            )
            qids = np.concatenate(_batched(lambda h: model.generate_query_ids(h, 1), train))
            assert model.vocab is not None
            found = bm.search([model.vocab.decode(q[0]) for q in qids], 10)
            users = []
            n_click = n_q = 0
            for r in range(len(train)):
                clicked = items[r] == val[r]
                res = [(0, int(val[r]))] if val[r] in found[r] else []
                n_click += int(clicked.any())
                n_q += len(res)
                users.append(
                    UserFeedback(
                        train[r],
                        items[r][items[r] >= 0],
                        clicked[items[r] >= 0],
                        np.zeros(int((items[r] >= 0).sum()), bool),
                        np.zeros(int((items[r] >= 0).sum()), bool),
                        qids[r],
                        np.array([bool(res)]),
                        res,
                    )
                )
            log = FeedbackLog(users)
            picked = np.sort(rng.choice(len(train), n_replay, replace=False))
            replay_seqs = [train[i] for i in picked]
            replay = control.examples_from(replay_seqs)
            fw = FeedbackWeights(ignore=ignore_weight)
            n_fb = len(feedback_examples(log, cfg.max_len, model.vocab.item_query, fw))
            n_fb += len(replay)
            model.self_enhance(
                log, replay=replay_seqs, epochs=epochs_per_round, ignore=ignore_weight
            )
            # same compute: as many replay examples (cycled) as feedback + replay examples
            control.train(
                replay.take(np.arange(n_fb) % len(replay)), epochs_per_round, "self_enhance"
            )
            rows.append(
                {
                    "round": rnd,
                    "feedback": evaluate(model, hist_test, test),
                    "control": evaluate(control, hist_test, test),
                    "clicks": n_click,
                    "query_clicks": n_q,
                    "examples": n_fb,
                    "time_s": time.perf_counter() - t0,
                }
            )
            if on_round is not None:
                on_round(rows[-1])
    return rows


def main(argv: list[str] | None = None) -> None:
    """Print OneFeed's Beauty figures: test metrics per seed, queries, self-enhancement."""
    import argparse
    import json as _json
    import resource
    import time

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--data", default=None, help="shared data dir (default $ONEFEED_DATA)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--what", choices=["metrics", "queries", "self-enhance"], default="metrics")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    ds = load_beauty(args.data)
    if args.what == "self-enhance":
        offline_self_enhancement(
            ds,
            seed=args.seeds[0],
            rounds=args.rounds,
            on_round=lambda row: print(_json.dumps(row), flush=True),
        )
        return
    train = [s[:-1] for s in ds.sequences]
    test = np.array([s[-1] for s in ds.sequences])
    results = []
    for seed in args.seeds:
        t0 = time.time()
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        cpu0 = ru0.ru_utime + ru0.ru_stime
        rec = OneFeedRecommender()
        rec.fit(TrainData(ds, train, "test"), seed)
        assert rec.model is not None
        if args.what == "queries":
            q = query_metrics(rec, train, test, ds)
            print(_json.dumps(q, indent=1))
            return
        m = evaluate(rec, train, test)
        m["sids"] = rec.model.sid_stats()
        m["seconds"] = time.time() - t0
        ru = resource.getrusage(resource.RUSAGE_SELF)
        m["cpu_seconds"] = ru.ru_utime + ru.ru_stime - cpu0
        m["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(seed, _json.dumps(m), flush=True)
        results.append(m)
    keys = ["R@5", "N@5", "R@10", "N@10"]
    print("mean", {k: round(float(np.mean([r[k] for r in results])), 4) for k in keys})


if __name__ == "__main__":
    main()
