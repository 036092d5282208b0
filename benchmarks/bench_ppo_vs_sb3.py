"""Pitwall's torch PPO (runners/mujoco) vs stable-baselines3 PPO, same env, same wall budget.

Both learners get the hyperparameters of the env's profile (configs/mujoco/*.yaml): envs,
rollout length, minibatch size, epochs, lr and its linear annealing over ``total_steps``, gamma,
GAE lambda, clip, coefficients, network sizes (tanh, orthogonal init), obs + reward
normalisation, one torch thread. Each trains until its ``total_steps`` or the wall budget,
whichever comes first, then is evaluated deterministically on the same N seeded episodes.

    python benchmarks/bench_ppo_vs_sb3.py [--env InvertedPendulum-v5|HalfCheetah-v5]
        [--budget 60] [--episodes 10] [--seeds 0 1] [--total-steps N] [--only ours|sb3]
        [--quick]

Needs the ``bench`` extra: ``pip install -c constraints/cpu.txt stable-baselines3``.
"""
from __future__ import annotations

import argparse
import collections
import io
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Deque, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from runners.mujoco.config import RunnerConfig, parse_params  # noqa: E402
from runners.mujoco.evaluate import evaluate_checkpoint  # noqa: E402
from runners.mujoco.train import Trainer  # noqa: E402
from runners.protocol import RunPaths  # noqa: E402
from runners.sdk.stop_flag import StopFlag  # noqa: E402
from tui.core.profiles import resolve_profile  # noqa: E402

# what tests/test_benchmarks_quick.py needs installed to run this one (the ``bench`` extra)
OPTIONAL_DEPENDENCIES = ["stable_baselines3"]

PROFILES = {"InvertedPendulum-v5": "inverted_pendulum.yaml", "HalfCheetah-v5": "half_cheetah.yaml"}
TARGETS = {"InvertedPendulum-v5": 950.0, "HalfCheetah-v5": 1000.0}
EVAL_SEED = 10_000
RECENT = 20  # training return = mean of the last 20 finished episodes, for both learners


def load_cfg(env_id: str, seed: int, total_steps: int) -> RunnerConfig:
    name = PROFILES.get(env_id)
    if name is None:
        raise SystemExit("no profile for %s (known: %s)" % (env_id, ", ".join(PROFILES)))
    rp = resolve_profile(str(REPO / "configs" / "mujoco" / name), ["seed=%d" % seed])
    cfg = parse_params(rp.params, rp.path)
    if total_steps:
        cfg.total_steps = total_steps
    cfg.torch_threads = 1
    return cfg


def run_ours(cfg: RunnerConfig, budget: float, episodes: int, target: float) -> Dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="pitwall-bench-ppo-"))
    try:
        stop = StopFlag()
        trainer = Trainer(root, cfg, stop=stop, out=io.StringIO())
        timer = threading.Timer(budget, stop.request)
        t0 = time.perf_counter()
        timer.start()
        try:
            trainer.run()
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        returns = evaluate_checkpoint(RunPaths(root).latest, episodes, EVAL_SEED)
        return {"steps": trainer.step, "wall": wall, "returns": returns,
                "to_target": _first_time_at(RunPaths(root).metrics_jsonl, target, t0)}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _first_time_at(metrics: Path, target: float, t0_perf: float) -> Optional[float]:
    """Seconds from the start until rollout/ep_return first reached ``target``."""
    from runners.protocol import parse_metric_line

    start_unix = time.time() - (time.perf_counter() - t0_perf)
    for line in metrics.read_text().splitlines():
        rec = parse_metric_line(line)
        if rec.metrics.get("rollout/ep_return", -np.inf) >= target:
            return rec.time - start_unix
    return None


