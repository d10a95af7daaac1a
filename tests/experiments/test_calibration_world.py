"""Calibrated worlds end to end on a tiny hand-written MovieLens-100K directory.

Loading (sizes, cleaned titles, genre topics, timestamps, release order), the fit
(determinism, resolved sizes, one-time consumption, appeal against popularity, sampled
users), the cache under the data directory, ``onefeed calibrate``, a calibrated run
with the policy warm-started on the real log, and the bundled calibrated scenarios.

The fit runs one temperature pilot and one appeal round here (``TEMPERATURES`` and
``ROUNDS`` patched for the whole module): what is checked does not depend on them.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.stats import spearmanr

import experiments.calibration.fit as fit_module
import experiments.calibration.prepare as prepare_module
from experiments.calibration.fit import ONE_TIME_PENALTY, fit_world
from experiments.calibration.loading import load_real_log
from experiments.calibration.prepare import CACHE_SUBDIR, cache_key, prepare_calibrated
from experiments.errors import DataError
from experiments.replay.data.movielens import ML100K_GENRES
from experiments.scenario import SCENARIOS_DIR, load_scenario
from sim.config import WorldConfig
from tests.experiments.cli_helpers import assert_one_line, invoke

N_USERS, N_ITEMS = 30, 40
GENRES = {"action": 1, "comedy": 5, "drama": 8}
WORDS = {
    "action": ("guns", "chase", "fury", "blast", "raid"),
    "comedy": ("funny", "laughs", "silly", "jokes", "prank"),
    "drama": ("tears", "heart", "sorrow", "memory", "letter"),
}
T0 = 880_000_000


def _title(i: int) -> str:
    if i == 0:
        return "Amélie's Guns: Part 0! (1980)"
    w = WORDS[list(GENRES)[i % 3]]
    return f"The {w[i % 5].title()} {w[(i // 3) % 5].title()}: Part {i}! ({1980 + i % 20})"


def make_ml100k(root: Path, seed: int = 0) -> Path:
    """``N_USERS`` users over ``N_ITEMS`` films of three genres, every film rated.

    Film ``i`` (MovieLens id ``i + 1``) is of genre ``i % 3`` (every 7th also of the
    next genre), released on 1 January ``1980 + i`` (film 5: no date). User ``u``
    rates films ``u`` and ``u + 30`` (so all are rated) and 2-7 more, drawn with a
    Zipf popularity boosted on their favourite genre ``u % 3``, never one twice; their
    ratings come in pairs a minute apart, pairs two hours apart.
    """
    rng = np.random.default_rng(seed)
    folder = root / "ml-100k"
    folder.mkdir(parents=True, exist_ok=True)
    names = list(GENRES)
    lines = []
    for i in range(N_ITEMS):
        flags = ["0"] * len(ML100K_GENRES)
        flags[GENRES[names[i % 3]]] = "1"
        if i % 7 == 0:
            flags[GENRES[names[(i + 1) % 3]]] = "1"
        date = "" if i == 5 else f"01-Jan-{1980 + i}"
        lines.append(f"{i + 1}|{_title(i)}|{date}||http://x|" + "|".join(flags))
    (folder / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    pop = 1.0 / np.arange(1, N_ITEMS + 1) ** 0.8
    rows = []
    for u in range(N_USERS):
        w = pop * np.where(np.arange(N_ITEMS) % 3 == u % 3, 4.0, 1.0)
        fixed = [u] + ([u + 30] if u + 30 < N_ITEMS else [])
        w[fixed] = 0.0
        extra = rng.choice(N_ITEMS, int(rng.integers(2, 8)), replace=False, p=w / w.sum())
        t = T0 + u * 1000
        for j, item in enumerate([*fixed, *extra.tolist()]):
            t += 60 if j % 2 else 7_200
            rows.append(f"{u + 1}\t{item + 1}\t{int(rng.integers(1, 6))}\t{t}")
    (folder / "u.data").write_text("\n".join(rows) + "\n", encoding="ascii")
    return root


SCENARIO_YAML = """\
# A tiny calibrated scenario for tests.
id: tiny-calibrated-v1
description: tiny calibrated scenario
seed: 1
episodes: 2
policy: popularity
world:
  episode_length_days: 1.0
  feed:
    slate_size: 5
  from_data:
    dataset: ml-100k
    users: real
    horizon_days: 2
    warm_start: {warm_start}
