"""AMP + PPO in JAX (runners/amp) on a gymnasium walker: throughput, then learning in a budget.

1. Samples per second over the same batch of envs (``GymWalkers``, one process): the envs alone
   with random actions; a plain jitted rollout loop (the runner's actor network, jitted, acting
   on the batch, nothing else); the runner's rollout (policy + values + log-probs, the
   discriminator's kinematic frames and histories); the runner's whole iteration (rollout +
   discriminator observations, rewards, GAE and the jitted AMP/PPO update), compile excluded.
2. Task return and discriminator reward against samples: the runner (the profile
   ``locomujoco/walker2d_amp``, a scripted reference gait) trained for ``--budget`` seconds of
   wall time, then its last checkpoint evaluated deterministically; a random policy's return
   for scale.

    python benchmarks/bench_amp.py [--quick] [--env Walker2d-v5] [--budget 600] [--seed 0]

``--quick`` runs tiny sizes in well under a minute (what the test suite runs).
"""
from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("JAX_PLATFORMS", "cpu")
TEMP = []  # type: List[str]
# what tests/test_benchmarks_quick.py needs installed to run this one (the ``jax`` extra)
OPTIONAL_DEPENDENCIES = ["jax", "flax", "optax"]


def tempdir(prefix: str) -> str:
    """A temporary directory removed when the benchmark ends."""
    d = tempfile.mkdtemp(prefix=prefix)
    TEMP.append(d)
    return d


atexit.register(lambda: [shutil.rmtree(d, ignore_errors=True) for d in TEMP])
# the second trainer reuses the first one's compiled programs
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempdir("pitwall-jax-")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

import numpy as np  # noqa: E402


def table(rows: List[List[Any]], head: List[str]) -> str:
    cells = [head] + [[str(c) for c in r] for r in rows]
    w = [max(len(r[i]) for r in cells) for i in range(len(head))]
    out = ["  ".join(c.rjust(w[i]) for i, c in enumerate(r)) for r in cells]
    out.insert(1, "  ".join("-" * x for x in w))
    return "\n".join(out)


def make_cfg(env_id: str, overrides: List[str]) -> Any:
    from runners.amp.config import parse_params
    from tui.core.profiles import resolve_profile

    rp = resolve_profile("locomujoco/walker2d_amp", ["env_id=%s" % env_id] + overrides)
    return rp, parse_params(rp.params, "bench")


def make_run(root: Path, rp: Any) -> Path:
    from runners.protocol import (ProcessSpec, RunRecord, create_run_dir, now_iso,
                                  write_run_record)

    run = create_run_dir(root, rp.experiment)
    write_run_record(run, RunRecord(
        name=run.name, experiment=rp.experiment, profile_name=rp.name, backend="amp",
        params=rp.params, processes=[ProcessSpec(role="train", argv=["bench"], cwd=str(run))],
        created_at=now_iso(), profile=rp.profile.model_dump(mode="json")))
    return run


# --------------------------------------------------------------------------- 1. throughput

def throughput(env_id: str, overrides: List[str], steps: int, iters: int) -> List[List[Any]]:
    import jax
    import jax.numpy as jnp

    from runners.amp.networks import MLP
    from runners.amp.train import Trainer
    from runners.sdk.stop_flag import StopFlag

    rp, cfg = make_cfg(env_id, overrides)
    run = make_run(Path(tempdir("pitwall-bench-amp-")), rp)
    tr = Trainer(run, cfg, stop=StopFlag(), out=open(os.devnull, "w"))
    envs, col, n = tr.envs, tr.collector, cfg.ppo.num_envs

    def timed(fn: Any, samples: int) -> float:
        t0 = time.perf_counter()
        fn()
        return samples / (time.perf_counter() - t0)

    rng = np.random.default_rng(0)
    sps_env = timed(lambda: [envs.step(rng.uniform(-1, 1, (n, envs.act_dim)))
                             for _ in range(steps)], steps * n)
    net = MLP(tuple(cfg.model.actor_hidden_layers), envs.act_dim, cfg.model.activation)
    params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, envs.obs_dim)))["params"]
    act = jax.jit(lambda p, x: net.apply({"params": p}, x))
    obs = envs.reset(0)[0]
    np.asarray(act(params, obs))

    def plain() -> None:
        o = obs
        for _ in range(steps):
            o = envs.step(np.asarray(act(params, o))).obs

    sps_plain = timed(plain, steps * n)
    tr._learn(col.collect(cfg.ppo.steps_per_iter, lambda: False))   # compile everything
    sps_roll = timed(lambda: col.collect(steps, lambda: False), steps * n)
    t0 = time.perf_counter()
    for _ in range(iters):
        tr._learn(col.collect(cfg.ppo.steps_per_iter, lambda: False))
    sps_iter = iters * cfg.batch_size / (time.perf_counter() - t0)
    envs.close()
    rows = []
    for name, sps in (("envs alone, random actions", sps_env),
                      ("plain jitted rollout loop", sps_plain),
                      ("runner rollout (policy, values, disc frames)", sps_roll),
                      ("runner iteration (rollout + AMP/PPO update)", sps_iter)):
        rows.append([name, "%.0f" % sps, "%.0f %%" % (100.0 * sps / sps_plain)])
    return rows


