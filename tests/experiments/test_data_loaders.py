"""Loaders on tiny files written here: formats, id mapping, ordering, text and attributes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from experiments.errors import DataError
from experiments.replay.data import load_beauty, load_dataset, load_ml1m, load_ml100k, load_s3rec
from experiments.replay.data.paths import resolve_data_dir


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def make_beauty(root: Path) -> Path:
    """Three users over four items (S3-Rec ids 1..4), with attributes and text."""
    write(root / "amazon-s3rec" / "Beauty.txt", "1 1 2 3\n2 2 4 1\n3 3 4 2 1\n")
    write(
        root / "amazon-s3rec" / "Beauty_item2attributes.json",
        json.dumps({"1": [5, 7], "2": [7], "3": [9], "4": [5]}),
    )
    maps = {"id2item": {"1": "A1", "2": "A2", "3": "A3", "4": "A4"}}
    write(root / "amazon-p5-datamaps" / "beauty" / "datamaps.json", json.dumps(maps) + "\r\n")
    header = (
        "item_id:token\ttitle:token\tsales_type:token\tsales_rank:float\t"
        "categories:token_seq\tprice:float\tbrand:token\n"
    )
    rows = (
        "A1\tNail &amp; Polish\tBeauty\t1.0\t'Beauty', 'Makeup', 'Nails'\t5.0\tOPI\n"
        'A2\t"Two\tpart ""title"""\tBeauty\t2.0\t\'Beauty\', \'Skin\'\t\tL&#39;Oreal\n'
        "A3\t\tBeauty\t3.0\t'Beauty'\t\t\n"
        "A4\t\"multi\nline\"\tBeauty\t4.0\t'Beauty', 'Hair'\t1.0\tX\n"
    )
    write(root / "amazon-beauty-recbole" / "Amazon_Beauty.item", header + rows)
    return root


def test_s3rec_sequences_are_zero_based_and_attributes_remapped(tmp_path: Path) -> None:
    ds = load_s3rec(make_beauty(tmp_path) / "amazon-s3rec", "Beauty")
    assert ds.n_items == 4
    assert [s.tolist() for s in ds.sequences] == [[0, 1, 2], [1, 3, 0], [2, 3, 1, 0]]
    # attribute ids 5, 7, 9 → 0, 1, 2 (increasing order)
    assert [a.tolist() for a in ds.item_attributes] == [[0, 1], [1], [2], [0]]


def test_beauty_text_is_joined_through_datamaps_and_unescaped(tmp_path: Path) -> None:
    ds = load_beauty(make_beauty(tmp_path))
    assert ds.name == "beauty"
    assert ds.item_text[0] == "Nail & Polish. OPI. Makeup > Nails"
    assert ds.item_text[1] == 'Two part "title". L\'Oreal. Skin'  # embedded TAB → space
    assert ds.item_text[2] == ""  # no title, brand or sub-category
    assert ds.item_text[3] == "multi line. X. Hair"  # embedded newline → space


def test_ml100k_orders_by_timestamp_with_stable_ties(tmp_path: Path) -> None:
    root = tmp_path
    # user 2: items 30 (t=5), 10 (t=5, later in file), 20 (t=1) → 20, 30, 10
    write(
        root / "ml-100k" / "u.data",
        "2\t30\t4\t5\n1\t10\t3\t7\n2\t10\t5\t5\n2\t20\t1\t1\n1\t20\t2\t3\n",
    )
    flags0 = "|".join(["0"] * 19)
    flags1 = "|".join(["0", "1"] + ["0"] * 16 + ["1"])  # Action, Western
    item = (
        f"10|Am\xe9lie (2001)|01-Jan-2001||url|{flags1}\n"
        f"20|Toy Story (1995)|01-Jan-1995||url|{flags0}\n"
        f"30|Heat (1995)|01-Jan-1995||url|{flags0}\n"
        f"40|Unrated (1995)|01-Jan-1995||url|{flags0}\n"
    ).encode("latin-1")
    write(root / "ml-100k" / "u.item", item)
    ds = load_ml100k(root)
    assert ds.n_items == 3  # only rated movies, ids 10, 20, 30 → 0, 1, 2
    assert [s.tolist() for s in ds.sequences] == [[1, 0], [1, 2, 0]]
    assert ds.item_text[0] == "Amélie (2001). Action, Western"
    assert ds.item_text[1] == "Toy Story (1995)"
    assert ds.item_attributes[0].tolist() == [1, 18]


