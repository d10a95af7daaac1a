import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner

import experiments.cli.commands as cli
from experiments.cli.commands import add_lazy_command, main
from tests.experiments.conftest import HAS_REAL_WORLD
from tests.experiments.fake_world import FakeWorld

BAD_INPUTS = {
    "syntax": (
        "episodes: 3",
        "episodes: [3",
        ":6:7: YAML syntax error: expected ',' or ']', but got ':'",
    ),
    "unknown key": (
        "    n_users: 12",
        "    n_user: 12",
        ":12: world.users.n_user: unknown key (did you mean 'n_users'?)",
    ),
    "wrong type": (
        "n_items: 40",
        "n_items: many",
        ":9: world.catalog.n_items: must be an integer (got 'many')",
    ),
    "out of range": ("seed: 3", "seed: -3", ":4: seed: must be ≥ 0 (got -3)"),
    "unknown policy": (
        "policy: popularity",
        "policy: no-such-policy",
        ":6: policy: unknown policy 'no-such-policy'; known policies: ",
    ),
}


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def invoke(runner, *args):
    return runner.invoke(main, [str(a) for a in args])


def assert_user_error(result, expected_fragment):
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # no traceback, a clean exit
    assert "Traceback" not in result.output
    assert expected_fragment in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
@pytest.mark.parametrize("command", ["run", "check"])
def test_bad_scenarios_exit_2_with_message_and_write_nothing(
    runner, write_scenario, tiny_yaml, fake_world, tmp_path, case, command
):
    old, new, fragment = BAD_INPUTS[case]
    path = write_scenario(tiny_yaml.replace(old, new))
    result = invoke(runner, command, path)
    assert_user_error(result, fragment)
    first_line = result.stderr.splitlines()[0]
    assert first_line.startswith(f"{path}:")
    assert not (tmp_path / "runs").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.yaml"]


def test_exact_message_out_of_range(runner, write_scenario, tiny_yaml, fake_world):
    path = write_scenario(tiny_yaml.replace("seed: 3", "seed: -3"))
    result = invoke(runner, "run", path)
    assert result.stderr == f"{path}:4: seed: must be ≥ 0 (got -3)\n"


def test_missing_file(runner, fake_world, tmp_path):
    result = invoke(runner, "run", tmp_path / "nope.yaml")
    assert_user_error(result, f"{tmp_path / 'nope.yaml'}: scenario file not found")
    assert not (tmp_path / "runs").exists()


def test_unknown_policy_override(runner, write_scenario, tiny_yaml, fake_world, tmp_path):
    result = invoke(runner, "run", write_scenario(tiny_yaml), "--policy", "no-such-policy")
    assert_user_error(result, "--policy: unknown policy 'no-such-policy'; known policies: ")
    assert not (tmp_path / "runs").exists()


