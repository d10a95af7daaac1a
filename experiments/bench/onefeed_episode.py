"""Per-episode cost of the ``onefeed`` policy: serving CPU, update CPU, peak RSS.

Builds a scenario's world (``drift-v1`` by default) with another population size and
the ``onefeed`` policy (or ``--policy``), runs ``--episodes`` episodes as the run loop
does (simulate, then ``policy.update`` on the episode's log as a DataFrame) and prints,
per episode, the CPU seconds of serving the episode (``run_episode``: the simulation
with every policy call), of the update (retraining, statistics, the next episode's
lists), the slates served, and the process's peak RSS so far. Each size runs in its own
process so its peak RSS is its own.

    python -m experiments.bench.onefeed_episode                        # 1,000 and 10,000 users
    python -m experiments.bench.onefeed_episode --users 1000 --episodes 5
    python -m experiments.bench.onefeed_episode --users 10000 --profile update   # cProfile top 25

CPU seconds (``time.process_time``) are less sensitive to other load on a shared
machine than wall time; compare ratios measured in one run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import subprocess
import sys
import time


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(
    scenario_name: str, n_users: int, episodes: int, policy: str, profile: str | None
) -> dict:
    from threadpoolctl import threadpool_limits

    from experiments.bench.long_run_memory import shrink
    from experiments.scenario import load_scenario
    from policies import make_policy
    from sim.world import build_world

    scenario = shrink(load_scenario(scenario_name), n_users, episodes, policy)
    prof = cProfile.Profile() if profile else None
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        c = time.process_time()
        policy = make_policy(scenario.policy.name, **scenario.policy.params)
        world = build_world(scenario.world, scenario.seed, policy)
        build_cpu = time.process_time() - c
        for episode in range(episodes):
            c = time.process_time()
            if prof is not None and profile == "serve":
                prof.enable()
            result = world.run_episode(episode)
            if prof is not None:
                prof.disable()
            serve = time.process_time() - c
            c = time.process_time()
            events = result.events.to_pandas()
            frame = time.process_time() - c
            c = time.process_time()
            if prof is not None and profile == "update":
                prof.enable()
            world.policy.update(events)
            if prof is not None:
                prof.disable()
            update = time.process_time() - c
            rows.append({
                "episode": episode, "slates": result.n_slates, "events": result.n_events,
                "serve_cpu_s": serve, "frame_cpu_s": frame, "update_cpu_s": update,
                "peak_rss_mb": _peak_rss_mb(),
            })  # fmt: skip
            del result, events
    out = {"users": n_users, "policy": scenario.policy.name, "build_cpu_s": build_cpu,
           "episodes": rows}  # fmt: skip
    if prof is not None:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
        out["profile"] = buf.getvalue()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="drift-v1")
    parser.add_argument("--users", type=int, nargs="*", default=[1_000, 10_000])
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--policy", default="onefeed")
    parser.add_argument("--profile", choices=["serve", "update"], default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = run_one(args.scenario, args.users[0], args.episodes, args.policy, args.profile)
        print(json.dumps(result))
        return
    print(
        f"{'users':>7} {'ep':>3} {'slates':>9} {'serve cpu s':>11} {'update cpu s':>12} "
        f"{'to_pandas s':>11} {'peak RSS MB':>11}",
        flush=True,
    )
    for n in args.users:
        cmd = [sys.executable, "-m", "experiments.bench.onefeed_episode", "--child", "--users",
               str(n), "--episodes", str(args.episodes), "--scenario", args.scenario,
               "--policy", args.policy]  # fmt: skip
        if args.profile:
            cmd += ["--profile", args.profile]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        for e in r["episodes"]:
            print(
                f"{n:>7} {e['episode']:>3} {e['slates']:>9} {e['serve_cpu_s']:>11.2f} "
                f"{e['update_cpu_s']:>12.2f} {e['frame_cpu_s']:>11.2f} {e['peak_rss_mb']:>11.0f}",
                flush=True,
            )
        if "profile" in r:
            print(r["profile"])


if __name__ == "__main__":
    main()
