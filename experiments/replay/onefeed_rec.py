"""The OneFeed model behind the replay bench's ``Recommender`` contract, plus the
OneFeed-specific offline measurements (Query-Hit@K, candidate expansion, offline
self-enhancement rounds)."""

from __future__ import annotations

import csv
import html
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from experiments.replay.protocol import ReplayDataset, TrainData
from onefeed import OneFeedConfig, OneFeedModel

__all__ = ["OneFeedRecommender", "load_beauty", "ranking_metrics"]


def load_beauty(data_dir: str | os.PathLike | None = None) -> ReplayDataset:
    """Load Amazon Beauty (S3-Rec sequences) with title + brand + category text.

    Args:
        data_dir: The shared data directory (default ``$ONEFEED_DATA`` or
            ``../shared/data`` beside the checkout).

    Returns:
        A :class:`ReplayDataset` with 0-based item ids.

    Raises:
        FileNotFoundError: When a Beauty file is missing.
    """
    root = Path(data_dir or os.environ.get("ONEFEED_DATA")
                or Path(__file__).resolve().parents[3] / "shared" / "data")
    seq_path = root / "amazon-s3rec" / "Beauty.txt"
    maps_path = root / "amazon-p5-datamaps" / "beauty" / "datamaps.json"
    item_path = root / "amazon-beauty-recbole" / "Amazon_Beauty.item"
    for p in (seq_path, maps_path, item_path):
        if not p.exists():
            raise FileNotFoundError(f"Beauty data file missing: {p}")
    seqs = []
    n_items = 0
    with open(seq_path) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) > 1:
                s = np.array([int(x) - 1 for x in parts[1:]], dtype=np.int64)
                seqs.append(s)
                n_items = max(n_items, int(s.max()) + 1)
    id2item = json.loads(maps_path.read_text())["id2item"]
    meta: dict[str, str] = {}
    with open(item_path, newline="", encoding="utf-8") as fh:
        rows = csv.reader(fh, delimiter="\t")
        header = next(rows)
        col = {h.split(":")[0]: i for i, h in enumerate(header)}
        for r in rows:
            if len(r) < len(header):
                continue
            cats = r[col["categories"]].replace("'", " ").replace('"', " ")
            meta[r[col["item_id"]]] = " ".join(
                html.unescape(x) for x in (r[col["title"]], r[col["brand"]], cats))
    text = [meta.get(id2item.get(str(i + 1), ""), "") for i in range(n_items)]
    return ReplayDataset("beauty", n_items, seqs, text)