output:
  plots: false
"""


@pytest.fixture(scope="module", autouse=True)
def quick_fit():
    """One temperature pilot and one appeal round (the module doc)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fit_module, "TEMPERATURES", (1.0,))
        mp.setattr(fit_module, "ROUNDS", 1)
        yield


@pytest.fixture(autouse=True)
def restore_data_env(monkeypatch):
    """``onefeed calibrate --data-dir`` sets ``$ONEFEED_DATA``; undo it after each test."""
    monkeypatch.delenv("ONEFEED_DATA", raising=False)


@pytest.fixture(scope="module")
def ml_dir(tmp_path_factory) -> Path:
    """The tiny data directory shared by the module (its fit cache too)."""
    return make_ml100k(tmp_path_factory.mktemp("data"))


def world_config(**from_data: object) -> WorldConfig:
    spec = {"dataset": "ml-100k", "users": "real", "horizon_days": 2, **from_data}
    return WorldConfig.model_validate(
        {"episode_length_days": 1.0, "feed": {"slate_size": 5}, "from_data": spec}
    )


@pytest.fixture(scope="module")
def real(ml_dir):
    return load_real_log(world_config().from_data, ml_dir)


@pytest.fixture(scope="module")
def fitted(real):
    return fit_world(real, world_config())


def raw_ratings(root: Path) -> pd.DataFrame:
    return pd.read_csv(
        root / "ml-100k" / "u.data", sep="\t", names=["user", "item", "rating", "time"]
    )


# ------------------------------------------------------------------ loading
def test_load_real_log_sizes_titles_and_topics(real, ml_dir):
    raw = raw_ratings(ml_dir)
    assert (real.name, real.n_items, real.n_users) == ("ml-100k", N_ITEMS, N_USERS)
    assert real.n_interactions == len(raw)
    # genres are columns 0..8 (unknown..Drama, the highest flag used), one name each
    assert real.n_topics == 9
    assert real.topic_names == tuple(ML100K_GENRES[:9])
    assert real.titles[0] == "amélie s guns part 0 1980 action comedy"
    assert real.titles[1] == "the laughs funny part 1 1981 comedy"
    for title in real.titles:
        assert title == title.lower() and re.fullmatch(r"[^\W_]+( [^\W_]+)*", title), title
    np.testing.assert_allclose(real.item_topics.sum(axis=1), 1.0)
    assert (real.item_topics >= 0).all()
    np.testing.assert_allclose(real.item_topics[0, [1, 5]], [0.5, 0.5])  # Action, Comedy
    np.testing.assert_allclose(real.item_topics[2, 8], 1.0)  # Drama
    assert "genres" in real.source


def test_load_real_log_sequences_timestamps_and_release(real, ml_dir):
    raw = raw_ratings(ml_dir)
    first = raw[raw["user"] == 1].sort_values("time", kind="stable")
    assert real.sequences[0].tolist() == (first["item"] - 1).tolist()
    assert real.timestamps is not None and len(real.timestamps) == N_USERS
    for seq, times in zip(real.sequences, real.timestamps, strict=True):
        assert times.shape == seq.shape
        assert (np.diff(times) >= 0).all()
    assert real.timestamps[0].tolist() == first["time"].tolist()
    rank = real.release_rank
    assert rank is not None and rank.shape == (N_ITEMS,)
    assert rank.min() == 0.0 and rank.max() == 1.0
    assert rank[0] == 0.0 and rank[-1] == 1.0  # film 0 the oldest, film 39 the newest
    dated = np.delete(np.arange(N_ITEMS), 5)
    assert (np.diff(rank[dated]) > 0).all()
    assert 0.3 < rank[5] < 0.7  # unknown date: the median


def test_factorisation_topics(ml_dir):
    log = load_real_log(world_config(topics="factorisation", n_factors=3).from_data, ml_dir)
    assert log.item_topics.shape == (N_ITEMS, 3)
    assert log.topic_names == ("factor-0", "factor-1", "factor-2")
    np.testing.assert_allclose(log.item_topics.sum(axis=1), 1.0)
    assert (log.item_topics >= 0).all()
    assert "3 factors" in log.source


