"""Throughput of the simulated world with the ``popularity`` policy.

Prints simulated sessions/s, slates served/s, logged events/s and peak memory (max
RSS) for each population size, each size in its own process so max RSS is its own;
each finished episode prints a progress line (slates, CPU s, peak RSS so far) to stderr.

    python -m experiments.bench.throughput                 # 10,000 and 100,000 users, 7 days
    python -m experiments.bench.throughput --users 10000 --days 2
    python -m experiments.bench.throughput --baseline /path/to/old/checkout   # before/after
    python -m experiments.bench.throughput --batch-window-s 60 600   # two serving windows

The serving window decides only which requests share one policy call (users keep
their own clocks, so the logged times do not depend on it); wider windows give larger
batches and amortise the per-call overhead, which dominates for small populations.

``--baseline`` runs every size with the code of another checkout too (same machine,
same run), so the ratios are meaningful on a noisy machine. ``cpu s`` is the process
CPU time of the simulation, less sensitive to other load than the wall time ``sim s``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _peak_rss_mb() -> float:
    """This process's peak resident memory so far, MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(n_users: int, days: int, seed: int, window_s: float | None = None) -> dict:
    import policies.baselines  # noqa: F401
    from policies.registry import make_policy
    from sim.config import WorldConfig
    from sim.log import episode_frame
    from sim.world import build_world

    data: dict = {"users": {"n_users": n_users}}
    if window_s is not None:
        data["serving"] = {"batch_window_s": window_s}
    config = WorldConfig.model_validate(data)
    window_s = config.serving.batch_window_s
    t0 = time.perf_counter()
    world = build_world(config, seed, make_policy("popularity"))
    build_s = time.perf_counter() - t0
    sessions = slates = events = 0
    sim_s = cpu_s = update_s = 0.0
    for episode in range(days):
        t, c = time.perf_counter(), time.process_time()
        result = world.run_episode(episode)
        sim_s += time.perf_counter() - t
        cpu_s += time.process_time() - c
        sessions += result.n_sessions
        slates += result.n_slates
        events += result.n_events
        table = result.events
        del result  # the frame below consumes the table: no other reference may remain
        t = time.perf_counter()
        world.policy.update(episode_frame(table))
        update_s += time.perf_counter() - t
        del table
        print(
            f"{n_users} users: episode {episode} done, {slates} slates, "
            f"cpu {cpu_s:.1f} s, peak RSS {_peak_rss_mb():.0f} MB",
            file=sys.stderr, flush=True,
        )  # fmt: skip
    maxrss_mb = _peak_rss_mb()
    return {
        "users": n_users, "days": days, "window_s": window_s, "build_s": build_s,
        "simulate_s": sim_s, "cpu_s": cpu_s,
        "policy_update_s": update_s, "sessions": sessions, "slates": slates, "events": events,
        "sessions_per_s": sessions / sim_s, "slates_per_s": slates / sim_s,
        "events_per_s": events / sim_s, "peak_rss_mb": maxrss_mb,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--days", type=int, default=7, help="one-day episodes to simulate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline", help="also run the code of this checkout (before/after)")
    parser.add_argument(
        "--batch-window-s", type=float, nargs="*", default=[None],
        help="serving batch windows to measure (default: the world's default)",
    )  # fmt: skip
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.users[0], args.days, args.seed, args.batch_window_s[0])))
        return
    header = (
        f"{'code':>8} {'users':>8} {'window s':>8} {'days':>4} {'sim s':>8} {'cpu s':>8} "
        f"{'sessions/s':>11} "
        f"{'slates/s':>10} {'events/s':>11} {'peak RSS MB':>12} {'MB/1k users':>12}"
    )
    print(header, flush=True)
    codes = [("current", None)] + ([("baseline", args.baseline)] if args.baseline else [])
    runs = [(n, w, label, cwd) for n in args.users for w in args.batch_window_s
            for label, cwd in codes]  # fmt: skip
    for n, window, label, cwd in runs:
        cmd = [sys.executable, "-m", "experiments.bench.throughput", "--child", "--users",
               str(n), "--days", str(args.days), "--seed", str(args.seed)]  # fmt: skip
        if window is not None:
            cmd += ["--batch-window-s", str(window)]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, cwd=cwd).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"{label:>8} {r['users']:>8} {r.get('window_s', float('nan')):>8.0f} {r['days']:>4} "
            f"{r['simulate_s']:>8.1f} "
            f"{r.get('cpu_s', float('nan')):>8.1f} {r['sessions_per_s']:>11.0f} "
            f"{r['slates_per_s']:>10.0f} {r['events_per_s']:>11.0f} "
            f"{r['peak_rss_mb']:>12.0f} {r['peak_rss_mb'] / r['users'] * 1000:>12.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
