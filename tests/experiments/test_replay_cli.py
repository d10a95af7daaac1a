"""The ``replay`` command: bad inputs exit 2 with one line; a synthetic end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from experiments.cli import main
from tests.experiments.test_data_loaders import write

CLASSICAL = "popularity,popularity-all,transition,cooc-knn,ease,slist,blend"


def synthetic_ml100k(root: Path, n_users: int = 30, n_items: int = 12) -> Path:
    """MovieLens-100K-format files: users walk through items in a noisy cycle."""
    rng = np.random.default_rng(3)
    rows = []
    for u in range(1, n_users + 1):
        start = int(rng.integers(n_items))
        length = int(rng.integers(4, 8))
        items = [(start + k) % n_items + 1 for k in range(length)]
        rows += [
            f"{u}\t{i}\t{int(rng.integers(1, 6))}\t{1000 + 10 * k}" for k, i in enumerate(items)
        ]
    write(root / "ml-100k" / "u.data", "\n".join(rows) + "\n")
    flags = "|".join(["0"] * 19)
    items_txt = "".join(
        f"{i}|Movie {i} (1995)|01-Jan-1995||url|{flags}\n" for i in range(1, n_items + 1)
    )
    write(root / "ml-100k" / "u.item", items_txt.encode("latin-1"))
    return root


def run(args: list[str]):
    return CliRunner().invoke(main, ["replay", *args])


def assert_one_line_error(result, *fragments: str) -> None:
    # The same one-line style as every other command: no "error:" prefix, no traceback.
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert not lines[0].startswith("error")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_unknown_dataset(tmp_path: Path) -> None:
    result = run(["--dataset", "netflix", "--data-dir", str(tmp_path)])
    assert_one_line_error(result, "unknown dataset 'netflix'", "beauty", "s3rec:NAME")


def test_missing_data_dir(tmp_path: Path) -> None:
    result = run(["--dataset", "beauty", "--data-dir", str(tmp_path / "nowhere")])
    assert_one_line_error(result, "nowhere", "data directory not found")


def test_missing_file(tmp_path: Path) -> None:
    result = run(["--dataset", "ml-1m", "--data-dir", str(tmp_path)])
    assert_one_line_error(result, "ratings.dat", "not found")


def test_malformed_file(tmp_path: Path) -> None:
    synthetic_ml100k(tmp_path)
    path = tmp_path / "ml-100k" / "u.data"
    path.write_text(path.read_text() + "7\t3\tfive\n")
    lines = len(path.read_text().splitlines())
    result = run(["--dataset", "ml-100k", "--data-dir", str(tmp_path)])
    assert_one_line_error(result, f"u.data:{lines}:", "expected 4 fields")


def test_bad_seeds_and_models(tmp_path: Path) -> None:
    synthetic_ml100k(tmp_path)
    base = ["--dataset", "ml-100k", "--data-dir", str(tmp_path)]
    assert_one_line_error(run([*base, "--seeds", "0,x"]), "--seeds")
    assert_one_line_error(run([*base, "--models", "sasrec"]), "unknown model 'sasrec'")


def test_end_to_end_writes_replay_json(tmp_path: Path) -> None:
    data = synthetic_ml100k(tmp_path / "data")
    out = tmp_path / "out"
    result = run(
        [
            "--dataset",
            "ml-100k",
            "--data-dir",
            str(data),
            "--seeds",
            "0,1",
            "--models",
            CLASSICAL,
            "--out",
            str(out),
            "--no-progress",
            "--chunk-size",
            "7",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "popularity-all" in result.output and "peak RSS" in result.output
    assert "CPU (s)" in result.output and "item text: movie titles" in result.output
    records = json.loads((out / "replay.json").read_text())
    assert [r["model"] for r in records] == CLASSICAL.split(",")
    for rec in records:
        assert rec["dataset"] == "ml-100k" and rec["seeds"] == [0, 1]
        for metric in ("recall@5", "ndcg@5", "recall@10", "ndcg@10"):
            assert 0.0 <= rec[metric] <= 1.0
            assert [s[metric] for s in rec["per_seed"]] == [rec[metric]] * 2  # deterministic
            assert rec["std"][metric] == 0.0
        assert rec["ndcg@5"] <= rec["ndcg@10"] and rec["recall@5"] <= rec["recall@10"]
        assert rec["time_s"] >= 0 and rec["peak_rss_mb"] > 0 and rec["cpu_s"] >= 0
    by_name = {r["model"]: r for r in records}
    # the users walk a cycle, so the transition model finds the next item almost always
    assert by_name["transition"]["recall@5"] > by_name["popularity"]["recall@5"]
    assert by_name["transition"]["recall@5"] > 0.9
    # every setting tried on validation is recorded with its value
    tried = by_name["cooc-knn"]["tuning"][0]
    assert len(tried) == 12 * 12 and {"fit", "score", "valid_ndcg@10"} <= set(tried[0])
    best = max(t["valid_ndcg@10"] for t in tried)
    assert by_name["cooc-knn"]["valid_ndcg@10"][0] == best
    # the blend is built from the other rows' chosen settings
    assert by_name["blend"]["tuning"][0][0]["score"]["weights"]["transition"] == 1.0
    md = (out / "replay.md").read_text()
    assert "| transition | this bench |" in md
    assert not list(out.glob("*.tmp"))  # atomic writes leave no temporary files


def test_bad_self_enhance_seeds(tmp_path: Path) -> None:
    data = synthetic_ml100k(tmp_path / "data")
    common = ["--dataset", "ml-100k", "--data-dir", str(data), "--models", "popularity"]
    result = run([*common, "--seeds", "0,1", "--self-enhance-seeds", "2"])
    assert_one_line_error(result, "--self-enhance-seeds", "not among")
    result = run([*common, "--self-enhance-seeds", "x"])
    assert_one_line_error(result, "--self-enhance-seeds")
    assert run([*common, "--self-enhance-seeds", "none", "--no-progress"]).exit_code == 0


def test_s3rec_dataset_by_name_end_to_end(tmp_path: Path) -> None:
    from tests.experiments.test_data_loaders import make_s3rec

    data = make_s3rec(tmp_path / "data")
    out = tmp_path / "out"
    args = ["--dataset", "s3rec:Toys_and_Games", "--data-dir", str(data), "--seeds", "0"]
    result = run([*args, "--models", "popularity,transition", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "s3rec:Toys_and_Games: 3 users, 3 items" in result.output
    assert "item text: attribute names" in result.output
    records = json.loads((out / "replay.json").read_text())
    assert [r["dataset"] for r in records] == ["s3rec:Toys_and_Games"] * 2
    result = run(["--dataset", "s3rec:Nope", "--data-dir", str(data)])
    assert_one_line_error(result, "Nope.txt", "not found")


def test_a_failing_model_exits_non_zero_and_keeps_finished_rows(tmp_path: Path, monkeypatch):
    from experiments.replay import models

    data = synthetic_ml100k(tmp_path / "data")
    real = models.get_model_spec

    class Failing:
        name = "transition"
        deterministic = True

        def fit(self, data, seed):
            raise FloatingPointError("diverged")

        def score(self, histories):
            raise AssertionError("unreachable")

    def spec(name):
        if name == "transition":
            return models.ModelSpec(name, lambda p: Failing(), [{}], True)
        return real(name)

    monkeypatch.setattr(models, "get_model_spec", spec)
    monkeypatch.setattr("experiments.replay.bench.get_model_spec", spec)
    out = tmp_path / "out"
    result = run(
        [
            *("--dataset", "ml-100k", "--data-dir", str(data), "--seeds", "0"),
            *("--models", "popularity,transition", "--out", str(out), "--no-progress"),
        ]
    )
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last == "model 'transition' failed on seed 0: FloatingPointError: diverged"
    assert "Traceback" in result.output  # a model failure is a bug: its traceback is shown
    assert [r["model"] for r in json.loads((out / "replay.json").read_text())] == ["popularity"]


def test_mf_and_random_rows_by_name(tmp_path: Path) -> None:
    data = synthetic_ml100k(tmp_path / "data")
    out = tmp_path / "out"
    args = ["--dataset", "ml-100k", "--data-dir", str(data), "--seeds", "0,1", "--no-progress"]
    result = run([*args, "--models", "random,mf", "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = {r["model"]: r for r in json.loads((out / "replay.json").read_text())}
    assert list(records) == ["random", "mf"]
    assert len(records["mf"]["tuning"][0]) == 9  # the validation grid, every value kept
    assert records["random"]["tuning"] == [[], []]
