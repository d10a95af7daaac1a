"""A run split by users (``--shards N``) against the same run in one process.

Runs one scenario twice through :func:`experiments.runner.run.run_scenario`, each in its
own process (so peak RSS is its own): in one process, and with ``--shards N`` on the
chosen backend (a local Ray with ``N`` CPUs by default). Prints, for each, the wall
time, the CPU seconds of the driver and of every process it started (Ray's raylet, GCS
and workers, or the local worker processes; read from ``/proc`` just before they
stop), the driver's peak RSS, and a digest of every episode's events; then whether
the logs are identical and the overhead (sharded CPU / one-process CPU).

    python -m experiments.bench.shards                       # 10,000 users, popularity, 3 days
    python -m experiments.bench.shards --users 2000 --days 2 --backend local
    python -m experiments.bench.shards --scenario quickstart --days 2
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

SCENARIO = {
    "id": "shards-bench-v1",
    "description": "sharded run benchmark",
    "seed": 0,
    "policy": "popularity",
    "world": {"episode_length_days": 1.0},
    "output": {"plots": False, "truth_snapshots": False},
}


def _descendants(root: int) -> list[int]:
    """Pids of every live process below ``root`` (from ``/proc``)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parent[int(entry)] = int(fields[1])
    out, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        kids = [p for p, pp in parent.items() if pp == pid]
        out.extend(kids)
        frontier.extend(kids)
    return out


def _cpu_s(pids: list[int]) -> float:
    """utime + stime (with reaped children) of ``pids``, in seconds."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / tick  # utime stime cutime cstime
    return total


def _digest(path: Path) -> str:
    """sha256 (16 hex digits) of an events file's table as an Arrow IPC stream."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return hashlib.sha256(sink.getvalue()).hexdigest()[:16]


def run_one(scenario_path: str, out: str, shards: int, backend: str) -> dict:
    """One run (in this process); CPU of this process and its descendants."""
    from experiments.runner import shards as shards_module
    from experiments.runner.run import run_scenario
    from experiments.scenario import load_scenario

    helper_cpu = {"s": 0.0}
    close = shards_module.EpisodeShards.close

    def close_and_count(self: shards_module.EpisodeShards) -> None:
        helper_cpu["s"] = _cpu_s(_descendants(os.getpid()))
        close(self)

    shards_module.EpisodeShards.close = close_and_count  # type: ignore[method-assign]
    if backend == "ray" and shards > 1:
        import ray

        ray.init(num_cpus=shards, include_dashboard=False, log_to_driver=False)
    scenario = load_scenario(scenario_path)
    t, c = time.perf_counter(), time.process_time()
    result = run_scenario(scenario, Path(out), show_progress=False, shards=shards, backend=backend)
    wall_s, driver_cpu_s = time.perf_counter() - t, time.process_time() - c
    if backend == "ray" and shards > 1:
        helper_cpu["s"] = max(helper_cpu["s"], _cpu_s(_descendants(os.getpid())))
        ray.shutdown()
    digests = [_digest(p) for p in sorted((result.run_dir / "events.parquet").iterdir())]
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    return {
        "shards": shards,
        "backend": backend if shards > 1 else "one process",
        "wall_s": round(wall_s, 2),
        "driver_cpu_s": round(driver_cpu_s, 2),
        "helpers_cpu_s": round(helper_cpu["s"], 2),
        "cpu_s": round(driver_cpu_s + helper_cpu["s"], 2),
        "simulate_s": round(sum(e["simulate_s"] for e in manifest["episodes"]), 2),
        "update_s": round(sum(e["update_s"] for e in manifest["episodes"]), 2),
        "driver_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "slates": sum(e["n_slates"] for e in manifest["episodes"]),
        "events_digests": digests,
    }


def main() -> None:
    """Command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=3, help="episodes of one day")
    ap.add_argument("--policy", default="popularity")
    ap.add_argument("--scenario", default=None, help="a scenario instead (its --days episodes)")
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--backend", choices=["local", "ray"], default="ray")
    ap.add_argument("--one", nargs=4, help=argparse.SUPPRESS)  # internal: one run
    args = ap.parse_args()
    if args.one:
        path, out, shards, backend = args.one
        print(json.dumps(run_one(path, out, int(shards), backend)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="shards-bench-"))
    if args.scenario:
        from experiments.scenario import resolve_scenario_path

        data = yaml.safe_load(resolve_scenario_path(args.scenario).read_text())
        data["episodes"] = args.days
        data.setdefault("output", {})["plots"] = False
    else:
        data = dict(SCENARIO, episodes=args.days, policy=args.policy)
        data["world"] = {**SCENARIO["world"], "users": {"n_users": args.users}}
    path = tmp / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    rows = []
    for shards, backend in ((1, "local"), (args.shards, args.backend)):
        cmd = [sys.executable, "-m", "experiments.bench.shards", "--one", str(path),
               str(tmp / f"run-{shards}"), str(shards), backend]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    shutil.rmtree(tmp)  # the two run directories (tens of MB)
    one, sharded = rows
    same = one["events_digests"] == sharded["events_digests"]
    print(
        f"identical event logs: {same}; wall {one['wall_s']} s -> {sharded['wall_s']} s "
        f"({sharded['wall_s'] / one['wall_s']:.2f}x); CPU {one['cpu_s']} s -> "
        f"{sharded['cpu_s']} s ({sharded['cpu_s'] / one['cpu_s']:.2f}x)"
    )


if __name__ == "__main__":
    main()