def run_sb3(cfg: RunnerConfig, budget: float, episodes: int, target: float) -> Dict[str, Any]:
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    p = cfg.ppo
    torch.set_num_threads(1)
    venv = VecNormalize(make_vec_env(cfg.env_id, n_envs=cfg.num_envs, seed=cfg.seed,
                                     vec_env_cls=DummyVecEnv),
                        norm_obs=p.norm_obs, norm_reward=p.norm_reward, clip_obs=10.0,
                        gamma=p.gamma)
    lr: Any = (lambda remaining: p.lr * remaining) if p.anneal_lr else p.lr
    model = PPO("MlpPolicy", venv, learning_rate=lr, n_steps=cfg.rollout_steps,
                batch_size=cfg.minibatch_size, n_epochs=p.epochs, gamma=p.gamma,
                gae_lambda=p.gae_lambda, clip_range=p.clip, ent_coef=p.ent_coef,
                vf_coef=p.vf_coef, max_grad_norm=p.max_grad_norm or 1e9,
                target_kl=p.target_kl or None, seed=cfg.seed, device="cpu", verbose=0,
                policy_kwargs={"net_arch": {"pi": list(p.hidden), "vf": list(p.hidden)},
                               "activation_fn": torch.nn.Tanh, "ortho_init": True,
                               "log_std_init": p.init_log_std})

    class Budget(BaseCallback):
        """Stops at the wall budget; notes when the recent training return hit the target."""

        def __init__(self, seconds: float):
            super().__init__()
            self.t0 = time.perf_counter()
            self.deadline = self.t0 + seconds
            self.recent: Deque[float] = collections.deque(maxlen=RECENT)
            self.to_target: Optional[float] = None

        def _on_step(self) -> bool:
            for info in self.locals.get("infos", []):
                if "episode" in info:  # the Monitor wrapper's episode summary (raw reward)
                    self.recent.append(float(info["episode"]["r"]))
            if self.to_target is None and self.recent and np.mean(self.recent) >= target:
                self.to_target = time.perf_counter() - self.t0
            return time.perf_counter() < self.deadline

    t0 = time.perf_counter()
    budget_cb = Budget(budget)
    model.learn(total_timesteps=cfg.total_steps, callback=budget_cb)
    wall = time.perf_counter() - t0
    venv.training = False
    env = gym.make(cfg.env_id)
    returns: List[float] = []
    for i in range(episodes):
        obs, _ = env.reset(seed=EVAL_SEED + i)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(venv.normalize_obs(obs[None]), deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action[0])
            total += float(reward)
            done = bool(terminated or truncated)
        returns.append(total)
    env.close()
    venv.close()
    return {"steps": int(model.num_timesteps), "wall": wall, "returns": returns,
            "to_target": budget_cb.to_target}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="InvertedPendulum-v5", choices=sorted(PROFILES))
    ap.add_argument("--budget", type=float, default=60.0, help="wall seconds per learner")
    ap.add_argument("--episodes", type=int, default=10, help="deterministic eval episodes")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--total-steps", type=int, default=0,
                    help="lr-annealing horizon and step cap (default: the profile's)")
    ap.add_argument("--target", type=float, default=None,
                    help="training return for the 's to target' column (default per env)")
    ap.add_argument("--only", choices=("ours", "sb3"), default=None)
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes (1 s and 1024 steps per learner, 1 eval episode): "
                         "checks it runs")
    args = ap.parse_args()
    if args.quick:
        args.budget, args.episodes, args.seeds, args.total_steps = 1.0, 1, [0], 1024

    target = args.target if args.target is not None else TARGETS[args.env]
    rows = []
    for seed in args.seeds:
        cfg = load_cfg(args.env, seed, args.total_steps)
        for name, fn in (("pitwall", run_ours), ("sb3", run_sb3)):
            if args.only and (args.only == "ours") != (name == "pitwall"):
                continue
            r = fn(cfg, args.budget, args.episodes, target)
            rows.append((name, seed, cfg, r))
            print("%s seed %d: %d steps in %.1f s, eval %.1f" % (
                name, seed, r["steps"], r["wall"], statistics.mean(r["returns"])), flush=True)

    cfg0 = rows[0][2]
    print()
    print("%s, budget %.0f s per learner, step cap %d, %d envs x %d steps, %d epochs x %d "
          "minibatches, hidden %s, deterministic eval over %d episodes"
          % (args.env, args.budget, cfg0.total_steps, cfg0.num_envs, cfg0.rollout_steps,
             cfg0.ppo.epochs, cfg0.ppo.minibatches, cfg0.ppo.hidden, args.episodes))
    print()
    print("| learner | seed | wall s | env steps | steps/s | %32s | eval return mean |   std |"
          % ("s to train return >= %g" % target))
    print("|---------|-----:|-------:|----------:|--------:|%s:|-----------------:|------:|"
          % ("-" * 33))
    for name, seed, _, r in rows:
        tt = "%.1f" % r["to_target"] if r["to_target"] is not None else "not reached"
        print("| %-7s | %4d | %6.1f | %9d | %7.0f | %32s | %16.1f | %5.1f |"
              % (name, seed, r["wall"], r["steps"], r["steps"] / r["wall"], tt,
                 statistics.mean(r["returns"]), float(np.std(r["returns"]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
