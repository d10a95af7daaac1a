"""Read a real dataset into a :class:`~experiments.calibration.real_log.RealLog`.

The items, their order and the users' sequences are those of the replay bench's loader
(:func:`experiments.replay.data.load_dataset`, same data-directory rules). On top:

* **titles**: the bench's item text (MovieLens: ``"<title>. <genres>"``; Beauty:
  ``"<title>. <brand>. <category path>"``; other S3-Rec files: attribute names),
  cleaned to lower-case words of letters and digits, at most :data:`MAX_TITLE_WORDS`;
* **topics** (``from_data.topics``): ``attributes`` — MovieLens genres (an item's
  vector spreads evenly over its genres); Beauty categories two levels below the root
  (``Makeup > Eyes``), a path with fewer than :data:`MIN_TOPIC_ITEMS` items merged into
  its first level (``Makeup``); other S3-Rec files, their ``n_factors`` most frequent
  attributes — or ``factorisation`` (:func:`experiments.calibration.topics.factorise`);
  an item without any topic gets the catalogue's mean topic vector;
* **release order** (MovieLens-100K: ``u.item``'s release date; unknown elsewhere);
* **timestamps** (MovieLens: the ratings' Unix times; none for S3-Rec files).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np

from experiments.calibration.real_log import RealLog
from experiments.calibration.topics import factorise
from experiments.errors import DataError
from experiments.replay.data import S3REC_PREFIX, load_dataset, resolve_data_dir
from experiments.replay.data._io import read_lines, split_fields
from experiments.replay.data.amazon import beauty_item_fields, load_s3rec_with_ids
from experiments.replay.data.movielens import ML100K_GENRES, read_ratings
from experiments.replay.protocol import ReplayDataset
from sim.config import DataSourceConfig

__all__ = ["MAX_TITLE_WORDS", "MIN_TOPIC_ITEMS", "clean_title", "load_real_log"]

#: Longest title kept (words); longer item texts are cut.
MAX_TITLE_WORDS = 40
#: A Beauty category path with fewer items is merged into its first level.
MIN_TOPIC_ITEMS = 20

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def clean_title(text: str) -> str:
    """Lower-case words of letters and digits, single-spaced, at most ``MAX_TITLE_WORDS``."""
    return " ".join(_WORD.findall(text.lower())[:MAX_TITLE_WORDS])


def load_real_log(spec: DataSourceConfig, data_dir: str | Path | None = None) -> RealLog:
    """Load the dataset a calibrated scenario names.

    Args:
        spec: The scenario's ``world.from_data``.
        data_dir: Data directory (``None``: ``$ONEFEED_DATA``, then ``../shared/data``).

    Returns:
        The real log.

    Raises:
        DataError: Unknown dataset, missing or malformed file (file and line named).
    """
    root = resolve_data_dir(data_dir)
    name = spec.dataset
    timestamps = None
    release = None
    if name == "beauty":
        ds, raw_ids = load_s3rec_with_ids(root / "amazon-s3rec", "Beauty", dataset_name="beauty")
        fields = beauty_item_fields(root, raw_ids)
        text = [
            ". ".join(p for p in (title, brand, " > ".join(cats[1:])) if p)
            for title, brand, cats in fields
        ]
        names, topics = _category_topics([cats for _, _, cats in fields])
        source = "titles, brands and category paths (Amazon_Beauty.item); topics: categories"
    else:
        ds = load_dataset(name, root)
        if ds.item_text is None:
            raise DataError(f"dataset {name!r} has no item text ({ds.text_source}); a "
                            "calibrated world needs titles")  # fmt: skip
        text = list(ds.item_text)
        names, topics = _attribute_topics(ds, spec.n_factors)
        source = f"{ds.text_source}; topics: " + (
            "genres" if name.startswith("ml-") else "most frequent attributes"
        )
        if name == "ml-100k":
            timestamps = _ml100k_timestamps(root, ds)
            release = _ml100k_release_rank(root, ds)
    if spec.topics == "factorisation":
        topics = factorise(ds.sequences, ds.n_items, spec.n_factors, seed=spec.fit_seed)
        names = tuple(f"factor-{k}" for k in range(spec.n_factors))
        source = source.split("; topics:")[0] + f"; topics: {spec.n_factors} factors"
    return RealLog(
        name=name,
        titles=[clean_title(t) for t in text],
        topic_names=tuple(names),
        item_topics=_fill_empty(topics),
        release_rank=release,
        sequences=list(ds.sequences),
        timestamps=timestamps,
        source=source,
    )


def _fill_empty(topics: np.ndarray) -> np.ndarray:
    """Rows normalised to the simplex; all-zero rows get the mean of the others."""
    topics = np.asarray(topics, dtype=np.float64)
    mass = topics.sum(axis=1)
    empty = mass <= 0
    out = np.zeros_like(topics)
    out[~empty] = topics[~empty] / mass[~empty, None]
    mean = out[~empty].mean(axis=0) if (~empty).any() else np.ones(topics.shape[1])
    out[empty] = mean / mean.sum()
    return out


def _category_topics(paths: list[list[str]]) -> tuple[tuple[str, ...], np.ndarray]:
    """One-hot topics from category paths (two levels below the root, rare ones merged)."""
    two = [" > ".join(p[1:3]) for p in paths]
    counts: dict[str, int] = {}
    for t in two:
        counts[t] = counts.get(t, 0) + 1
    label = [
        t if t and counts[t] >= MIN_TOPIC_ITEMS else (p[1] if len(p) > 1 else "")
        for t, p in zip(two, paths, strict=True)
    ]
    names = tuple(sorted({lab for lab in label if lab}))
    index = {n: k for k, n in enumerate(names)}
    topics = np.zeros((len(paths), len(names)))
    for i, lab in enumerate(label):
        if lab:
            topics[i, index[lab]] = 1.0
    return names, topics


def _attribute_topics(ds: ReplayDataset, n_factors: int) -> tuple[tuple[str, ...], np.ndarray]:
    """Genres (MovieLens) or the ``n_factors`` most frequent attributes (S3-Rec files)."""
    if ds.item_attributes is None:
        raise DataError(f"dataset {ds.name!r} has no item attributes; use `topics: factorisation`")
    n_attr = 1 + max((int(a.max()) for a in ds.item_attributes if a.size), default=0)
    flags = np.zeros((ds.n_items, n_attr))
    for i, attrs in enumerate(ds.item_attributes):
        flags[i, attrs] = 1.0
    if ds.name == "ml-100k":
        return tuple(ML100K_GENRES[:n_attr]), flags  # one name per column
    if ds.name.startswith(S3REC_PREFIX):
        keep = np.sort(np.argsort(-flags.sum(axis=0), kind="stable")[:n_factors])
        return tuple(f"attribute-{a}" for a in keep.tolist()), flags[:, keep]
    return tuple(f"genre-{k}" for k in range(n_attr)), flags


def _ml100k_timestamps(root: Path, ds: ReplayDataset) -> list[np.ndarray]:
    """The ratings' Unix times per user, aligned with the bench's sequences."""
    users, _items, times, _ = read_ratings(root / "ml-100k" / "u.data", "\t")
    order = np.lexsort((np.arange(len(users)), times, users))
    cuts = np.flatnonzero(np.diff(users[order])) + 1
    out = [np.ascontiguousarray(t) for t in np.split(times[order], cuts)]
    if [len(t) for t in out] != [len(s) for s in ds.sequences]:
        raise DataError(f"{root / 'ml-100k' / 'u.data'}: timestamps do not match the sequences")
    return out


def _ml100k_release_rank(root: Path, ds: ReplayDataset) -> np.ndarray:
    """Each item's rank in release-date order in ``[0, 1]`` (unknown dates: the median)."""
    path = root / "ml-100k" / "u.item"
    _, items, _, _ = read_ratings(root / "ml-100k" / "u.data", "\t")
    raw_ids = np.unique(items)
    dates: dict[int, float] = {}
    for lineno, text in read_lines(path, "latin-1"):
        fields = split_fields(path, lineno, text, "|", 5 + len(ML100K_GENRES))
        try:
            day = datetime.strptime(fields[2].strip(), "%d-%b-%Y").timestamp()
        except ValueError:
            day = float("nan")
        dates[int(fields[0])] = day
    when = np.array([dates.get(int(r), np.nan) for r in raw_ids])
    when[np.isnan(when)] = np.nanmedian(when)
    if when.shape[0] != ds.n_items:
        raise DataError(f"{path}: release dates do not match the items")
    ranks = np.argsort(np.argsort(when, kind="stable"), kind="stable")
    return ranks / max(ds.n_items - 1, 1)