def test_missing_item_file_is_a_data_error_naming_it(tmp_path):
    make_ml100k(tmp_path)
    (tmp_path / "ml-100k" / "u.item").unlink()
    with pytest.raises(DataError, match=re.escape(str(tmp_path / "ml-100k" / "u.item"))):
        load_real_log(world_config().from_data, tmp_path)


# ------------------------------------------------------------------ fit
def test_fit_is_deterministic_for_a_seed(real, fitted):
    again = fit_world(real, world_config())
    for name in ("item_topics", "appeal", "created_s", "interests", "rate_per_day", "source_user"):
        np.testing.assert_array_equal(getattr(again.fitted, name), getattr(fitted.fitted, name))
    assert again.fitted.titles == fitted.fitted.titles
    assert again.config == fitted.config


def test_fit_resolves_sizes_and_one_time_consumption(real, fitted):
    cfg, world = fitted.config, fitted.fitted
    assert (cfg.catalog.n_items, cfg.catalog.n_topics, cfg.users.n_users) == (40, 9, 30)
    assert cfg.catalog.title_len_max == max(len(t.split()) for t in real.titles)
    assert (world.n_items, world.n_topics, world.n_users) == (40, 9, 30)
    assert world.titles == tuple(real.titles)
    np.testing.assert_array_equal(world.source_user, np.arange(N_USERS))
    np.testing.assert_allclose(world.interests.sum(axis=1), 1.0)
    # nobody rates a film twice: consumption is one-time
    assert fitted.report["real_repeat_rate"] == 0.0
    assert WorldConfig().choice.repeat_penalty < ONE_TIME_PENALTY
    assert cfg.choice.repeat_penalty == ONE_TIME_PENALTY
    # creation times follow the release order, all before the run
    assert (world.created_s < 0).all()
    assert np.argmin(world.created_s) == 0 and np.argmax(world.created_s) == N_ITEMS - 1
    # a more active real user gets a higher session rate
    n_u = np.array([len(s) for s in real.sequences])
    np.testing.assert_allclose(world.rate_per_day / n_u, world.rate_per_day[0] / n_u[0])


def test_fitted_appeal_follows_real_popularity(real, fitted):
    counts = np.bincount(np.concatenate(real.sequences), minlength=real.n_items)
    rho = spearmanr(fitted.fitted.appeal, counts).statistic
    assert rho > 0.3, rho


def test_sampled_users_and_a_log_with_repeats(real):
    # one real user consumes a film twice: the log repeats, the penalty stays the default
    seqs = [s.copy() for s in real.sequences]
    seqs[0] = np.append(seqs[0], seqs[0][0])
    times = list(real.timestamps)
    times[0] = np.append(times[0], times[0][-1] + 60)
    repeated = dataclasses.replace(real, sequences=seqs, timestamps=times)
    result = fit_world(repeated, world_config(users="sampled").model_copy(
        update={"users": WorldConfig().users.model_copy(update={"n_users": 50})}
    ))  # fmt: skip
    assert result.report["real_repeat_rate"] > 0
    assert result.config.choice.repeat_penalty == WorldConfig().choice.repeat_penalty
    world = result.fitted
    assert world.n_users == 50 and result.config.users.n_users == 50
    assert world.interests.shape == (50, real.n_topics) and world.rate_per_day.shape == (50,)
    src = world.source_user
    assert src.dtype == np.int64 and src.min() >= 0 and src.max() < N_USERS
    assert np.unique(src).size > 1
    np.testing.assert_allclose(world.interests.sum(axis=1), 1.0)
    assert result.config.catalog.n_items == N_ITEMS


