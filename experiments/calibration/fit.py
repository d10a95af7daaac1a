"""Fit a world to a real log: users' interests and activity, items' appeal.

The fit (``docs/user_model.md``, "Calibrated worlds"), deterministic for
``from_data.fit_seed``:

1. **Sizes.** ``catalog.n_items``, ``catalog.n_topics`` and the title length follow the
   data; with ``users: real``, so does ``users.n_users``. If the real log never repeats
   a (user, item) pair, ``choice.repeat_penalty`` is raised to
   :data:`ONE_TIME_PENALTY` (one-time consumption).
2. **Interests.** A user's interests are their consumed items' topic mass plus
   :data:`PRIOR_ITEMS` items of the catalogue's mean mix, normalised, then multiplied
   per topic by a factor ``g_k`` (start 1) fitted so that the topic shares of the
   simulated consumption match the real ones.
3. **Appeal.** Start: ``q_i = (log(n_i + 1/2) - log E_i) / w_q`` with ``n_i`` the item's
   real consumptions and ``E_i = sum_u n_u exp(w_a a_ui)`` (what a uniform exposure
   would give with no appeal), centred; then corrected after each pilot run by
   ``eta * log((n_i + 1/2) / (s * m_i + 1/2)) / w_q`` (``m_i`` the simulated count,
   ``s`` the ratio of the totals), clipped to ``±`` :data:`MAX_STEP`.
4. **Activity.** ``rate_u = n_u / (H * c)``: user ``u`` makes in expectation ``n_u``
   consumptions over the horizon ``H`` days, ``c`` the simulated consumptions per
   session. Where the log has timestamps (MovieLens), sessions are runs of
   interactions less than :data:`SESSION_GAP_S` apart, and ``sessions.continue_after_click``
   is set so that the simulated consumptions per session match the real *median*
   session, as far as the continuation alone can take it (``sessions.max_pages``
   raised to fit): MovieLens users rate dozens of films in their sign-up session (mean
   35.8 per session, median 11), which the mean would turn into every session.
5. **Affinity temperature.** ``choice.affinity_temperature`` (``dot`` affinity) is chosen
   from :data:`TEMPERATURES` by the KS distance of the top-topic share on pilot runs
   of a user subsample.

Pilot runs use the neutral policy (:mod:`.neutral`) over the horizon.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from experiments.calibration.neutral import simulate_neutral
from experiments.calibration.real_log import RealLog, interaction_frame
from sim.choice import tempered_interests
from sim.config import WorldConfig
from sim.fitted import FittedWorld

__all__ = [
    "FIT_VERSION",
    "FitResult",
    "fit_world",
    "real_session_stats",
    "repeat_rate",
    "top_topic_shares",
]

#: Bumped whenever the fit changes (part of the cache key).
FIT_VERSION = 1
#: Interactions further apart start a new session (seconds).
SESSION_GAP_S = 1800.0
#: Pseudo-items of the catalogue's mean mix added to each user's topic mass.
PRIOR_ITEMS = 1.0
#: Repeat penalty of a world whose real log never repeats an item (utility units).
ONE_TIME_PENALTY = 10.0
#: Largest continuation after a page with a click.
C_MAX = 0.99
#: Candidate affinity temperatures.
TEMPERATURES = (0.5, 1.0, 2.0)
#: Users in the temperature pilots (at most).
PILOT_USERS = 1500
#: Appeal correction rounds (full pilot runs) and their step.
ROUNDS = 3
ETA = 1.0
MAX_STEP = 3.0


@dataclass
class FitResult:
    """A fitted world and how it was fitted.

    Attributes:
        fitted: Items and users.
        config: The world configuration resolved for the data (sizes, fitted keys).
        report: Fitted parameters, pilot runs and timings (JSON-able).
    """

    fitted: FittedWorld
    config: WorldConfig
    report: dict[str, Any] = field(default_factory=dict)


def repeat_rate(frame: pd.DataFrame) -> float:
    """Share of rows whose (user, item) pair occurred before (0 for an empty frame)."""
    if frame.empty:
        return 0.0
    return float(frame.duplicated(["user", "item"]).mean())


def top_topic_shares(
    frame: pd.DataFrame, item_topics: np.ndarray, n_users: int, top: int, min_items: int = 5
) -> np.ndarray:
    """Each user's share of topic mass in their own ``top`` topics (users with ``min_items``+).

    Returns:
        Shape ``(m,)`` float64, one value per user with at least ``min_items`` rows.
    """
    users = frame["user"].to_numpy()
    mass = np.zeros((n_users, item_topics.shape[1]))
    np.add.at(mass, users, item_topics[frame["item"].to_numpy()])
    counts = np.bincount(users, minlength=n_users)
    keep = counts >= min_items
    m = mass[keep]
    top_mass = -np.sort(-m, axis=1)[:, :top].sum(axis=1)
    return top_mass / np.maximum(m.sum(axis=1), 1e-12)


def real_session_stats(real: RealLog) -> dict[str, float] | None:
    """Sessions of a timestamped log (gap > :data:`SESSION_GAP_S`), or ``None``."""
    if real.timestamps is None:
        return None
    sessions = np.array([1 + int((np.diff(t) > SESSION_GAP_S).sum()) for t in real.timestamps])
    sizes = np.array([len(s) for s in real.sequences])
    return {
        "sessions": int(sessions.sum()),
        "sessions_per_user_median": float(np.median(sessions)),
        "consumptions_per_session_mean": float(sizes.sum() / sessions.sum()),
        "consumptions_per_session_median": float(np.median(_session_sizes(real.timestamps))),
    }


def _session_sizes(timestamps: list[np.ndarray]) -> np.ndarray:
    """Interactions per session (gap > :data:`SESSION_GAP_S`), all users, shape ``(s,)``."""
    sizes = []
    for t in timestamps:
        cuts = np.flatnonzero(np.diff(t) > SESSION_GAP_S) + 1
        sizes.append(np.diff(np.concatenate([[0], cuts, [len(t)]])))
    return np.concatenate(sizes)


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    if a.size == 0 or b.size == 0:
        return 1.0
    return float(ks_2samp(a, b).statistic)


def _resolve(config: WorldConfig, real: RealLog, n_users: int, **keys: Any) -> WorldConfig:
    data = config.model_dump()
    data["catalog"].update(
        n_items=real.n_items,
        n_topics=real.n_topics,
        title_len_min=1,
        title_len_max=max([len(t.split()) for t in real.titles] + [1]),
    )
    data["users"]["n_users"] = n_users
    for dotted, value in keys.items():
        section, key = dotted.split("__")
        data[section][key] = value
    return WorldConfig.model_validate(data)


def _exposure_weights(
    interests: np.ndarray, weights: np.ndarray, topics: np.ndarray, w_a: float, temp: float
) -> np.ndarray:
    """``E_i = sum_u weights_u exp(w_a a_ui)``, shape ``(n_items,)`` (chunks of users)."""
    out = np.zeros(topics.shape[0])
    for start in range(0, interests.shape[0], 2048):
        p = tempered_interests(interests[start : start + 2048], temp)
        out += weights[start : start + 2048] @ np.exp(w_a * (p @ topics.T))
    return out


def fit_world(real: RealLog, config: WorldConfig, progress: Any = None) -> FitResult:
    """Fit ``config``'s world to ``real`` (``config.from_data`` must be set).

    Args:
        real: The real log.
        config: The scenario's world configuration.
        progress: Called with a short message at each step (or ``None``).

    Returns:
        The fitted world, the resolved configuration and the fit report.
    """
    spec = config.from_data
    assert spec is not None
    say = progress or (lambda _msg: None)
    t0 = time.process_time()
    rng = np.random.default_rng(spec.fit_seed)
    topics = real.item_topics
    frame = interaction_frame(real.sequences)
    n_real_users = real.n_users
    n_u = np.array([len(s) for s in real.sequences], dtype=np.float64)
    n_i = np.bincount(frame["item"].to_numpy(), minlength=real.n_items).astype(np.float64)
    real_repeat = repeat_rate(frame)
    sessions = real_session_stats(real)
    keys: dict[str, Any] = {}
    if real_repeat == 0.0:
        keys["choice__repeat_penalty"] = max(config.choice.repeat_penalty, ONE_TIME_PENALTY)
    cfg = _resolve(config, real, n_real_users, **keys)
    # 2. Interests: smoothed topic mass of each user's consumption.
    mass = np.zeros((n_real_users, real.n_topics))
    np.add.at(mass, frame["user"].to_numpy(), topics[frame["item"].to_numpy()])
    mean_mix = topics.mean(axis=0)
    base = mass + PRIOR_ITEMS * mean_mix
    base /= base.sum(axis=1, keepdims=True)
    real_shares = mass.sum(axis=0) / mass.sum()
    gain = np.ones(real.n_topics)
    w_a, w_q = cfg.choice.affinity_weight, max(cfg.choice.quality_weight, 1e-6)
    horizon = spec.horizon_days

    def interests_now() -> np.ndarray:
        x = base * gain
        return x / x.sum(axis=1, keepdims=True)

    def appeal_start(temp: float) -> np.ndarray:
        exposure = _exposure_weights(interests_now(), n_u, topics, w_a, temp)
        q = (np.log(n_i + 0.5) - np.log(exposure)) / w_q
        return q - np.average(q, weights=n_i + 0.5)

    created = _created_s(real, rng)
    cps = 1.0

    def world(q: np.ndarray, users: np.ndarray, cps_now: float) -> FittedWorld:
        return FittedWorld(
            titles=tuple(real.titles),
            item_topics=topics,
            appeal=q,
            created_s=created,
            interests=interests_now()[users],
            rate_per_day=n_u[users] / (horizon * cps_now),
            source_user=users.astype(np.int64),
            dataset=real.name,
        )

    pilots: list[dict[str, Any]] = []
    # 5. Temperature, on a subsample of users.
    temperature = cfg.choice.affinity_temperature
    if cfg.choice.affinity == "dot":
        sub = np.sort(rng.choice(n_real_users, min(PILOT_USERS, n_real_users), replace=False))
        sub_frame = interaction_frame([real.sequences[u] for u in sub.tolist()])
        real_top = top_topic_shares(sub_frame, topics, sub.size, spec.top_topics)
        best = (np.inf, temperature)
        for temp in TEMPERATURES:
            sub_cfg = _resolve(cfg, real, int(sub.size), choice__affinity_temperature=temp)
            say(f"pilot: affinity temperature {temp} on {sub.size} users")
            log = simulate_neutral(sub_cfg, world(appeal_start(temp), sub, cps), spec.fit_seed,
                                   horizon)  # fmt: skip
            sim_top = top_topic_shares(log.frame, topics, sub.size, spec.top_topics)
            ks = _ks(real_top, sim_top)
            pilots.append({"kind": "temperature", "temperature": temp, "top_topic_ks": ks})
            best = min(best, (ks, temp))
        temperature = best[1]
        cfg = _resolve(cfg, real, n_real_users, choice__affinity_temperature=temperature)
    # 3-4. Appeal, topic gains, activity and session length on full pilot runs.
    q = appeal_start(temperature)
    everyone = np.arange(n_real_users)
    for round_ in range(ROUNDS):
        say(f"pilot: appeal and activity, round {round_ + 1} of {ROUNDS}")
        log = simulate_neutral(cfg, world(q, everyone, cps), spec.fit_seed, horizon)
        sim_frame = log.frame
        m_i = np.bincount(sim_frame["item"].to_numpy(), minlength=real.n_items)
        scale = n_i.sum() / max(m_i.sum(), 1)
        step = ETA * np.log((n_i + 0.5) / (scale * m_i + 0.5)) / w_q
        q = q + np.clip(step, -MAX_STEP, MAX_STEP)
        q -= np.average(q, weights=n_i + 0.5)
        sim_mass = topics[sim_frame["item"].to_numpy()].sum(axis=0)
        sim_shares = sim_mass / max(sim_mass.sum(), 1e-12)
        gain *= ((real_shares + 1e-6) / (sim_shares + 1e-6)) ** ETA
        cps_sim = log.n_consumed / max(log.n_sessions, 1)
        pilots.append(
            {
                "kind": "appeal",
                "round": round_ + 1,
                "consumed": log.n_consumed,
                "sessions": log.n_sessions,
                "slates": log.n_slates,
                "consumed_per_session": cps_sim,
            }
        )
        if sessions is not None and round_ < ROUNDS - 1:  # the last round measures c
            target = sessions["consumptions_per_session_median"]
            cfg = _fit_session_length(cfg, real, log, target)
            pilots[-1]["continue_after_click"] = cfg.sessions.continue_after_click
        cps = cps_sim
    fitted = world(q, everyone, cps)
    if spec.users == "sampled":
        fitted = _sampled(fitted, config.users.n_users, rng)
        cfg = _resolve(cfg, real, fitted.n_users)
    report = {
        "fit_version": FIT_VERSION,
        "dataset": real.name,
        "source": real.source,
        "n_items": real.n_items,
        "n_real_users": n_real_users,
        "n_users": fitted.n_users,
        "n_topics": real.n_topics,
        "topic_names": list(real.topic_names),
        "real_interactions": real.n_interactions,
        "real_repeat_rate": real_repeat,
        "real_sessions": sessions,
        "affinity_temperature": temperature,
        "repeat_penalty": cfg.choice.repeat_penalty,
        "continue_after_click": cfg.sessions.continue_after_click,
        "patience_mean": cfg.users.patience_a / (cfg.users.patience_a + cfg.users.patience_b),
        "max_pages": cfg.sessions.max_pages,
        "consumed_per_session": cps,
        "topic_gain": gain.tolist(),
        "appeal_sd": float(q.std()),
        "pilots": pilots,
        "fit_cpu_s": round(time.process_time() - t0, 2),
    }
    return FitResult(fitted=fitted, config=cfg, report=report)


def _fit_session_length(
    cfg: WorldConfig, real: RealLog, log: Any, target_cps: float
) -> WorldConfig:
    """``continue_after_click`` (and ``max_pages``) for ``target_cps`` consumptions/session.

    Pages per session are about geometric: ``P = 1 / (1 - rho)`` with ``rho = p c +
    (1 - p) pi``, ``p`` the share of pages with a click, ``c`` the continuation after
    a click and ``pi`` the mean patience; ``p`` is solved from the pilot's ``P``, then
    ``c`` for the target ``P = target_cps / (consumptions per page)``, at most
    :data:`C_MAX`. Patience is left alone: solving it too (tried) gave sessions of 100+
    pages that hit ``max_pages`` and a volume the session rates could not control.
    """
    s = cfg.sessions
    pi = cfg.users.patience_a / (cfg.users.patience_a + cfg.users.patience_b)
    pages = log.n_slates / max(log.n_sessions, 1)
    per_page = log.n_consumed / max(log.n_slates, 1)
    rho = 1.0 - 1.0 / max(pages, 1.0 + 1e-9)
    c = s.continue_after_click
    p = float(np.clip((rho - pi) / (c - pi), 0.05, 1.0)) if abs(c - pi) > 1e-9 else 0.5
    target_pages = max(target_cps / max(per_page, 1e-9), 1.0)
    rho_t = 1.0 - 1.0 / target_pages
    c_new = float(np.clip((rho_t - (1.0 - p) * pi) / p, 0.0, C_MAX))
    max_pages = int(min(10_000, max(s.max_pages, np.ceil(5 * target_pages))))
    return _resolve(
        cfg, real, cfg.users.n_users,
        sessions__continue_after_click=round(c_new, 4), sessions__max_pages=max_pages,
    )  # fmt: skip


def _created_s(real: RealLog, rng: np.random.Generator) -> np.ndarray:
    """Creation times: release order over the last year, or seeded uniform draws."""
    year_s = 365.0 * 86400.0
    if real.release_rank is not None:
        return -(1.0 - real.release_rank) * year_s - 1.0
    return -rng.uniform(0.0, year_s, size=real.n_items)


def _sampled(fitted: FittedWorld, n_users: int, rng: np.random.Generator) -> FittedWorld:
    """``n_users`` users drawn from the fitted ones (with replacement, interests jittered).

    A sampled user copies a uniformly drawn real user's session rate and draws
    interests from a Dirichlet centred on theirs (concentration :data:`SAMPLE_CONCENTRATION`
    times the mix, plus a floor), so no two sampled users are identical.
    """
    src = rng.integers(0, fitted.n_users, n_users)
    alpha = SAMPLE_CONCENTRATION * fitted.interests[src] + 1e-3
    interests = np.vstack([rng.dirichlet(a) for a in alpha])
    return FittedWorld(
        titles=fitted.titles,
        item_topics=fitted.item_topics,
        appeal=fitted.appeal,
        created_s=fitted.created_s,
        interests=interests,
        rate_per_day=fitted.rate_per_day[src],
        source_user=src.astype(np.int64),
        dataset=fitted.dataset,
    )


#: Dirichlet concentration of a sampled user's interests around their source's.
SAMPLE_CONCENTRATION = 50.0
