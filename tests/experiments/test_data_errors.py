"""Every data problem is one DataError naming the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.errors import DataError
from experiments.replay.data import load_beauty, load_ml1m, load_ml100k, load_s3rec
from tests.experiments.test_data_loaders import make_beauty, write

FLAGS = "|".join(["0"] * 19)


def ml100k(root: Path, data: str, item: bytes | None = None) -> Path:
    write(root / "ml-100k" / "u.data", data)
    write(root / "ml-100k" / "u.item", item or f"1|A (1995)|||url|{FLAGS}\n".encode("latin-1"))
    return root


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"Beauty\.txt: S3-Rec sequence file not found"):
        load_s3rec(tmp_path, "Beauty")
    with pytest.raises(DataError, match=r"ml-1m/ratings\.dat: ratings file .* not found"):
        load_ml1m(tmp_path)


def test_wrong_field_count_reports_line(tmp_path: Path) -> None:
    ml100k(tmp_path, "1\t1\t5\t100\n1\t1\t5\n")
    with pytest.raises(DataError, match=r"u\.data:2: expected 4 fields separated by '\\t', got 3"):
        load_ml100k(tmp_path)


def test_non_integer_id_reports_line(tmp_path: Path) -> None:
    ml100k(tmp_path, "1\t1\t5\t100\n\n1\tx1\t5\t101\n")
    with pytest.raises(DataError, match=r"u\.data:3: item id is not an integer: 'x1'"):
        load_ml100k(tmp_path)


def test_unknown_movie_reports_ratings_line(tmp_path: Path) -> None:
    ml100k(tmp_path, "1\t1\t5\t100\n1\t2\t5\t101\n")
    with pytest.raises(DataError, match=r"u\.data:2: item id 2 is not in .*u\.item"):
        load_ml100k(tmp_path)


def test_u_item_wrong_field_count(tmp_path: Path) -> None:
    ml100k(tmp_path, "1\t1\t5\t100\n", b"1|A (1995)|||url|0|1\n")
    with pytest.raises(DataError, match=r"u\.item:1: expected 24 fields"):
        load_ml100k(tmp_path)


def test_utf8_decode_failure_reports_line(tmp_path: Path) -> None:
    make_beauty(tmp_path)
    path = tmp_path / "amazon-beauty-recbole" / "Amazon_Beauty.item"
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"Beauty", b"Beaut\xe9", 1)  # latin-1 byte in a UTF-8 file
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(DataError, match=r"Amazon_Beauty\.item:3: not valid utf-8"):
        load_beauty(tmp_path)


def test_non_ascii_sequence_file_reports_line(tmp_path: Path) -> None:
    write(tmp_path / "Beauty.txt", b"1 1 2\n2 3 \xc3\xa9\n")
    with pytest.raises(DataError, match=r"Beauty\.txt:2: not valid ascii"):
        load_s3rec(tmp_path, "Beauty")


def test_malformed_sequence_rows(tmp_path: Path) -> None:
    write(tmp_path / "Beauty.txt", "1 1 2\n2\n")
    with pytest.raises(DataError, match=r"Beauty\.txt:2: expected 'user_id item_1"):
        load_s3rec(tmp_path, "Beauty")
    write(tmp_path / "Beauty.txt", "1 1 2\n1 3 4\n")
    with pytest.raises(DataError, match=r"Beauty\.txt:2: user id 1 repeated"):
        load_s3rec(tmp_path, "Beauty")


def test_beauty_item_file_wrong_field_count(tmp_path: Path) -> None:
    make_beauty(tmp_path)
    path = tmp_path / "amazon-beauty-recbole" / "Amazon_Beauty.item"
    path.write_text(path.read_text(encoding="utf-8") + "A5\tonly two\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"Amazon_Beauty\.item:7: expected 7 TAB-separated"):
        load_beauty(tmp_path)


def test_bad_json_reports_line(tmp_path: Path) -> None:
    make_beauty(tmp_path)
    write(tmp_path / "amazon-p5-datamaps" / "beauty" / "datamaps.json", '{\n"id2item": {,}\n}')
    with pytest.raises(DataError, match=r"datamaps\.json:2: invalid JSON"):
        load_beauty(tmp_path)


def test_ml1m_malformed_movie_row(tmp_path: Path) -> None:
    write(tmp_path / "ml-1m" / "ratings.dat", "1::1::5::9\n")
    write(tmp_path / "ml-1m" / "movies.dat", b"1::Toy Story (1995)::Comedy\n2::Broken\n")
    with pytest.raises(DataError, match=r"movies\.dat:2: expected 3 fields separated by '::'"):
        load_ml1m(tmp_path)
