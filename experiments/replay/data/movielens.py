"""MovieLens-100K and MovieLens-1M as sequential implicit-feedback datasets.

Every rating counts as one implicit interaction (the rating value is ignored). A user's
sequence is ordered by timestamp; ties keep the order of the ratings file (stable sort).
Item ids are the movies that occur in the ratings, remapped to ``0 .. n_items - 1`` in
increasing MovieLens id order. Item text is ``"<title>. <genre>, <genre>"``; item
attributes are genre indices.

Files: ML-100K ``u.data`` (TAB, ASCII), ``u.item`` (``|``, latin-1, 24 fields, 19 genre
flags), ``u.genre`` (``|``, optional); ML-1M ``ratings.dat`` and ``movies.dat`` (``::``,
latin-1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.errors import DataError
from experiments.replay.data._io import parse_int, read_lines, require_file, split_fields
from experiments.replay.protocol import ReplayDataset

__all__ = ["build_sequences", "load_ml1m", "load_ml100k", "read_ratings"]

ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip


def read_ratings(
    path: Path, sep: str, encoding: str = "ascii"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Read ``user, item, rating, timestamp`` rows.

    Args:
        path: Ratings file.
        sep: Field separator (``"\t"`` or ``"::"``).
        encoding: Text encoding (decode errors name the line).

    Returns:
        ``(users, items, timestamps, line_numbers)``, each shape ``(n_ratings,)`` int64,
        in file order.
    """
    require_file(path, "ratings file")
    users: list[int] = []
    items: list[int] = []
    times: list[int] = []
    lines: list[int] = []
    for lineno, text in read_lines(path, encoding):
        u, i, _r, t = split_fields(path, lineno, text, sep, 4)
        users.append(parse_int(path, lineno, u, "user id"))
        items.append(parse_int(path, lineno, i, "item id"))
        parse_int(path, lineno, _r, "rating")
        times.append(parse_int(path, lineno, t, "timestamp"))
        lines.append(lineno)
    if not users:
        raise DataError(f"{path}: no ratings")
    as64 = np.asarray
    return (
        as64(users, dtype=np.int64),
        as64(items, dtype=np.int64),
        as64(times, dtype=np.int64),
        as64(lines, dtype=np.int64),
    )


def build_sequences(
    users: np.ndarray, items: np.ndarray, timestamps: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray]:
    """Chronological item sequences per user with contiguous item ids.

    Args:
        users: Shape ``(n,)`` raw user ids.
        items: Shape ``(n,)`` raw item ids.
        timestamps: Shape ``(n,)``; ties keep input order (stable).

    Returns:
        ``(sequences, raw_item_ids)``: one int64 array per user in increasing user id
        order, with items ``0 .. n_items - 1``; ``raw_item_ids[k]`` is item ``k``'s
        original id (shape ``(n_items,)``, increasing).
    """
    raw_ids, dense = np.unique(items, return_inverse=True)
    order = np.lexsort((np.arange(len(users)), timestamps, users))
    u_sorted = users[order]
    d_sorted = dense[order].astype(np.int64)
    cuts = np.flatnonzero(np.diff(u_sorted)) + 1
    return [np.ascontiguousarray(s) for s in np.split(d_sorted, cuts)], raw_ids


def _check_known(path: Path, items: np.ndarray, lines: np.ndarray, known: set[int], mf: Path):
    for item, line in zip(items.tolist(), lines.tolist(), strict=True):
        if item not in known:
            raise DataError(f"{path}:{line}: item id {item} is not in {mf}")


def _read_ml100k_items(path: Path) -> dict[int, tuple[str, list[int]]]:
    require_file(path, "movie file")
    out: dict[int, tuple[str, list[int]]] = {}
    for lineno, text in read_lines(path, "latin-1"):
        fields = split_fields(path, lineno, text, "|", 5 + len(ML100K_GENRES))
        movie = parse_int(path, lineno, fields[0], "movie id")
        flags = [parse_int(path, lineno, f, "genre flag") for f in fields[5:]]
        if any(f not in (0, 1) for f in flags):
            raise DataError(f"{path}:{lineno}: genre flags must be 0 or 1")
        out[movie] = (fields[1].strip(), [g for g, f in enumerate(flags) if f])
    return out


def _movie_text(title: str, genres: list[str]) -> str:
    return f"{title}. {', '.join(genres)}" if genres else title


def load_ml100k(data_dir: Path) -> ReplayDataset:
    """MovieLens-100K from ``<data_dir>/ml-100k``.

    Args:
        data_dir: The data directory.

    Returns:
        943 sequences over 1,682 items (100,000 interactions) on the shared data.
    """
    folder = data_dir / "ml-100k"
    data_path, item_path = folder / "u.data", folder / "u.item"
    users, items, times, lines = read_ratings(data_path, "\t")
    movies = _read_ml100k_items(item_path)
    _check_known(data_path, items, lines, set(movies), item_path)
    sequences, raw_ids = build_sequences(users, items, times)
    text, attrs = [], []
    for r in raw_ids.tolist():
        title, genres = movies[r]
        text.append(_movie_text(title, [ML100K_GENRES[g] for g in genres]))
        attrs.append(np.asarray(genres, dtype=np.int64))
    return ReplayDataset(
        "ml-100k", len(raw_ids), sequences, text, attrs, "movie titles and genres (u.item)"
    )


def _read_ml1m_movies(path: Path) -> dict[int, tuple[str, list[str]]]:
    require_file(path, "movie file")
    out: dict[int, tuple[str, list[str]]] = {}
    for lineno, text in read_lines(path, "latin-1"):
        movie, title, genres = split_fields(path, lineno, text, "::", 3)
        mid = parse_int(path, lineno, movie, "movie id")
        out[mid] = (title.strip(), [g for g in genres.strip().split("|") if g])
    return out


def load_ml1m(data_dir: Path) -> ReplayDataset:
    """MovieLens-1M from ``<data_dir>/ml-1m`` (needs ``ratings.dat``, not in shared data).

    Args:
        data_dir: The data directory.

    Returns:
        One sequence per rating user; items are the rated movies.
    """
    folder = data_dir / "ml-1m"
    ratings_path, movies_path = folder / "ratings.dat", folder / "movies.dat"
    require_file(
        ratings_path, "ratings file (MovieLens-1M ratings.dat; get ml-1m.zip from GroupLens)"
    )
    movies = _read_ml1m_movies(movies_path)
    users, items, times, lines = read_ratings(ratings_path, "::", "ascii")
    _check_known(ratings_path, items, lines, set(movies), movies_path)
    sequences, raw_ids = build_sequences(users, items, times)
    genre_names = sorted({g for _, gs in movies.values() for g in gs})
    genre_index = {g: k for k, g in enumerate(genre_names)}
    text, attrs = [], []
    for r in raw_ids.tolist():
        title, genres = movies[r]
        text.append(_movie_text(title, genres))
        attrs.append(np.asarray([genre_index[g] for g in genres], dtype=np.int64))
    return ReplayDataset(
        "ml-1m", len(raw_ids), sequences, text, attrs, "movie titles and genres (movies.dat)"
    )