def test_ml1m_parses_double_colon_files(tmp_path: Path) -> None:
    write(
        tmp_path / "ml-1m" / "ratings.dat",
        "1::5::5::978300760\n1::1::3::978300700\n2::5::4::978300000\n",
    )
    write(
        tmp_path / "ml-1m" / "movies.dat",
        "1::Toy Story (1995)::Animation|Children's|Comedy\n3::X (1995)::Drama\n"
        "5::Father of the Bride Part II (1995)::Comedy\n".encode("latin-1"),
    )
    ds = load_ml1m(tmp_path)
    assert ds.n_items == 2  # movies 1 and 5 are rated
    assert [s.tolist() for s in ds.sequences] == [[0, 1], [1]]
    assert ds.item_text[0] == "Toy Story (1995). Animation, Children's, Comedy"
    # genres sorted over movies.dat: Animation 0, Children's 1, Comedy 2, Drama 3
    assert ds.item_attributes[0].tolist() == [0, 1, 2]
    assert ds.item_attributes[1].tolist() == [2]


def test_load_dataset_and_data_dir_resolution(tmp_path: Path, monkeypatch) -> None:
    make_beauty(tmp_path)
    monkeypatch.setenv("ONEFEED_DATA", str(tmp_path))
    assert resolve_data_dir(None) == tmp_path
    assert load_dataset("beauty").n_items == 4
    with pytest.raises(DataError, match=r"data directory not found.*--data-dir"):
        resolve_data_dir(tmp_path / "nope")
    monkeypatch.setenv("ONEFEED_DATA", str(tmp_path / "absent"))
    with pytest.raises(DataError, match=r"absent: data directory not found \(from \$ONEFEED"):
        load_dataset("beauty")
    with pytest.raises(DataError, match="unknown dataset 'sports'"):
        load_dataset("sports", tmp_path)


def test_sequences_are_int64_arrays(tmp_path: Path) -> None:
    ds = load_beauty(make_beauty(tmp_path), with_text=False)
    assert ds.item_text is None
    assert all(isinstance(s, np.ndarray) and s.dtype == np.int64 for s in ds.sequences)


def make_s3rec(root: Path, name: str = "Toys_and_Games", datamap: bool = True) -> Path:
    """An S3-Rec file with attributes; the datamap keeps P5 attributes on >= 2 items."""
    write(root / "amazon-s3rec" / f"{name}.txt", "1 10 20\n2 20 30 10\n3 30 20\n")
    # S3-Rec attribute ids 1..2 = the P5 attributes with >= 2 items (P5 ids 4 and 9), in
    # P5 id order; item 10: [1, 2], item 20: [2], item 30: [1]
    write(
        root / "amazon-s3rec" / f"{name}_item2attributes.json",
        json.dumps({"10": [1, 2], "20": [2], "30": [1]}),
    )
    if datamap:
        maps = {
            "id2attribute": {"3": "Rare", "4": "LEGO", "9": "Toys > Blocks"},
            "attributeid2num": {"3": 1, "4": 2, "9": 2},
        }
        write(root / "amazon-p5-datamaps" / name.lower() / "datamaps.json", json.dumps(maps))
    return root


def test_s3rec_by_name_uses_attribute_names_from_the_datamap(tmp_path: Path) -> None:
    ds = load_dataset("s3rec:Toys_and_Games", make_s3rec(tmp_path))
    assert ds.name == "s3rec:Toys_and_Games" and ds.n_items == 3
    assert [s.tolist() for s in ds.sequences] == [[0, 1], [1, 2, 0], [2, 1]]
    assert ds.item_text == ["LEGO, Toys > Blocks", "Toys > Blocks", "LEGO"]
    assert "on >= 2 items" in ds.text_source


def test_s3rec_without_datamap_has_no_text_and_says_why(tmp_path: Path) -> None:
    ds = load_dataset("s3rec:Toys_and_Games", make_s3rec(tmp_path, datamap=False))
    assert ds.item_text is None and "no datamap" in ds.text_source
    # counts that no renumbering explains: no text either
    write(
        tmp_path / "amazon-p5-datamaps" / "toys_and_games" / "datamaps.json",
        json.dumps({"id2attribute": {"4": "A"}, "attributeid2num": {"4": 7}}),
    )
    ds = load_dataset("s3rec:Toys_and_Games", tmp_path)
    assert ds.item_text is None and "no renumbering" in ds.text_source


def test_s3rec_name_errors(tmp_path: Path) -> None:
    make_s3rec(tmp_path)
    with pytest.raises(DataError, match=r"Sports\.txt: S3-Rec sequence file not found"):
        load_dataset("s3rec:Sports", tmp_path)
    for bad in ("s3rec:", "s3rec:../x", "s3rec:.hidden"):
        with pytest.raises(DataError, match="expected s3rec:NAME"):
            load_dataset(bad, tmp_path)
    with pytest.raises(DataError, match=r"s3rec:NAME"):
        load_dataset("toys", tmp_path)
