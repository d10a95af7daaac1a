"""Loaders for the real datasets of the replay bench (MovieLens, Amazon Beauty).

Every loader returns a :class:`~experiments.replay.protocol.ReplayDataset` with item ids
``0 .. n_items - 1``; every problem with the files is one
:class:`~experiments.errors.DataError` naming the file and line.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from experiments.errors import DataError
from experiments.replay.data.amazon import load_beauty, load_s3rec, load_s3rec_dataset
from experiments.replay.data.movielens import load_ml1m, load_ml100k
from experiments.replay.data.paths import ENV_VAR, default_data_dir, resolve_data_dir
from experiments.replay.protocol import ReplayDataset

__all__ = [
    "DATASETS",
    "ENV_VAR",
    "S3REC_PREFIX",
    "dataset_names",
    "default_data_dir",
    "load_beauty",
    "load_dataset",
    "load_ml1m",
    "load_ml100k",
    "load_s3rec",
    "load_s3rec_dataset",
    "resolve_data_dir",
]

#: Dataset name → loader taking the data directory.
DATASETS: dict[str, Callable[[Path], ReplayDataset]] = {
    "beauty": load_beauty,
    "ml-100k": load_ml100k,
    "ml-1m": load_ml1m,
}


#: Prefix of any S3-Rec-format dataset: ``s3rec:NAME`` → ``amazon-s3rec/NAME.txt``.
S3REC_PREFIX = "s3rec:"


def dataset_names() -> str:
    """The accepted dataset names, for messages."""
    return ", ".join([*DATASETS, f"{S3REC_PREFIX}NAME"])


def load_dataset(name: str, data_dir: str | os.PathLike[str] | None = None) -> ReplayDataset:
    """Load a dataset by name.

    Args:
        name: One of :data:`DATASETS` (``beauty``, ``ml-100k``, ``ml-1m``) or
            ``s3rec:NAME`` for any S3-Rec file ``amazon-s3rec/NAME.txt`` (with
            ``NAME_item2attributes.json``).
        data_dir: Data directory (``None``: ``$ONEFEED_DATA``, then ``../shared/data``).

    Returns:
        The dataset.

    Raises:
        DataError: Unknown name, missing directory or file, bad encoding, malformed row.
    """
    if name.startswith(S3REC_PREFIX):
        stem = name[len(S3REC_PREFIX) :]
        if not stem or "/" in stem or "\\" in stem or stem.startswith("."):
            raise DataError(f"dataset {name!r}: expected s3rec:NAME with a file stem NAME")
        return load_s3rec_dataset(resolve_data_dir(data_dir), stem)
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {dataset_names()}")
    return DATASETS[name](resolve_data_dir(data_dir))
