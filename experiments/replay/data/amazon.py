"""Amazon Reviews in the S3-Rec preprocessing, plus Beauty item text.

Files (relative to the data directory):

* ``amazon-s3rec/<Name>.txt`` — ``user_id item_1 … item_n`` per line, chronological, ASCII.
* ``amazon-s3rec/<Name>_item2attributes.json`` — ``{"<item_id>": [attribute_id, …]}``.
* ``amazon-p5-datamaps/<name>/datamaps.json`` (optional) — P5's maps: ``id2item`` (S3-Rec
  item id → ASIN), ``id2attribute`` and ``attributeid2num`` (attribute names and counts).
* ``amazon-beauty-recbole/Amazon_Beauty.item`` — CSV-quoted TSV with a header:
  ASIN, title, sales type, sales rank, categories, price, brand (HTML-escaped text).

Item ids are remapped to ``0 .. n_items - 1`` in increasing order of the file's ids
(for Beauty, whose ids are exactly ``1..12101``, this is ``id - 1``). Attribute ids are
remapped the same way (Beauty: ``1..637`` → ``0..636``).

Any S3-Rec file loads by name (:func:`load_s3rec_dataset`, ``--dataset s3rec:NAME``). Its
item text is the item's attribute names (brand and category names) when a P5 datamap
gives them: S3-Rec keeps the P5 attributes found on at least ``t`` items and numbers
them ``1..`` in P5 id order, so the table is rebuilt by finding the ``t`` for which every
attribute's item count agrees with P5's ``attributeid2num`` (``t = 5`` for Beauty).
Without a datamap, or when no ``t`` makes the counts agree, the dataset has no item text
and ``text_source`` says why.
"""

from __future__ import annotations

import ast
import csv
import html
import io
import json
from pathlib import Path

import numpy as np

from experiments.errors import DataError
from experiments.replay.data._io import parse_int, read_lines, require_file
from experiments.replay.protocol import ReplayDataset

__all__ = [
    "attribute_names",
    "beauty_item_fields",
    "load_beauty",
    "load_beauty_item_text",
    "load_s3rec",
    "load_s3rec_dataset",
    "load_s3rec_with_ids",
    "read_beauty_item_fields",
    "read_s3rec_sequences",
]

_TITLE_HEADER = ("item_id", "title", "sales_type", "sales_rank", "categories", "price", "brand")


def read_s3rec_sequences(path: Path) -> list[list[int]]:
    """Read an S3-Rec sequence file.

    Args:
        path: ``<Name>.txt``; one user per line, space-separated positive integers.

    Returns:
        One list of raw item ids per user, in file order (users' own ids are checked to
        be integers but otherwise ignored).

    Raises:
        DataError: Missing file, non-ASCII bytes, a non-integer id, a user without items
            or a repeated user id — always with file and line.
    """
    require_file(path, "S3-Rec sequence file")
    sequences: list[list[int]] = []
    seen_users: dict[int, int] = {}
    for lineno, text in read_lines(path, "ascii"):
        fields = text.split()
        if len(fields) < 2:
            raise DataError(f"{path}:{lineno}: expected 'user_id item_1 ... item_n', got {text!r}")
        user = parse_int(path, lineno, fields[0], "user id")
        if user in seen_users:
            raise DataError(
                f"{path}:{lineno}: user id {user} repeated (first on line {seen_users[user]})"
            )
        seen_users[user] = lineno
        items = [parse_int(path, lineno, f, "item id") for f in fields[1:]]
        if min(items) < 0:
            raise DataError(f"{path}:{lineno}: negative item id")
        sequences.append(items)
    if not sequences:
        raise DataError(f"{path}: no sequences")
    return sequences


def _load_json(path: Path, what: str) -> object:
    require_file(path, what)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{path}:{line}: not valid utf-8") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from exc


def _read_raw_attributes(path: Path) -> dict[int, list[int]]:
    """``item2attributes.json`` as raw item id → raw attribute ids."""
    obj = _load_json(path, "item-attribute file")
    if not isinstance(obj, dict):
        raise DataError(f"{path}:1: expected a JSON object mapping item id to attribute ids")
    raw_attrs: dict[int, list[int]] = {}
    for key, value in obj.items():
        if not key.strip().isdigit() or not isinstance(value, list):
            raise DataError(f"{path}:1: bad entry {key!r}: expected '\"<int>\": [int, ...]'")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise DataError(f"{path}:1: item {key}: attribute ids must be integers")
        raw_attrs[int(key)] = value
    return raw_attrs


def _read_attributes(path: Path, raw_ids: np.ndarray) -> list[np.ndarray]:
    """Attribute ids per item (0-based, contiguous), aligned with ``raw_ids``."""
    raw_attrs = _read_raw_attributes(path)
    all_attrs = sorted({a for v in raw_attrs.values() for a in v})
    attr_index = {a: i for i, a in enumerate(all_attrs)}
    return [
        np.asarray([attr_index[a] for a in raw_attrs.get(int(r), [])], dtype=np.int64)
        for r in raw_ids
    ]


def _load_s3rec_with_ids(
    directory: Path, name: str, dataset_name: str | None, attributes: bool
) -> tuple[ReplayDataset, np.ndarray]:
    seqs = read_s3rec_sequences(directory / f"{name}.txt")
    raw_ids = np.unique(np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs]))
    index = {int(r): i for i, r in enumerate(raw_ids)}
    sequences = [np.asarray([index[i] for i in s], dtype=np.int64) for s in seqs]
    attr_path = directory / f"{name}_item2attributes.json"
    item_attributes = None
    if attributes and attr_path.exists():
        item_attributes = _read_attributes(attr_path, raw_ids)
    ds = ReplayDataset(
        name=dataset_name or name.lower(),
        n_items=len(raw_ids),
        sequences=sequences,
        item_attributes=item_attributes,
    )
    return ds, raw_ids


def load_s3rec_with_ids(
    directory: Path, name: str, *, dataset_name: str | None = None
) -> tuple[ReplayDataset, np.ndarray]:
    """:func:`load_s3rec` (with attributes) and the raw ids of items ``0 .. n_items - 1``."""
    return _load_s3rec_with_ids(directory, name, dataset_name, True)


def load_s3rec(
    directory: Path, name: str, *, dataset_name: str | None = None, attributes: bool = True
) -> ReplayDataset:
    """Load ``<directory>/<name>.txt`` (and its attribute file) as a :class:`ReplayDataset`.

    Args:
        directory: Folder holding the S3-Rec files (``<data>/amazon-s3rec``).
        name: File stem, e.g. ``"Beauty"``.
        dataset_name: Name of the returned dataset (default ``name.lower()``).
        attributes: Also read ``<name>_item2attributes.json`` when present.

    Returns:
        Dataset with item ids ``0 .. n_items - 1`` (increasing raw id order).
    """
    return _load_s3rec_with_ids(directory, name, dataset_name, attributes)[0]


def _parse_categories(path: Path, line: int, value: str) -> list[str]:
    value = value.strip()
    if not value:
        return []
    try:
        cats = ast.literal_eval("[" + value + "]")
    except (ValueError, SyntaxError):
        raise DataError(f"{path}:{line}: categories field is not a list of strings") from None
    return [html.unescape(str(c)) for c in cats]