def test_out_dir_not_empty(runner, write_scenario, tiny_yaml, fake_world, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    result = invoke(runner, "run", write_scenario(tiny_yaml), "--out", tmp_path / "taken")
    assert_user_error(result, "output directory exists and is not empty")


def test_run_writes_complete_run_directory(runner, write_scenario, tiny_yaml, fake_world, tmp_path):
    text = tiny_yaml.replace("plots: false", "plots: true")
    result = invoke(runner, "run", write_scenario(text), "--seed", 5)
    assert result.exit_code == 0, result.output
    [run_dir] = list((tmp_path / "runs").iterdir())
    assert run_dir.name.startswith("tiny-v1-popularity-seed5-")
    assert f"run complete: {Path('runs') / run_dir.name}" in result.stdout
    # the summary: labelled columns, metrics by family, then where the files are
    lines = result.stdout.splitlines()
    header = lines[1]
    assert header.split() == ["metric", "mean", "(ep", "0-2)", "last", "(ep", "2)", "unit"]
    table = lines[2 : lines.index("")]
    assert [line for line in table if not line.startswith("  ")] == [
        "Engagement",
        "Search",
        "Feedback loop",
        "Credit: candidate sources",
    ]  # a popularity run reports no model health
    gini = next(line for line in table if "impression_gini_cumulative" in line).split()
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    values = metrics[metrics["metric"] == "impression_gini_cumulative"]["value"]
    assert float(gini[1]) == pytest.approx(values.mean(), rel=1e-3)
    assert float(gini[2]) == pytest.approx(values.iloc[-1], rel=1e-3)
    assert gini[3] == "[0," and gini[4] == "1]"
    value_ends = {
        tuple(m.end() for m in re.finditer(r"\S+", line))[1:3]
        for line in table
        if line.startswith("  ")
    }
    assert len(value_ends) == 1, "metric values are not aligned in their columns"
    run_path = Path("runs") / run_dir.name
    for text in (f"report:        {run_path / 'report.md'}", str(run_path / "report.html")):
        assert text in result.stdout
    assert f"plots:         {run_path / 'plots'}/ (" in result.stdout
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["reason"] is None
    assert manifest["episodes_finished"] == manifest["episodes_planned"] == 3
    assert manifest["seed"] == 5 and manifest["scenario"]["seed"] == 5
    assert manifest["policy"] == {"name": "popularity", "params": {}}
    assert manifest["scenario"]["world"]["users"]["n_users"] == 12
    assert manifest["environment"]["packages"]["numpy"]
    assert manifest["environment"]["python"]
    assert "total_s" in manifest["timings_s"]
    assert [e["episode"] for e in manifest["episodes"]] == [0, 1, 2]
    events = pd.read_parquet(run_dir / "events.parquet")
    assert sorted(events["episode"].unique()) == [0, 1, 2]
    assert sorted(p.name for p in (run_dir / "events.parquet").iterdir()) == [
        "episode-0000.parquet",
        "episode-0001.parquet",
        "episode-0002.parquet",
    ]
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    assert list(metrics.columns) == ["policy", "seed", "episode", "metric", "value"]
    assert sorted(metrics["episode"].unique()) == [0, 1, 2]
    assert {"ctr", "interest_drift", "catalog_coverage"} <= set(metrics["metric"])
    truth = sorted(p.name for p in (run_dir / "truth").iterdir())
    assert truth == ["episode-0000.npz", "episode-0001.npz", "episode-0002.npz", "initial.npz"]
    plots = sorted(p.name for p in (run_dir / "plots").iterdir())
    assert "ctr.png" in plots and all(p.endswith(".png") for p in plots)
    assert not [p for p in run_dir.rglob("*") if p.name.startswith(".")]  # no temp files


def events_of(run_dir: Path) -> pd.DataFrame:
    frame = pd.read_parquet(run_dir / "events.parquet")
    return frame.astype({"event": str, "origin": str}).reset_index(drop=True)


def test_run_is_deterministic_per_seed(runner, write_scenario, tiny_yaml, fake_world, tmp_path):
    path = write_scenario(tiny_yaml)
    for name, seed in [("a", 1), ("b", 1), ("c", 2)]:
        assert invoke(runner, "run", path, "--seed", seed, "--out", tmp_path / name).exit_code == 0
    a, b, c = (events_of(tmp_path / n) for n in "abc")
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    for ep in range(3):
        name = f"events.parquet/episode-{ep:04d}.parquet"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def interrupt_in_episode(monkeypatch, episode: int, exc: BaseException):
    original = FakeWorld.run_episode

    def run_episode(self, ep, progress=None):
        if ep == episode:
            raise exc
        return original(self, ep, progress)

    monkeypatch.setattr(FakeWorld, "run_episode", run_episode)


def test_ctrl_c_keeps_finished_episodes(
    runner, write_scenario, tiny_yaml, fake_world, tmp_path, monkeypatch
):
    interrupt_in_episode(monkeypatch, 2, KeyboardInterrupt())
    out = tmp_path / "run"
    result = invoke(runner, "run", write_scenario(tiny_yaml), "--out", out)
    assert result.exit_code == 130
    assert "Traceback" not in result.output
    assert "interrupted: finished episodes are kept in" in result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    assert manifest["episodes_finished"] == 2
    assert manifest["reason"] == "interrupted by the user (KeyboardInterrupt) during episode 2"
    assert sorted(pd.read_parquet(out / "events.parquet")["episode"].unique()) == [0, 1]
    assert sorted(pd.read_parquet(out / "metrics.parquet")["episode"].unique()) == [0, 1]
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]


