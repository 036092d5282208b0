"""The SERL runner (runners/serl): transport cost, weight broadcast latency, and learning on
Ant-v5 against stable-baselines3 SAC at equal wall time. Prints three tables.

1. Actor env steps/s: the actor's per-step work alone (env step, observation flattening,
   transition batching; no sockets) vs the real actor process talking to a real learner
   process (launched by the control center's core, as ``pitwall launch serl/ant`` does), once
   with a learner that does not train (the transport alone) and once with a training learner.
2. Weight broadcast learner -> actor on loopback: serialise the actor network, PUB, SUB
   (CONFLATE), decode, load into the actor's network; p50 / p95 / max.
3. Learning at equal wall time: async SAC (learner + actor processes, the profile's defaults)
   vs SB3 SAC (same lr, batch, network, warm-up, target entropy, one torch thread), each then
   evaluated deterministically on the same seeded episodes.

    python benchmarks/bench_serl.py [--quick] [--budget 600] [--episodes 5] [--only ...]

Table 3 needs the ``bench`` extra (stable-baselines3); without it that row says so.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.chdir(str(REPO))  # the profile search finds ./configs

import numpy as np  # noqa: E402
import torch  # noqa: E402

from runners.protocol import parse_metric_line  # noqa: E402
from runners.serl.actor import Transitions  # noqa: E402
from runners.serl.checkpoint import load_policy  # noqa: E402
from runners.serl.env_spec import EnvSpec  # noqa: E402
from runners.serl.envs import make_env  # noqa: E402
from runners.serl.policy import ActorPolicy, load_weights_arrays, weights_arrays  # noqa: E402
from runners.serl.sac import Actor as ActorNet  # noqa: E402
from runners.serl.transport import LearnerLink, LearnerServer  # noqa: E402
from runners.serl.wire import decode, encode  # noqa: E402

EVAL_SEED = 10_000
# what tests/test_benchmarks_quick.py needs installed to run this one (the ``serl`` extra)
OPTIONAL_DEPENDENCIES = ["zmq"]


def table(title: str, header: List[str], rows: List[List[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("\n" + title)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    sys.stdout.flush()


# --------------------------------------------------------------------------- 1. actor speed

def actor_alone(env_id: str, seconds: float, use_policy: bool, hidden: List[int]
                ) -> Dict[str, float]:
    torch.set_num_threads(1)
    env = make_env(env_id)
    spec = EnvSpec.of_env(env_id, env)
    policy = ActorPolicy(ActorNet(spec.obs_dim, spec.act_dim, hidden), spec.layout,
                         spec.act_low, spec.act_high)
    pending = Transitions()
    obs, _ = env.reset(seed=0)
    flat = spec.layout.flatten(obs)
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        a = policy.act(obs) if use_policy else env.action_space.sample()
        nxt, r, term, trunc, _ = env.step(a)
        nflat = spec.layout.flatten(nxt)
        pending.add(flat, np.asarray(a, np.float32), nflat, float(r), bool(term), False)
        obs = env.reset()[0] if term or trunc else nxt
        flat = spec.layout.flatten(obs)
        n += 1
        if n % 50 == 0:
            pending.take()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    env.close()
    return {"wall": n / wall, "cpu": n / cpu}


def actor_with_learner(env_id: str, seconds: float, train: bool, overrides: List[str]
                       ) -> Dict[str, Any]:
    from tui.core.launch import launch
    from tui.core.run_control import stop_run

    root = Path(tempfile.mkdtemp(prefix="pitwall-bench-serl-"))
    ov = ["env=%s" % env_id, "eval_period=0", "actor_log_period=500", "random_steps=1000",
          "training_starts=%d" % (1000 if train else 10 ** 9)] + overrides
    run = launch("serl/ant", ov, root).run_dir
    time.sleep(seconds)
    stop_run(run)
    rates = []
    for line in (run / "metrics.jsonl").read_bytes().split(b"\n")[:-1]:
        rec = parse_metric_line(line)
        m = rec.metrics
        if rec.role == "actor" and "actor/steps_per_s" in m:
            rates.append((m["actor/exploration_phase"], m["actor/steps_per_s"],
                          m["actor/steps_per_cpu_s"]))
    shutil.rmtree(str(root), ignore_errors=True)
    out = {}  # type: Dict[str, Any]
    for name, phase in (("policy", 0.0), ("random", 1.0)):
        rows = [r for r in rates if r[0] == phase][1:]  # the first period mixes both
        out[name] = {"wall": statistics.median(r[1] for r in rows),
                     "cpu": statistics.median(r[2] for r in rows)} if rows else None
    return out


def transport_work(obs_dim: int, act_dim: int, steps: int, every: int = 50,
                   poll_every: int = 25) -> Dict[str, float]:
    """The actor thread's own CPU per env step (``time.thread_time``: the ZeroMQ I/O thread
    and the receiving server are not counted) for batching alone, and for batching + encoding
    + pushing to a real PULL socket + polling the weights socket, as the actor does."""
    server = LearnerServer("127.0.0.1", lambda m: ("status", {}), lambda m: None).start()
    link = LearnerLink({k: "tcp://127.0.0.1:%d" % p for k, p in server.ports.items()})
    obs = np.random.rand(obs_dim).astype(np.float32)
    act = np.random.rand(act_dim).astype(np.float32)
    out = {}
    try:
        time.sleep(0.5)  # connected
        for mode in ("batching", "sockets"):
            rows = Transitions()
            t0 = time.thread_time()
            for i in range(1, steps + 1):
                rows.add(obs, act, obs, 0.0, False, False)
                if i % every == 0:
                    batch = rows.take()
                    if mode == "sockets":
                        link.push(encode("transitions", {"total_steps": i}, batch))
                if mode == "sockets" and i % poll_every == 0:
                    link.recv_weights()
            out[mode] = (time.thread_time() - t0) / steps * 1e6
    finally:
        link.close()
        server.close()
    return out


# --------------------------------------------------------------------------- 2. broadcast

def broadcast(obs_dim: int, act_dim: int, hidden: List[int], n: int) -> Dict[str, float]:
    src = ActorNet(obs_dim, act_dim, hidden)
    dst = ActorNet(obs_dim, act_dim, hidden)
    server = LearnerServer("127.0.0.1", lambda m: ("status", {}), lambda m: None).start()
    link = LearnerLink({k: "tcp://127.0.0.1:%d" % p for k, p in server.ports.items()})
    try:
        deadline = time.monotonic() + 10  # the SUB needs a moment to join
        while link.recv_weights() is None:
            if time.monotonic() > deadline:
                raise RuntimeError("the subscriber never joined")
            server.publish(encode("weights", {"warmup": 1}))
            time.sleep(0.05)
        time.sleep(0.2)
        link.recv_weights()  # drop a late warm-up frame
        lat, size = [], 0
        for i in range(n):
            t0 = time.perf_counter()
            frame = encode("weights", {"version": i}, weights_arrays(src))
            server.publish(frame)
            got = None
            while got is None:  # the actor's way: non-blocking receives (poll() is unreliable
                got = link.recv_weights()  # on a CONFLATE socket)
                if got is None and time.perf_counter() - t0 > 5:
                    raise RuntimeError("weights did not arrive")
            msg = decode(got, kinds=("weights",))
            load_weights_arrays(dst, msg.arrays)
            lat.append(time.perf_counter() - t0)
            size = len(frame)
        lat.sort()
        return {"mb": size / 1e6, "p50": lat[len(lat) // 2] * 1e3,
                "p95": lat[int(len(lat) * 0.95) - 1] * 1e3, "max": lat[-1] * 1e3}
    finally:
        link.close()
        server.close()


# --------------------------------------------------------------------------- 3. learning

def evaluate(env_id: str, act: Any, episodes: int) -> List[float]:
    env = make_env(env_id)
    out = []
    for i in range(episodes):
        obs, _ = env.reset(seed=EVAL_SEED + i)
        total, done = 0.0, False
        while not done:
            obs, r, term, trunc, _ = env.step(act(obs))
            total += float(r)
            done = bool(term or trunc)
        out.append(total)
    env.close()
    return out


def learn_ours(env_id: str, budget: float, episodes: int, overrides: List[str]
               ) -> Dict[str, Any]:
    from tui.core.launch import launch
    from tui.core.run_control import stop_run

    root = Path(tempfile.mkdtemp(prefix="pitwall-bench-serl-learn-"))
    t0 = time.perf_counter()
    run = launch("serl/ant", ["env=%s" % env_id, "eval_period=0", "checkpoint_period=0"]
                 + overrides, root).run_dir
    time.sleep(max(0.0, budget - (time.perf_counter() - t0)))
    stop_run(run)
    wall = time.perf_counter() - t0
    final = run / "nn" / "final_model.pth"
    try:
        if not final.exists():
            return {"wall": wall, "returns": [], "steps": 0, "updates": 0, "train": None}
        policy, updates = load_policy(final)
        steps, train = 0, None
        for line in (run / "metrics.jsonl").read_bytes().split(b"\n")[:-1]:
            rec = parse_metric_line(line)
            if rec.role == "actor":
                steps = max(steps, rec.step)
                train = rec.metrics.get("actor/avg_episode_reward_10", train)
        return {"wall": wall, "steps": steps, "updates": updates, "train": train,
                "returns": evaluate(env_id, lambda o: policy.act(o, True), episodes)}
    finally:
        shutil.rmtree(str(root), ignore_errors=True)


def learn_sb3(env_id: str, budget: float, episodes: int, quick: bool) -> Optional[Dict[str, Any]]:
    try:
        from stable_baselines3 import SAC as SB3SAC
        from stable_baselines3.common.callbacks import BaseCallback
    except ImportError:
        return None
    import gymnasium as gym

    torch.set_num_threads(1)
    env = gym.make(env_id)
    act_dim = env.action_space.shape[0]
    starts = 200 if quick else 5000
    model = SB3SAC("MlpPolicy", env, learning_rate=3e-4, batch_size=256, buffer_size=1_000_000,
                   learning_starts=starts, gamma=0.99, tau=0.005, train_freq=1,
                   gradient_steps=1, ent_coef="auto", target_entropy=-act_dim / 2.0,
                   policy_kwargs={"net_arch": [256, 256]}, device="cpu", seed=0, verbose=0)

    class Budget(BaseCallback):
        def __init__(self, seconds: float):
            super().__init__()
            self.deadline = time.perf_counter() + seconds

        def _on_step(self) -> bool:
            return time.perf_counter() < self.deadline

    t0 = time.perf_counter()
    model.learn(total_timesteps=10 ** 9, callback=Budget(budget))
    wall = time.perf_counter() - t0
    eps = [e["r"] for e in list(model.ep_info_buffer)[-10:]]
    res = {"wall": wall, "steps": int(model.num_timesteps),
           "updates": int(getattr(model, "_n_updates", 0)),
           "train": float(np.mean(eps)) if eps else None,
           "returns": evaluate(env_id, lambda o: model.predict(o, deterministic=True)[0],
                               episodes)}
    env.close()
    return res


def _fmt(x: Optional[float], spec: str = "%.0f") -> str:
    return "-" if x is None else spec % x


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds each")
    ap.add_argument("--env", default="Ant-v5")
    ap.add_argument("--budget", type=float, default=600.0, help="learning: wall seconds each")
    ap.add_argument("--speed-seconds", type=float, default=60.0)
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--only", choices=("speed", "broadcast", "learning"), action="append")
    ap.add_argument("--control-hz", type=float, default=0.0,
                    help="learning: pace our actor at this rate (0 = free-running)")
    ap.add_argument("--no-sb3", action="store_true", help="learning: ours only")
    args = ap.parse_args()
    only = set(args.only or ("speed", "broadcast", "learning"))
    small = ["sac.hidden=[32,32]", "batch_size=32", "replay_buffer_capacity=50000"] \
        if args.quick else []
    hidden = [32, 32] if args.quick else [256, 256]
    if args.quick:
        args.budget, args.speed_seconds, args.episodes = 8.0, 2.0, 1
    print("bench_serl: %s, %d cores, torch %s%s" % (args.env, os.cpu_count() or 0,
                                                    torch.__version__,
                                                    " (--quick)" if args.quick else ""))
    if "speed" in only:
        alone_r = actor_alone(args.env, args.speed_seconds, False, hidden)
        alone_p = actor_alone(args.env, args.speed_seconds, True, hidden)
        idle = {"random": None, "policy": None} if args.quick else \
            actor_with_learner(args.env, args.speed_seconds + 10, False, small)
        busy = actor_with_learner(args.env, args.speed_seconds + (8 if args.quick else 15),
                                  True, small)
        def row(name: str, actions: str, r: Optional[Dict[str, float]],
                base: Dict[str, float]) -> List[str]:
            if r is None:
                return [name, actions, "-", "-", "-", "-"]
            return [name, actions, "%.0f" % r["wall"], "%.2f" % (r["wall"] / base["wall"]),
                    "%.0f" % r["cpu"], "%.2f" % (r["cpu"] / base["cpu"])]

        rows = [row("alone (no sockets)", "random", alone_r, alone_r),
                row("alone (no sockets)", "policy", alone_p, alone_p),
                row("with an idle learner (transport only)", "random", idle["random"], alone_r),
                row("with a training learner", "random", busy["random"], alone_r),
                row("with a training learner", "policy", busy["policy"], alone_p)]
        table("1. actor env steps/s (%s; medians of 500-step periods; per wall second, and per "
              "CPU second of the actor process)" % args.env,
              ["actor", "actions", "steps/s", "vs alone", "steps/cpu-s", "vs alone"], rows)
        work = transport_work(105, 8, 2000 if args.quick else 50000)
        per_step = {"random": 1e6 / alone_r["cpu"], "policy": 1e6 / alone_p["cpu"]}
        sockets = work["sockets"] - work["batching"]
        table("1b. the actor thread's CPU per env step (us): the sockets' share",
              ["work", "us/step", "of a random-action step", "of a policy step"],
              [["env step + actions (alone, above)", "-", "%.0f" % per_step["random"],
                "%.0f" % per_step["policy"]],
               ["batching transitions (both)", "%.1f" % work["batching"], "", ""],
               ["encode + push + poll weights (transport)", "%.1f" % sockets,
                "%.1f%%" % (100 * sockets / per_step["random"]),
                "%.1f%%" % (100 * sockets / per_step["policy"])]])
    if "broadcast" in only:
        n = 20 if args.quick else 300
        rows = []
        for h in ([[32, 32]] if args.quick else [[256, 256], [512, 512]]):
            r = broadcast(105, 8, h, n)
            rows.append(["%s (Ant actor)" % h, "%.2f" % r["mb"], "%.2f" % r["p50"],
                         "%.2f" % r["p95"], "%.2f" % r["max"]])
        table("2. weight broadcast learner -> actor, loopback (%d publishes; ms, incl. "
              "serialise + decode + load)" % n, ["network", "MB", "p50", "p95", "max"], rows)
    if "learning" in only:
        ours = learn_ours(args.env, args.budget, args.episodes,
                          small + (["random_steps=200", "training_starts=200"]
                                   if args.quick else [])
                          + ["control_hz=%g" % args.control_hz])
        sb3 = None if args.no_sb3 else learn_sb3(args.env, args.budget, args.episodes,
                                                 args.quick)
        rows = []
        pace = (", actor at %g Hz" % args.control_hz) if args.control_hz else ""
        for name, r in (("pitwall serl (async, 2 processes%s)" % pace, ours),
                        ("stable-baselines3 SAC (1 process)", sb3)):
            if r is None and args.no_sb3:
                continue
            if r is None:
                rows.append([name, "not installed (bench extra)", "", "", "", ""])
                continue
            ret = r["returns"]
            rows.append([name, "%.0f" % r["wall"], str(r["steps"]), str(r["updates"]),
                         _fmt(r["train"], "%.1f"),
                         "%.1f +- %.1f" % (np.mean(ret), np.std(ret)) if ret else "-"])
        table("3. learning on %s at equal wall time (%.0f s each; eval: %d deterministic "
              "episodes)" % (args.env, args.budget, args.episodes),
              ["learner", "wall s", "env steps", "updates", "train return(10)",
               "eval return"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