# ------------------------------------------------------------------ cache
def test_cache_is_written_read_and_refitted_when_corrupt(tmp_path, monkeypatch, fitted):
    make_ml100k(tmp_path)
    calls = []

    def fake_fit(real, config, progress=None):
        calls.append(config)
        if len(calls) == 2 and not corrupt:
            raise AssertionError("fitted again although the cache holds the fit")
        return fitted

    corrupt = False
    monkeypatch.setattr(prepare_module, "fit_world", fake_fit)
    config = world_config()
    first = prepare_calibrated(config, tmp_path)
    assert not first.from_cache and len(calls) == 1
    entry = first.cache_path
    assert entry is not None and entry.parent == tmp_path / CACHE_SUBDIR
    assert entry.name.startswith("ml-100k-")
    npz, meta = (entry.with_name(entry.name + s) for s in (".npz", ".json"))
    assert npz.is_file() and meta.is_file()

    second = prepare_calibrated(config, tmp_path)
    assert second.from_cache and second.cache_path == entry and len(calls) == 1
    for name in ("item_topics", "appeal", "created_s", "interests", "rate_per_day", "source_user"):
        np.testing.assert_array_equal(
            getattr(second.fit.fitted, name), getattr(fitted.fitted, name)
        )
    assert second.fit.fitted.titles == fitted.fitted.titles
    assert second.fit.config == fitted.config
    assert second.fit.report == json.loads(json.dumps(fitted.report))

    # a scenario differing in tolerances or warm_start shares the fit, but gets its own
    changed = world_config(warm_start=True, tolerances={"user_activity": 0.9})
    shared = prepare_calibrated(changed, tmp_path)
    assert shared.from_cache and shared.cache_path == entry and len(calls) == 1
    assert shared.fit.config.from_data == changed.from_data
    assert shared.fit.config.model_dump(exclude={"from_data"}) == fitted.config.model_dump(
        exclude={"from_data"}
    )

    corrupt = True
    npz.write_bytes(b"not an npz")
    third = prepare_calibrated(config, tmp_path)
    assert not third.from_cache and len(calls) == 2
    assert prepare_calibrated(config, tmp_path).from_cache  # rewritten
    meta.write_text("{", encoding="utf-8")
    assert not prepare_calibrated(config, tmp_path).from_cache and len(calls) == 3


def test_cache_entries_of_a_dotted_dataset_name_do_not_collide(tmp_path, monkeypatch, real, fitted):
    # `s3rec:NAME` may hold a dot: the entry's files must keep the whole key in their name
    dotted = dataclasses.replace(real, name="s3rec:my.data")
    monkeypatch.setattr(prepare_module, "load_real_log", lambda spec, root: dotted)
    monkeypatch.setattr(prepare_module, "fit_world", lambda real, config, progress=None: fitted)
    one, two = world_config(), world_config(fit_seed=1)
    first, second = prepare_calibrated(one, tmp_path), prepare_calibrated(two, tmp_path)
    assert first.cache_path != second.cache_path
    assert prepare_calibrated(one, tmp_path).from_cache
    assert prepare_calibrated(two, tmp_path).from_cache
    files = sorted(p.name for p in (tmp_path / CACHE_SUBDIR).iterdir())
    assert len(files) == 4 and all(f.startswith("s3rec-my.data-") for f in files), files


def test_cache_key_follows_what_the_fit_depends_on(real):
    base = cache_key(real, world_config())
    assert cache_key(real, world_config()) == base
    assert cache_key(real, world_config(horizon_days=3)) != base
    assert cache_key(real, world_config(fit_seed=1)) != base
    tol = {"tolerances": {"item_popularity_gini": 0.5}}
    assert cache_key(real, world_config(**tol)) == base
    assert cache_key(real, world_config(warm_start=True)) == base
    other = dataclasses.replace(real, titles=["x " + t for t in real.titles])
    assert cache_key(other, world_config()) != base