def read_beauty_item_fields(path: Path) -> dict[str, tuple[str, str, list[str]]]:
    """Read ``Amazon_Beauty.item`` into ASIN → ``(title, brand, categories)``.

    Args:
        path: The RecBole item file (UTF-8, CSV-quoted TSV, header line).

    Returns:
        Mapping from ASIN to the title and brand (HTML entities unescaped, stripped, TAB
        and newline as spaces) and the category path (top level first, e.g.
        ``["Beauty", "Makeup", "Face"]``).
    """
    require_file(path, "Beauty item (titles) file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{path}:{line}: not valid utf-8") from exc
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    out: dict[str, tuple[str, str, list[str]]] = {}

    def clean(value: str) -> str:
        return html.unescape(value).strip().replace("\n", " ").replace("\t", " ")

    try:
        header = next(reader, None)
        if header is None or tuple(h.split(":")[0] for h in header) != _TITLE_HEADER:
            raise DataError(f"{path}:1: unexpected header {header!r}")
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            if len(row) != len(_TITLE_HEADER):
                raise DataError(
                    f"{path}:{line}: expected {len(_TITLE_HEADER)} TAB-separated fields, "
                    f"got {len(row)}"
                )
            asin, title, _, _, categories, _, brand = row
            cats = [clean(c) for c in _parse_categories(path, line, categories)]
            out[asin] = (clean(title), clean(brand), cats)
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: CSV error: {exc}") from exc
    return out


def read_beauty_item_rows(path: Path) -> dict[str, str]:
    """Read ``Amazon_Beauty.item`` into ASIN → searchable text.

    The text is ``"<title>. <brand>. <category path without the top level>"`` with HTML
    entities unescaped and empty parts left out.

    Args:
        path: The RecBole item file (UTF-8, CSV-quoted TSV, header line).

    Returns:
        Mapping from ASIN to item text.
    """
    out: dict[str, str] = {}
    for asin, (title, brand, cats) in read_beauty_item_fields(path).items():
        parts = [title, brand, " > ".join(cats[1:]).strip()]
        out[asin] = ". ".join(p for p in parts if p)
    return out


def beauty_item_fields(data_dir: Path, raw_ids: np.ndarray) -> list[tuple[str, str, list[str]]]:
    """``(title, brand, categories)`` of S3-Rec Beauty item ids, via P5's ``datamaps.json``.

    Args:
        data_dir: The data directory.
        raw_ids: Shape ``(n_items,)``, the S3-Rec ids of items ``0 .. n_items - 1``.

    Returns:
        One tuple per item (``("", "", [])`` for an item the RecBole file lacks).
    """
    maps_path = data_dir / "amazon-p5-datamaps" / "beauty" / "datamaps.json"
    maps = _load_json(maps_path, "P5 datamaps file")
    if not isinstance(maps, dict) or not isinstance(maps.get("id2item"), dict):
        raise DataError(f"{maps_path}:1: no 'id2item' object")
    id2item: dict[str, str] = maps["id2item"]
    rows = read_beauty_item_fields(data_dir / "amazon-beauty-recbole" / "Amazon_Beauty.item")
    out = []
    for r in raw_ids:
        asin = id2item.get(str(int(r)))
        if asin is None:
            raise DataError(f"{maps_path}:1: id2item has no entry for item id {int(r)}")
        out.append(rows.get(asin, ("", "", [])))
    return out


def load_beauty_item_text(data_dir: Path, raw_ids: np.ndarray) -> list[str]:
    """Item text for S3-Rec Beauty item ids, joined through P5's ``datamaps.json``.

    Args:
        data_dir: The data directory.
        raw_ids: Shape ``(n_items,)``, the S3-Rec ids of items ``0 .. n_items - 1``.

    Returns:
        One string per item (empty if the item has neither title, brand nor category):
        ``"<title>. <brand>. <category path without the top level>"``.
    """
    texts = []
    for title, brand, cats in beauty_item_fields(data_dir, raw_ids):
        parts = [title, brand, " > ".join(cats[1:]).strip()]
        texts.append(". ".join(p for p in parts if p))
    return texts


def load_beauty(data_dir: Path, *, with_text: bool = True) -> ReplayDataset:
    """Amazon Beauty (S3-Rec 5-core) with titles, brands and categories as item text.

    Args:
        data_dir: The data directory (holding ``amazon-s3rec/`` etc.).
        with_text: Also join item text (needs the datamaps and RecBole files).

    Returns:
        22,363 sequences over 12,101 items (198,502 interactions) on the shared data.
    """
    ds, raw_ids = _load_s3rec_with_ids(data_dir / "amazon-s3rec", "Beauty", "beauty", True)
    if not with_text:
        return ds
    return ReplayDataset(
        name=ds.name,
        n_items=ds.n_items,
        sequences=ds.sequences,
        item_text=load_beauty_item_text(data_dir, raw_ids),
        item_attributes=ds.item_attributes,
        text_source="titles, brands and categories (Amazon_Beauty.item via datamaps.json)",
    )