# --------------------------------------------------------------------------- 2. learning

def evaluate(run: Path, cfg: Any, episodes: int) -> float:
    from runners.amp.playback import AmpPlayback
    from runners.sdk import PlayContext

    pb = AmpPlayback(PlayContext(run, cfg, "record"), deterministic=True)
    policy, _ = pb.load(run / "nn" / "latest.pkl")
    env = pb.make_env()
    rets = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=10000 + ep)
        pb.activate(policy)
        done, ret = False, 0.0
        while not done:
            obs, r, te, tr, _ = env.step(pb.act(policy, obs))
            ret += float(r)
            done = te or tr
        rets.append(ret)
    pb.close()
    return float(np.mean(rets))


def random_return(env_id: str, episodes: int) -> float:
    import gymnasium

    env = gymnasium.make(env_id)
    rets = []
    for ep in range(episodes):
        env.reset(seed=10000 + ep)
        env.action_space.seed(ep)
        done, ret = False, 0.0
        while not done:
            _o, r, te, tr, _ = env.step(env.action_space.sample())
            ret += float(r)
            done = te or tr
        rets.append(ret)
    env.close()
    return float(np.mean(rets))


def learning(env_id: str, overrides: List[str], budget: float, episodes: int,
             rows_wanted: int) -> Dict[str, Any]:
    from runners.amp.train import Trainer
    from runners.protocol import RunPaths, parse_metric_line
    from runners.sdk.stop_flag import StopFlag

    rp, cfg = make_cfg(env_id, overrides)
    root = Path(tempdir("pitwall-bench-amp-"))
    run = make_run(root, rp)
    stop = StopFlag()
    timer = threading.Timer(budget, stop.request)
    timer.daemon = True
    t0 = time.time()
    timer.start()
    Trainer(run, cfg, stop=stop, out=open(os.devnull, "w")).run()
    timer.cancel()
    wall = time.time() - t0
    recs = [parse_metric_line(x) for x in
            RunPaths(run).metrics_jsonl.read_bytes().split(b"\n") if x.strip()]
    keep = sorted(set(np.linspace(0, len(recs) - 1, min(rows_wanted, len(recs))).astype(int)))
    rows = []
    for i in keep:
        m = recs[i].metrics
        rows.append([recs[i].step, "%.0f" % (recs[i].time - t0),
                     "%.1f" % m.get("reward/episode_task_mean", float("nan")),
                     "%.1f" % m.get("reward/episode_length", float("nan")),
                     "%.3f" % m["reward/disc_mean"],
                     "%.3f" % m["reward/disc_demo_mean"],
                     "%.2f" % m["stats/disc_demo_acc"]])
    return {"rows": rows, "samples": recs[-1].step if recs else 0, "wall": wall,
            "eval": evaluate(run, cfg, episodes), "random": random_return(env_id, episodes),
            "run": run}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes (the test suite)")
    p.add_argument("--env", default="Walker2d-v5")
    p.add_argument("--budget", type=float, default=600.0, help="training wall seconds")
    p.add_argument("--episodes", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.quick:
        small = ["ppo.num_envs=2", "ppo.steps_per_iter=32", "ppo.minibatch_size=32",
                 "ppo.update_epochs=1", "model.actor_hidden_layers=[16]",
                 "model.critic_hidden_layers=[16]", "model.disc_hidden_layers=[16]",
                 "disc.batch_size=32", "disc.buffer_size=256", "disc.replay_samples=32",
                 "ppo.total_timesteps=128", "seed=%d" % args.seed]
        steps, iters, budget, episodes, rows = 32, 1, 30.0, 1, 4
    else:
        small = ["seed=%d" % args.seed, "ppo.total_timesteps=100000000"]
        steps, iters, budget, episodes, rows = 500, 5, args.budget, args.episodes, 12
    import jax

    print("AMP + PPO (JAX %s on %s), %s, %d CPU cores" % (jax.__version__,
                                                           jax.default_backend(), args.env,
                                                           os.cpu_count() or 1))
    print("\n1. samples/s over the same envs (compile excluded)\n")
    print(table(throughput(args.env, small, steps, iters), ["loop", "samples/s",
                                                            "of plain loop"]))
    print("\n2. learning within %.0f s of wall time (task return: the env's own reward; disc "
          "reward: the discriminator's, on the agent / on the reference)\n" % budget)
    res = learning(args.env, small, budget, episodes, rows)
    print(table(res["rows"], ["samples", "wall s", "task return", "ep length",
                              "disc r agent", "disc r ref", "disc acc ref"]))
    print("\n%d samples in %.0f s (%.0f samples/s with updates); last checkpoint, deterministic, "
          "%d episodes: task return %.1f (random policy: %.1f)"
          % (res["samples"], res["wall"], res["samples"] / max(res["wall"], 1e-9), episodes,
             res["eval"], res["random"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