# ------------------------------------------------------------------ onefeed calibrate
@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def write_yaml(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_calibrate_writes_the_report(runner, tmp_path, ml_dir):
    path = write_yaml(tmp_path, SCENARIO_YAML.format(warm_start="false"))
    out = tmp_path / "report"
    result = invoke(runner, "calibrate", path, "--out", out, "--data-dir", ml_dir)
    records = json.loads((out / "calibration.json").read_text(encoding="utf-8"))
    assert isinstance(records, list) and len(records) == 6
    for r in records:
        assert {"statistic", "distance", "tolerance", "within", "synthetic_distance"} <= set(r)
        assert r["within"] == (r["distance"] <= r["tolerance"])
    all_within = all(r["within"] for r in records)
    assert result.exit_code == (0 if all_within else 1), (result.output, result.exception)
    assert ("outside their tolerance" in result.stderr) == (not all_within)
    assert "tiny-calibrated-v1: 30 real users, 40 items, 9 topics" in result.stdout
    assert f"report: {out}" in result.stdout
    meta = json.loads((out / "calibration.meta.json").read_text(encoding="utf-8"))
    assert meta["dataset"] == "ml-100k" and meta["fit"]["n_items"] == N_ITEMS
    figures = sorted(p.name for p in (out / "calibration").glob("*.png"))
    assert {"item_popularity_lorenz.png", "topic_shares.png"} <= set(figures)
    # the fit and the report are cached under the data directory: a second call reuses them
    again = invoke(runner, "calibrate", path, "--out", tmp_path / "again", "--data-dir", ml_dir)
    assert again.exit_code == result.exit_code
    assert "fit cache" in again.stdout
    assert json.loads((tmp_path / "again" / "calibration.json").read_text()) == records
    # tolerances do not touch the fit (cached), only the verdict: all within, exit 0
    loose = "\n".join(f"      {r['statistic']}: 1.0" for r in records)
    text = SCENARIO_YAML.format(warm_start="false").replace(
        "    horizon_days: 2", f"    horizon_days: 2\n    tolerances:\n{loose}"
    )
    lenient = invoke(
        runner, "calibrate", write_yaml(tmp_path, text, "loose.yaml"), "--out",
        tmp_path / "loose", "--data-dir", ml_dir,
    )  # fmt: skip
    assert lenient.exit_code == 0, (lenient.output, lenient.exception)
    assert "fit cache" in lenient.stdout and "OUTSIDE" not in lenient.stdout
    loose_records = json.loads((tmp_path / "loose" / "calibration.json").read_text())
    assert all(r["within"] and r["tolerance"] == 1.0 for r in loose_records)
    assert [r["distance"] for r in loose_records] == [r["distance"] for r in records]


def test_calibrate_missing_data(runner, tmp_path):
    path = write_yaml(tmp_path, SCENARIO_YAML.format(warm_start="false"))
    nowhere = tmp_path / "nowhere"
    line = assert_one_line(invoke(runner, "calibrate", path, "--data-dir", nowhere), str(nowhere))
    assert "data directory not found" in line
    data = make_ml100k(tmp_path / "data")
    (data / "ml-100k" / "u.data").unlink()
    line = assert_one_line(
        invoke(runner, "calibrate", path, "--data-dir", data), str(data / "ml-100k" / "u.data")
    )
    assert "not found" in line
    assert not (tmp_path / "runs").exists()


def test_calibrate_needs_a_calibrated_scenario(runner, tmp_path, tiny_yaml):
    path = write_yaml(tmp_path, tiny_yaml)
    line = assert_one_line(invoke(runner, "calibrate", path), "world.from_data: not set")
    assert str(path) in line


def test_unknown_from_data_key(runner, tmp_path):
    text = SCENARIO_YAML.format(warm_start="false").replace(
        "    horizon_days: 2", "    horizon_days: 2\n    horizon: 3"
    )
    path = write_yaml(tmp_path, text)
    for command in ("calibrate", "check"):
        line = assert_one_line(
            invoke(runner, command, path), "world.from_data.horizon: unknown key"
        )
        assert line.startswith(f"{path}:15: ")


# ------------------------------------------------------------------ a calibrated run
def test_calibrated_run_warm_started_on_the_real_log(runner, tmp_path, ml_dir, real, monkeypatch):
    from experiments.metrics import compute_metrics
    from experiments.metrics.tracker import iter_episode_contexts
    from experiments.reporting.report import inspect_directory, write_report

    monkeypatch.setenv("ONEFEED_DATA", str(ml_dir))
    path = write_yaml(tmp_path, SCENARIO_YAML.format(warm_start="true"))
    out = tmp_path / "run"
    result = invoke(runner, "run", path, "--out", out)
    assert result.exit_code == 0, (result.output, result.exception)
    records = json.loads((out / "calibration.json").read_text(encoding="utf-8"))
    assert len(records) == 6
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "complete"
    world = manifest["calibration"]["world"]
    assert world["catalog"]["n_items"] == N_ITEMS and world["catalog"]["n_topics"] == 9
    assert world["users"]["n_users"] == N_USERS
    assert world["from_data"]["dataset"] == "ml-100k"
    assert manifest["calibration"]["fit"]["n_real_users"] == N_USERS
    assert "warm_start_real_log_s" in manifest["timings_s"]
    events = pd.read_parquet(out / "events.parquet")
    assert len(events) > 0
    items = events["item_id"].to_numpy()
    assert items.max() < N_ITEMS
    assert events["user_id"].max() < N_USERS
    # `popularity` learnt the real training log before episode 0: the head of its
    # ranking (position 0 of a session's first page) is the most consumed training film
    train = np.bincount(np.concatenate([s[:-2] for s in real.sequences]), minlength=N_ITEMS)
    top = int(np.argmax(train))
    assert (train == train[top]).sum() == 1
    first = events[(events["episode"] == 0) & (events["position"] == 0)]
    first = first[first["event"].astype(str) == "impression"]
    assert first["item_id"].mode().tolist() == [top]
    # metrics recomputed from the files (with the world resolved for the data, 30 users
    # and the fitted choice keys, not the scenario's defaults) are those of the run
    metrics = pd.read_parquet(out / "metrics.parquet")
    for episode, episode_events, context in iter_episode_contexts(out):
        assert context.n_users == N_USERS
        stored = metrics[metrics["episode"] == episode].set_index("metric")["value"]
        for name, value in compute_metrics(episode_events, context).items():
            np.testing.assert_allclose(stored[name], value, equal_nan=True, err_msg=name)
    md, _html = write_report(inspect_directory(out), [])
    text = md.read_text(encoding="utf-8")
    assert "## Calibration against the real log" in text
    assert "item_popularity_gini" in text


def test_calibrated_run_without_data_is_one_line(runner, tmp_path, monkeypatch):
    nowhere = tmp_path / "nowhere"
    monkeypatch.setenv("ONEFEED_DATA", str(nowhere))
    path = write_yaml(tmp_path, SCENARIO_YAML.format(warm_start="true"))
    line = assert_one_line(invoke(runner, "run", path, "--out", tmp_path / "run"), str(nowhere))
    assert "data directory not found (from $ONEFEED_DATA)" in line


def test_warm_start_and_warmup_episodes_are_rejected(runner, tmp_path):
    text = SCENARIO_YAML.format(warm_start="true") + "warmup:\n  episodes: 1\n"
    path = write_yaml(tmp_path, text)
    line = assert_one_line(invoke(runner, "check", path), "cannot be combined")
    assert "world.from_data.warm_start and warmup.episodes" in line


def test_warm_start_frame_of_a_calibrated_world(real, fitted):
    from experiments.calibration.prepare import Calibrated
    from experiments.runner.run import real_warm_start_frame

    frame = real_warm_start_frame(Calibrated(real, fitted, None, False))
    clicks = frame[frame["event"].astype(str) == "click"]
    expected = sum(max(len(s) - 2, 0) for s in real.sequences)
    assert len(clicks) == expected
    user0 = clicks[clicks["user_id"] == 0]["item_id"].tolist()
    assert user0 == real.sequences[0][:-2].tolist()


# ------------------------------------------------------------------ bundled scenarios
@pytest.mark.parametrize(
    ("name", "dataset"), [("calibrated-ml100k-v1", "ml-100k"), ("calibrated-beauty-v1", "beauty")]
)
def test_bundled_calibrated_scenarios(name, dataset):
    scenario = load_scenario(name)
    spec = scenario.world.from_data
    assert spec is not None and spec.dataset == dataset
    assert spec.warm_start and scenario.warmup.episodes == 0
    lines = (SCENARIOS_DIR / f"{name}.yaml").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith(f"# {name}: ")
    assert lines[1] == "#" and lines[2].startswith("# What it is for: ")