def test_sigterm_is_an_interruption_not_a_silent_death(
    runner, write_scenario, tiny_yaml, fake_world, tmp_path, monkeypatch
):
    original = FakeWorld.run_episode

    def run_episode(self, ep, progress=None):
        if ep == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` or a scheduler would
        return original(self, ep, progress)

    monkeypatch.setattr(FakeWorld, "run_episode", run_episode)
    previous = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "run"
    result = invoke(runner, "run", write_scenario(tiny_yaml), "--out", out)
    assert result.exit_code == 130
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete" and manifest["episodes_finished"] == 2
    assert signal.getsignal(signal.SIGTERM) is previous  # the handler is restored


def test_crash_marks_manifest_incomplete(
    runner, write_scenario, tiny_yaml, fake_world, tmp_path, monkeypatch
):
    interrupt_in_episode(monkeypatch, 1, RuntimeError("boom"))
    out = tmp_path / "run"
    result = invoke(runner, "run", write_scenario(tiny_yaml), "--out", out)
    assert result.exit_code == 1
    assert isinstance(result.exception, RuntimeError)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete" and manifest["episodes_finished"] == 1
    assert manifest["reason"] == "failed during episode 1: RuntimeError: boom"
    assert sorted(pd.read_parquet(out / "events.parquet")["episode"].unique()) == [0]


def test_check_ok(runner, write_scenario, tiny_yaml):
    path = write_scenario(tiny_yaml)
    result = invoke(runner, "check", path, "quickstart")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"ok: {path}: tiny-v1, 3 episodes, policy popularity, seed 3"
    assert lines[1].endswith("quickstart.yaml: quickstart-v2, 14 episodes, policy onefeed, seed 0")


def test_schema_stdout_and_file(runner, tmp_path):
    result = invoke(runner, "schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    assert {"id", "seed", "episodes", "policy", "world", "output"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False
    assert "WorldConfig" in schema["$defs"]
    assert invoke(runner, "schema", "--out", tmp_path / "s.json").exit_code == 0
    assert json.loads((tmp_path / "s.json").read_text()) == schema


def test_plot_command_redraws_from_files(runner, write_scenario, tiny_yaml, fake_world, tmp_path):
    out = tmp_path / "run"
    assert invoke(runner, "run", write_scenario(tiny_yaml), "--out", out).exit_code == 0
    assert not (out / "plots").exists()  # plots: false in the tiny scenario
    result = invoke(runner, "plot", out)
    assert result.exit_code == 0, result.output
    assert (out / "plots" / "ctr.png").stat().st_size > 1000
    assert_user_error(invoke(runner, "plot", tmp_path), "no metrics.parquet")


def test_help_lists_commands(runner):
    result = invoke(runner, "--help")
    assert result.exit_code == 0
    for name in ("run", "check", "schema", "plot", "list"):
        assert f"  {name} " in result.stdout


def test_lazy_command_is_imported_on_use(runner, monkeypatch):
    monkeypatch.setattr(cli, "LAZY_COMMANDS", dict(cli.LAZY_COMMANDS))
    add_lazy_command("hello", "tests.experiments.test_cli:hello_command", "Say hello.")
    help_text = invoke(runner, "--help").stdout
    assert re.search(r"\n  hello +Say hello\.\n", help_text)  # column width varies
    result = invoke(runner, "hello")
    assert result.exit_code == 0 and result.stdout == "hello\n"


@click.command()
def hello_command() -> None:
    click.echo("hello")


def test_cli_import_is_light():
    code = (
        "import sys, experiments.cli.commands; "
        "heavy = [m for m in ('pandas', 'pyarrow', 'matplotlib', 'sim.world', 'pydantic') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        check=True,
    ).stdout
    assert out.strip() == "[]"


def test_list_command(runner):
    result = invoke(runner, "list")
    assert result.exit_code == 0
    assert "popularity" in result.stdout and "quickstart" in result.stdout
    assert "ctr " in result.stdout


@pytest.mark.parametrize("name", sorted(cli.LAZY_COMMANDS))
def test_every_lazy_command_resolves(runner, name):
    result = invoke(runner, name, "--help")
    assert result.exit_code == 0, result.output
    assert f"Usage: main {name}" in result.stdout


@pytest.mark.skipif(not HAS_REAL_WORLD, reason="sim.world is not available")
def test_run_summary_leaves_out_the_warm_up(runner, write_scenario, tiny_yaml):
    text = tiny_yaml.replace("policy: popularity\n", "policy: popularity\nwarmup: {episodes: 1}\n")
    result = invoke(runner, "run", write_scenario(text), "--no-progress")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "mean (ep 1-2)" in lines[1] and "last (ep 2)" in lines[1]
    assert "mean: over the 2 episodes after the 1 warm-up episodes" in result.stdout
