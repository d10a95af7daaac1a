"""Counts of the real shared datasets (skipped when the data is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.errors import DataError
from experiments.replay.data import load_beauty, load_ml100k
from experiments.replay.data.paths import default_data_dir, resolve_data_dir


def data_dir_or_skip(sub: str):
    try:
        root = resolve_data_dir(None)
    except DataError:
        pytest.skip(f"real data absent (set ONEFEED_DATA or place it at {default_data_dir()})")
    if not (root / sub).is_dir():
        pytest.skip(f"real data absent: {root / sub} not found")
    return root


def test_beauty_counts() -> None:
    ds = load_beauty(data_dir_or_skip("amazon-s3rec"))
    assert len(ds.sequences) == 22_363
    assert ds.n_items == 12_101
    assert sum(len(s) for s in ds.sequences) == 198_502
    assert min(len(s) for s in ds.sequences) == 5
    flat = np.concatenate(ds.sequences)
    assert flat.min() == 0 and flat.max() == 12_100
    assert sum(bool(t) for t in ds.item_text) >= 12_094
    assert ds.item_text[0].startswith("OPI Nail Lacquer, Simmer and Shimmer, 0.5-Fluid Ounce")
    assert ds.item_text[3].startswith("WAWO 15 Color Professionl Makeup Eyeshadow")
    assert max(int(a.max()) for a in ds.item_attributes) == 636


def test_ml100k_counts() -> None:
    ds = load_ml100k(data_dir_or_skip("ml-100k"))
    assert len(ds.sequences) == 943
    assert ds.n_items == 1_682
    assert sum(len(s) for s in ds.sequences) == 100_000
    assert min(len(s) for s in ds.sequences) >= 20
    assert ds.item_text[0] == "Toy Story (1995). Animation, Children's, Comedy"
    assert sum("é" in t for t in ds.item_text) >= 1  # latin-1 decoded


def test_s3rec_beauty_by_name_gets_attribute_names() -> None:
    from experiments.replay.data import load_dataset

    root = data_dir_or_skip("amazon-p5-datamaps")
    ds = load_dataset("s3rec:Beauty", root)
    assert len(ds.sequences) == 22_363 and ds.n_items == 12_101
    assert "on >= 5 items" in ds.text_source
    # item 1 (ASIN B004756YJA, an OPI nail polish): brand and category names
    assert ds.item_text[0] == "OPI, Makeup, Nails, Nail Polish"
    assert all(ds.item_text)
