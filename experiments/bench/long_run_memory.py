"""Memory of a long run: does the run loop keep memory flat over many episodes?

Runs ``drift-v1`` (by default at 10,000 users, 180 episodes) through the real run loop
(:func:`experiments.runner.run.run_scenario`, logs and truth streamed to disk per episode,
plots off) and prints, after episodes 10, 20, 40, 80, 160 and the last, the current
RSS and the peak RSS of the process, then the slope of the current RSS over the
episodes after the first checkpoint (MiB per 100 episodes; flat ≈ 0).

    python -m experiments.bench.long_run_memory                       # 10,000 users, 180 ep.
    python -m experiments.bench.long_run_memory --episodes 40
    python -m experiments.bench.long_run_memory --users 2000 --policy mf --episodes 20
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from experiments.runner.run import run_scenario
from experiments.scenario import Scenario, load_scenario


def current_rss_mib() -> float:
    """Resident set size of this process now (MiB), from ``/proc/self/status``."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (MiB; ``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def checkpoints(episodes: int) -> list[int]:
    """Episodes 10, 20, 40, … (doubling) below ``episodes``, then ``episodes`` itself."""
    out, e = [], 10
    while e < episodes:
        out.append(e)
        e *= 2
    return [*out, episodes]


def shrink(scenario: Scenario, users: int, episodes: int, policy: str | None) -> Scenario:
    """``scenario`` with another population size, horizon and (optionally) policy."""
    data = scenario.model_dump(mode="python")
    data["world"]["users"]["n_users"] = users
    data["episodes"] = episodes
    data["output"]["plots"] = False
    if policy is not None:
        data["policy"] = {"name": policy}
    data["interventions"] = [i for i in data["interventions"] if i["episode"] < episodes]
    return Scenario.model_validate(data)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="drift-v1")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--episodes", type=int, default=180)
    parser.add_argument("--policy", default=None, help="override the scenario's policy")
    parser.add_argument("--out", type=Path, default=None, help="run directory (default: temp)")
    args = parser.parse_args(argv)
    scenario = shrink(load_scenario(args.scenario), args.users, args.episodes, args.policy)
    marks = set(checkpoints(args.episodes))
    rows: list[tuple[int, float, float, float]] = []
    t0 = time.perf_counter()

    def build(config: Any, seed: int, policy: Any) -> Any:
        from sim.world import build_world

        world = build_world(config, seed, policy)
        inner = world.run_episode

        def run_episode(episode: int, progress: Any = None) -> Any:
            if episode in marks:  # `episode` episodes are finished (and updated)
                rows.append((episode, current_rss_mib(), peak_rss_mib(), time.perf_counter() - t0))
                _print_row(rows[-1])
            return inner(episode, progress=progress)

        world.run_episode = run_episode
        return world

    print(
        f"{scenario.id}: {args.users:,} users, {args.episodes} episodes, "
        f"policy {scenario.policy.name}; RSS at start {current_rss_mib():.0f} MiB"
    )
    print(f"{'episodes done':>13} {'RSS MiB':>9} {'peak MiB':>9} {'wall s':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "run"
        run_scenario(scenario, out, show_progress=False, build_world=build)
    rows.append((args.episodes, current_rss_mib(), peak_rss_mib(), time.perf_counter() - t0))
    _print_row(rows[-1])
    fit = [r for r in rows if r[0] >= rows[0][0]]
    if len(fit) >= 2:
        x = np.array([r[0] for r in fit], dtype=float)
        y = np.array([r[1] for r in fit])
        slope = float(np.polyfit(x, y, 1)[0]) * 100.0
        peak = np.array([r[2] for r in fit])
        peak_slope = float(np.polyfit(x, peak, 1)[0]) * 100.0
        print(
            f"slope over episodes {int(x[0])}-{int(x[-1])}: RSS {slope:+.1f} MiB / 100 episodes, "
            f"peak {peak_slope:+.1f} MiB / 100 episodes"
        )


def _print_row(row: tuple[int, float, float, float]) -> None:
    episode, rss, peak, wall = row
    print(f"{episode:>13} {rss:>9.0f} {peak:>9.0f} {wall:>8.0f}", flush=True)


if __name__ == "__main__":
    main()
