import contextlib
import io
import json
import os
import stat

import pytest

from experiments.atomic import (
    atomic_path,
    atomic_write_json,
    atomic_write_text,
    current_umask,
    new_file_mode,
)
from experiments.errors import UserError
from experiments.runner.progress import EpisodeProgress
from experiments.runner.run_dir import RunDir, default_run_dir, environment_info


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "a.json"
    atomic_write_json(target, {"x": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half written")
        raise RuntimeError("crash mid-write")
    assert json.loads(target.read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_temp_file_is_hidden_and_keeps_suffix(tmp_path):
    with atomic_path(tmp_path / "episode-0000.parquet") as tmp:
        assert tmp.name.startswith(".") and tmp.suffix == ".parquet"
        tmp.write_bytes(b"x")
    assert (tmp_path / "episode-0000.parquet").read_bytes() == b"x"


def test_run_dir_refuses_non_empty(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserError, match="exists and is not empty"):
        RunDir(tmp_path).create()
    RunDir(tmp_path / "new").create()
    assert (tmp_path / "new" / "events.parquet").is_dir()


def test_default_run_dir_is_unique(tmp_path):
    first = default_run_dir("a-v1", "random", 3, tmp_path)
    assert first.name.startswith("a-v1-random-seed3-")
    first.mkdir()
    second = default_run_dir("a-v1", "random", 3, tmp_path)
    assert second != first and not second.exists()


def test_environment_info():
    info = environment_info()
    assert info["python"].count(".") == 2
    assert info["packages"]["numpy"] and info["packages"]["pydantic"]


def test_progress_bar_shows_sessions():
    stream = io.StringIO()
    with EpisodeProgress(2, "tiny-v1", enabled=True, file=stream, min_interval_s=0.0) as bar:
        bar.start_episode(0)
        bar.sessions(3)
        bar.sessions(4)
        bar.end_episode()
    text = stream.getvalue()
    assert "tiny-v1" in text and "sessions=7" in text and "1/2" in text


def test_progress_disabled_writes_nothing():
    stream = io.StringIO()
    with EpisodeProgress(2, enabled=False, file=stream) as bar:
        bar.start_episode(0)
        bar.sessions(5)
        bar.end_episode()
    assert stream.getvalue() == ""


@contextlib.contextmanager
def umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_atomic_files_honour_the_umask(tmp_path, mask, mode):
    # mkstemp creates 0o600 whatever the umask; results must be readable by colleagues
    # exactly when a plain open() would make them so.
    with umask(mask):
        assert current_umask() == mask
        assert new_file_mode() == mode
        atomic_write_text(tmp_path / "a.md", "x")
        with atomic_path(tmp_path / "b.parquet") as tmp:
            tmp.write_bytes(b"x")
    for name in ("a.md", "b.parquet"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode
