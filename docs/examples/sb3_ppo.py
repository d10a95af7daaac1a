"""Train stable-baselines3's PPO on a OneFeed-Sim environment and compare it with baselines.

Not part of the package and not run by the tests: it needs ``torch`` and
``stable-baselines3``, which the project does not depend on. In a separate virtual
environment::

    pip install -e .  torch  "stable-baselines3>=2.9,<3"
    python docs/examples/sb3_ppo.py                                   # onefeed_sim/Feed-v0
    python docs/examples/sb3_ppo.py onefeed_sim/FeedPopulation-v0 --timesteps 8192

The environments are used exactly as registered: ``import experiments`` registers the ids,
``gymnasium.make`` builds them, SB3's ``check_env`` checks them and ``MultiInputPolicy``
reads their ``Dict`` observations. The trained model is scored with SB3's
``evaluate_policy`` and, on the same seed, with the project's
:func:`experiments.evaluate_policy` beside the ``random`` and ``popularity`` policies.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env
from stable_baselines3.common.evaluation import evaluate_policy as sb3_evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

import experiments
from policies import make_policy


def main() -> None:
    """Check the env, train PPO for ``--timesteps`` steps and print the evaluations."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env_id", nargs="?", default=experiments.FEED_ID)
    parser.add_argument("--timesteps", type=int, default=2048, help="PPO training steps")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    check_env(gym.make(args.env_id))
    print(f"check_env: {args.env_id} passed")

    model = PPO("MultiInputPolicy", gym.make(args.env_id), n_steps=2048, seed=args.seed, verbose=1)
    model.learn(total_timesteps=args.timesteps)

    eval_env = DummyVecEnv([lambda: Monitor(gym.make(args.env_id))])
    eval_env.seed(args.seed)  # the first reset uses this seed, as the project's evaluator does
    mean, sd = sb3_evaluate_policy(model, eval_env, n_eval_episodes=args.episodes)
    print(
        f"PPO, SB3 evaluate_policy: return mean {mean:.3f}, sd {sd:.3f} ({args.episodes} episodes)"
    )

    def ppo(obs: dict) -> object:
        return model.predict(obs, deterministic=True)[0]

    baselines = {"random": make_policy("random"), "popularity": make_policy("popularity")}
    for name, policy in {"PPO": ppo, **baselines}.items():
        result = experiments.evaluate_policy(
            gym.make(args.env_id), policy, n_episodes=args.episodes, seed=args.seed
        )
        print(f"{name}, experiments.evaluate_policy:\n{result.summary.to_string(index=False)}")


if __name__ == "__main__":
    main()
