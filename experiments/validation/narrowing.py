"""Where interests narrow: per-user and per-topic analysis of an ``onefeed compare``.

World model v2's reinforcing drift lets consumption sharpen interests (issue 12). The
compare's ``interest_entropy_nats`` says *whether* the mean entropy falls; this module
reads the runs' ground-truth snapshots (``truth/initial.npz``, ``truth/episode-NNNN.npz``:
each user's interest vector; never shown to policies) and their event logs and says
*where*:

* **when** — mean per-user entropy (nats) at chosen episodes and its change per
  window of episodes;
* **who** — the change of each user's entropy from the start to the last episode, by
  tercile of the user's initial entropy (narrow / middle / broad starters) and by
  tercile of their consumption (feed + search clicks over the run);
* **towards what** — the share of users whose final dominant topic is their initial
  one (their own interest sharpened, rather than being pulled to another topic), the
  topics whose population-mean interest gained most, and the rank correlation of a
  topic's gain with its initial population share (do already-popular topics gain?).

Every number is a mean over seeds with a 95% t-interval where it is a per-seed quantity.
Command line: ``python -m experiments.validation narrowing COMPARE_DIR`` writes
``COMPARE_DIR/narrowing.md``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from experiments.atomic import atomic_path, atomic_write_text
from experiments.reporting.stats import t_interval

__all__ = ["RunTrajectory", "entropy_nats", "load_run", "narrowing_markdown", "write_narrowing"]

#: Episodes at which the mean entropy is tabulated (clipped to the run's last episode).
EPISODES_SHOWN = (0, 9, 29, 59, 89, 119, 149)
#: Width of the windows over which the change of the mean entropy is reported.
WINDOW = 30


@dataclass(frozen=True)
class RunTrajectory:
    """One run's interest trajectories and consumption.

    Attributes:
        policy: The policy's name.
        seed: Root seed.
        interests: Shape ``(n_episodes + 1, n_users, n_topics)``: the initial interests,
            then after every episode.
        clicks: Shape ``(n_users,)`` feed and search clicks over the run.
    """

    policy: str
    seed: int
    interests: np.ndarray
    clicks: np.ndarray


def entropy_nats(p: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) over the last axis (``0 · log 0 = 0``)."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, -p * np.log(p), 0.0).sum(axis=-1)


def load_run(run_dir: Path) -> RunTrajectory:
    """Read one run's manifest, truth snapshots and clicks.

    Raises:
        FileNotFoundError: If the run has no truth snapshots (``output.truth_snapshots``).
    """
    run_dir = Path(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    truth = run_dir / "truth"
    files = sorted(truth.glob("episode-*.npz"))
    if not files or not (truth / "initial.npz").exists():
        raise FileNotFoundError(f"{truth}: no truth snapshots (output.truth_snapshots: true)")
    frames = [np.load(truth / "initial.npz")["interests"]]
    frames += [np.load(f)["interests"] for f in files]
    n_users = frames[-1].shape[0]
    # users who join later (cold-start scenarios) are padded with their first snapshot
    stacked = np.stack([_pad_users(f, frames[-1]) for f in frames]).astype(np.float64)
    events = pd.read_parquet(run_dir / "events.parquet", columns=["user_id", "event"])
    clicked = events["event"].isin(["click", "search_click"]).to_numpy()
    clicks = np.bincount(events["user_id"].to_numpy()[clicked], minlength=n_users)
    return RunTrajectory(manifest["policy"]["name"], int(manifest["seed"]), stacked, clicks)


def _pad_users(frame: np.ndarray, last: np.ndarray) -> np.ndarray:
    if frame.shape[0] == last.shape[0]:
        return frame
    return np.vstack([frame, last[frame.shape[0] :]])


def _terciles(values: np.ndarray) -> np.ndarray:
    """Tercile index 0/1/2 of each value (ties broken by order)."""
    ranks = np.argsort(np.argsort(values, kind="stable"), kind="stable")
    return np.minimum(3 * ranks // max(len(values), 1), 2)


def _run_rows(run: RunTrajectory) -> dict[str, float]:
    """The per-run quantities of the tables (means over the run's users)."""
    h = entropy_nats(run.interests)  # (E+1, U)
    first, last = run.interests[0], run.interests[-1]
    delta = h[-1] - h[0]
    row: dict[str, float] = {
        "entropy_initial": float(h[0].mean()),
        "entropy_final": float(h[-1].mean()),
        "delta": float(delta.mean()),
        "share_narrowed": float((delta < 0).mean()),
        "share_narrowed_0.25": float((delta < -0.25).mean()),
        "max_share_delta": float((last.max(axis=1) - first.max(axis=1)).mean()),
        "same_dominant_topic": float((last.argmax(axis=1) == first.argmax(axis=1)).mean()),
    }
    n_episodes = run.interests.shape[0] - 1
    for e in sorted({min(e, n_episodes - 1) for e in EPISODES_SHOWN} | {n_episodes - 1}):
        row[f"entropy_ep{e}"] = float(h[e + 1].mean())
    for start in range(0, n_episodes, WINDOW):
        end = min(start + WINDOW, n_episodes)
        row[f"window_{start}_{end - 1}"] = float(h[end].mean() - h[start].mean())
    for name, groups in (("initial", _terciles(h[0])), ("clicks", _terciles(run.clicks))):
        for g, label in enumerate(("low", "mid", "high")):
            row[f"delta_by_{name}_{label}"] = float(delta[groups == g].mean())
    gain = last.mean(axis=0) - first.mean(axis=0)
    rho = stats.spearmanr(first.mean(axis=0), gain).statistic
    row["topic_gain_vs_initial_share_rho"] = float(rho)
    top = np.argsort(-gain)[:3]
    row["top_gaining_topics"] = " ".join(f"{int(k)}:{gain[k]:+.3f}" for k in top)  # type: ignore[assignment]
    return row


def narrowing_table(runs: Sequence[RunTrajectory]) -> pd.DataFrame:
    """One row per run (``policy``, ``seed`` and the quantities of :func:`_run_rows`)."""
    return pd.DataFrame([{"policy": r.policy, "seed": r.seed, **_run_rows(r)} for r in runs])


def _cell(values: pd.Series, digits: int = 3) -> str:
    iv = t_interval(values.to_numpy(dtype=float))
    if not np.isfinite(iv.low):
        return f"{iv.mean:.{digits}f}"
    return f"{iv.mean:.{digits}f} [{iv.low:.{digits}f}, {iv.high:.{digits}f}]"


def narrowing_markdown(table: pd.DataFrame, title: str) -> str:
    """The tables of the module docstring, policies as columns."""
    policies = list(dict.fromkeys(table["policy"]))
    by = {p: table[table["policy"] == p] for p in policies}
    n = {p: len(by[p]) for p in policies}
    head = ["| quantity | " + " | ".join(f"{p} (n={n[p]})" for p in policies) + " |",
            "|---|" + "---|" * len(policies)]  # fmt: skip

    def rows(columns: Sequence[tuple[str, str]]) -> list[str]:
        return [
            f"| {label} | " + " | ".join(_cell(by[p][c]) for p in policies) + " |"
            for c, label in columns
        ]

    episodes = [c for c in table.columns if c.startswith("entropy_ep")]
    windows = [c for c in table.columns if c.startswith("window_")]
    lines = [
        f"# Where interests narrow: {title}",
        "",
        "Per-user Shannon entropy of the latent interests (nats), from the runs' truth "
        "snapshots; each cell is the mean over seeds [95% t-interval] of a per-run mean "
        "over users.",
        "",
        "## Whether and when",
        "",
        *head,
        *rows([("entropy_initial", "entropy at the start")]),
        *rows([(c, f"entropy after episode {c.removeprefix('entropy_ep')}") for c in episodes]),
        *rows([("delta", "change, start → last episode")]),
        *rows(
            [
                (c, "change over episodes " + c.removeprefix("window_").replace("_", "–"))
                for c in windows
            ]
        ),
        "",
        "## Who",
        "",
        *head,
        *rows(
            [
                ("share_narrowed", "share of users whose entropy fell"),
                ("share_narrowed_0.25", "share whose entropy fell by > 0.25 nats"),
                ("max_share_delta", "change of the dominant topic's share"),
            ]
        ),
        *rows(
            [
                (f"delta_by_initial_{g}", f"change, users of {g} initial entropy (tercile)")
                for g in ("low", "mid", "high")
            ]
        ),
        *rows(
            [
                (f"delta_by_clicks_{g}", f"change, users of {g} consumption (tercile of clicks)")
                for g in ("low", "mid", "high")
            ]
        ),
        "",
        "## Towards what",
        "",
        *head,
        *rows(
            [
                (
                    "same_dominant_topic",
                    "share of users whose final dominant topic is their initial one",
                ),
                (
                    "topic_gain_vs_initial_share_rho",
                    "Spearman ρ: topic's gain of population-mean interest vs its initial share",
                ),
            ]
        ),
        "",
        "Topics gaining most population-mean interest (topic:gain), per run:",
        "",
    ]
    for p in policies:
        runs = "; ".join(
            f"seed {s}: {t}"
            for s, t in zip(by[p]["seed"], by[p]["top_gaining_topics"], strict=True)
        )
        lines.append(f"* {p}: {runs}")
    return "\n".join(lines) + "\n"


def write_narrowing(compare_dir: Path) -> Path:
    """Analyse every run under ``compare_dir/runs/``; write ``narrowing.md`` and ``.parquet``.

    Returns:
        The path of ``narrowing.md``.
    """
    compare_dir = Path(compare_dir)
    runs = [load_run(d) for d in sorted((compare_dir / "runs").iterdir()) if d.is_dir()]
    table = narrowing_table(runs)
    with atomic_path(compare_dir / "narrowing.parquet") as tmp:
        table.to_parquet(tmp, index=False)
    title = compare_dir.name
    compare_json = compare_dir / "compare.json"
    if compare_json.exists():
        title = json.loads(compare_json.read_text(encoding="utf-8")).get("scenario_id", title)
    path = compare_dir / "narrowing.md"
    atomic_write_text(path, narrowing_markdown(table, title))
    return path