def attribute_names(
    raw_attrs: dict[int, list[int]], datamap: dict
) -> tuple[dict[int, str] | None, str]:
    """Names of S3-Rec attribute ids, rebuilt from a P5 datamap (see the module docstring).

    Args:
        raw_attrs: Raw item id → raw S3-Rec attribute ids.
        datamap: The parsed P5 ``datamaps.json``.

    Returns:
        ``(names, how)``: attribute id → name (``None`` when no table is consistent) and
        a sentence saying how the table was found or why not.
    """
    id2attr, counts = datamap.get("id2attribute"), datamap.get("attributeid2num")
    if not isinstance(id2attr, dict) or not isinstance(counts, dict):
        return None, "the datamap has no id2attribute/attributeid2num tables"
    ours: dict[int, int] = {}
    for attrs in raw_attrs.values():
        for a in attrs:  # occurrences: an item may list an attribute twice, as P5 counts it
            ours[a] = ours.get(a, 0) + 1
    if not ours:
        return None, "no item has an attribute"
    p5 = sorted((int(k), int(v)) for k, v in counts.items() if str(k).isdigit())
    wanted = sorted(ours)
    for threshold in range(1, min(ours.values()) + 1):
        kept = [pid for pid, c in p5 if c >= threshold]
        if len(kept) != len(wanted) or wanted != list(range(1, len(kept) + 1)):
            continue
        if all(ours[i + 1] == dict(p5)[pid] for i, pid in enumerate(kept)):
            names = {i + 1: str(id2attr.get(str(pid), "")) for i, pid in enumerate(kept)}
            return names, f"P5 attributes on >= {threshold} items, renumbered (counts agree)"
    return None, "no renumbering of the datamap's attributes matches the attribute counts"


def load_s3rec_dataset(data_dir: Path, name: str) -> ReplayDataset:
    """Any S3-Rec file by name: ``amazon-s3rec/<name>.txt`` and its attributes.

    Item text is the attribute names (brand, categories) when
    ``amazon-p5-datamaps/<name lower-case>/datamaps.json`` gives them; otherwise the
    dataset has no text and ``text_source`` says why.

    Args:
        data_dir: The data directory.
        name: File stem as given after ``s3rec:`` (e.g. ``Beauty``, ``Sports_and_Outdoors``).

    Returns:
        The dataset, named ``s3rec:<name>``.
    """
    directory = data_dir / "amazon-s3rec"
    ds, raw_ids = _load_s3rec_with_ids(directory, name, f"s3rec:{name}", True)
    attr_path = directory / f"{name}_item2attributes.json"
    map_path = data_dir / "amazon-p5-datamaps" / name.lower() / "datamaps.json"
    if not attr_path.exists():
        why = f"no item text: {attr_path} not found"
    elif not map_path.exists():
        why = f"no item text: no datamap at {map_path} to name the attributes"
    else:
        raw_attrs = _read_raw_attributes(attr_path)
        datamap = _load_json(map_path, "P5 datamaps file")
        names, how = attribute_names(raw_attrs, datamap if isinstance(datamap, dict) else {})
        if names is None:
            why = f"no item text: {map_path}: {how}"
        else:
            text = [
                ", ".join(
                    dict.fromkeys(names[a] for a in raw_attrs.get(int(r), []) if names.get(a))
                )
                for r in raw_ids
            ]
            return ReplayDataset(
                ds.name,
                ds.n_items,
                ds.sequences,
                text,
                ds.item_attributes,
                f"attribute names (brand, categories) from {map_path.name}: {how}",
            )
    return ReplayDataset(ds.name, ds.n_items, ds.sequences, None, ds.item_attributes, why)
