"""The ManiSkill runner on PushCube-v1 (CPU simulation): what Pitwall costs, and what it learns.

1. **Overhead.** Env steps/s of the same envs and the same PPO, three ways, in steady state
   (SAPIEN's start-up excluded): a plain loop (envs + policy + PPO update, nothing written),
   Pitwall's trainer (``metrics.jsonl`` + TensorBoard + ``training_log.csv`` every update, a
   checkpoint every update), and the trainer recording training videos as often as its recorder
   can (one video asked for every update; the recorder renders in its own process, extra
   requests are skipped). Target: protocol + recording <= 5 %.
2. **Learning.** Pitwall's trainer with the profile's parameters (``configs/maniskill/
   push_cube.yaml``) for a wall-clock budget (20 minutes), then every checkpoint evaluated
   deterministically on the same seeded episodes: success rate against env steps.

    python benchmarks/bench_maniskill.py [--quick] [--budget 1200] [--episodes 20]
        [--only overhead|learning] [--rounds 2] [--envs 8]

Needs the ``maniskill`` extra and a Vulkan driver (``scripts/vulkan_setup.sh``).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from runners.maniskill.config import RunnerConfig, parse_params  # noqa: E402
from runners.protocol import (RunRecord, create_run_dir, list_checkpoints, now_iso,  # noqa: E402
                              parse_metric_line, write_run_record)
from runners.sdk.stop_flag import StopFlag  # noqa: E402
from tui.core.profiles import resolve_profile  # noqa: E402

PROFILE = REPO / "configs" / "maniskill" / "push_cube.yaml"
EVAL_SEED = 10_000


def load_cfg(overrides: List[str]) -> Tuple[RunnerConfig, Dict[str, Any]]:
    rp = resolve_profile(str(PROFILE), overrides)
    return parse_params(rp.params, rp.path), rp.params


def make_run(root: Path, params: Dict[str, Any]) -> Path:
    run = create_run_dir(root, "bench")
    write_run_record(run, RunRecord(name=run.name, experiment="bench", profile_name="bench",
                                    backend="maniskill", params=params, processes=[],
                                    created_at=now_iso()))
    return run


# ------------------------------------------------------------------------------ overhead

def cpu_now() -> Tuple[float, float]:
    """(CPU seconds of this process, of its reaped children): load on other processes of the
    box does not change these, unlike wall-clock steps/s."""
    import resource

    return time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime + \
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime


def plain_loop(cfg: RunnerConfig, updates: int) -> Tuple[float, float]:
    """Envs + policy + PPO update with nothing written: (steady-state env steps/s, CPU
    seconds from the reset to the envs' close, as the trainer's ``run()``)."""
    from runners.maniskill.agent import Agent
    from runners.maniskill.envs import make_training_envs
    from runners.maniskill.ppo import Rollout, ppo_update

    torch.set_num_threads(1)
    torch.manual_seed(cfg.seed)
    dev = torch.device("cpu")
    envs = make_training_envs(cfg, "physx_cpu", cfg.num_envs, dev)
    agent = Agent(envs.spec, envs.act_dim, cfg.ppo.hidden, cfg.ppo.init_log_std)
    opt = torch.optim.Adam(agent.parameters(), lr=cfg.ppo.lr, eps=1e-5)
    ro = Rollout(cfg.rollout_steps, cfg.num_envs, envs.spec, envs.act_dim, dev)
    gen = torch.Generator().manual_seed(cfg.seed)
    c0 = cpu_now()[0]
    obs = envs.reset(seed=cfg.seed)
    t0 = 0.0
    try:
        for u in range(updates + 1):
            if u == 1:
                t0 = time.perf_counter()   # the first update warms everything up
            ro.reset()
            for _ in range(cfg.rollout_steps):
                a, logp, v = agent.act(obs)
                st = envs.step(a)
                t = ro.add(obs, a, logp, v, st.reward, torch.logical_or(st.terminated,
                                                                        st.truncated))
                if len(st.done_idx):
                    with torch.no_grad():
                        ro.bootstrap(t, st.done_idx, agent.value(st.final_obs))
                obs = st.obs
            with torch.no_grad():
                ro.compute_gae(agent.value(obs), cfg.ppo.gamma, cfg.ppo.gae_lambda)
            ppo_update(agent, opt, ro, cfg.ppo, gen)
        sps = updates * cfg.num_envs * cfg.rollout_steps / (time.perf_counter() - t0)
    finally:
        envs.close()   # inside the CPU count, as the trainer's run() closes its envs too
    return sps, cpu_now()[0] - c0


def trainer_sps(root: Path, params: Dict[str, Any], cfg: RunnerConfig
                ) -> Tuple[float, int, float, float]:
    """Pitwall's trainer in-process; steady-state steps/s from its own metric records, and
    the number of training videos it indexed. Steady state: from the end of update 1 (the
    plain loop skips one update too); with videos, from the first indexed video (the
    recorder's one-time renderer start-up, 5-40 s, is not a per-step cost)."""
    from runners.maniskill.train import Trainer
    from runners.protocol import RunPaths, read_video_index

    run = make_run(root, params)
    trainer = Trainer(run, cfg, out=open("/dev/null", "w"))
    c0 = cpu_now()
    trainer.run()
    c1 = cpu_now()
    recs = [parse_metric_line(x) for x in RunPaths(run).metrics_jsonl.read_text().splitlines()]
    videos = read_video_index(run)[0]
    if videos:
        recs = [r for r in recs if r.time >= videos[0].created] or recs[-2:]
    a, b = recs[0], recs[-1]
    return ((b.step - a.step) / max(b.time - a.time, 1e-9), len(videos), c1[0] - c0[0],
            c1[1] - c0[1])


def protocol_work(envs: int, steps: int, n: int = 20) -> Dict[str, float]:
    """What the trainer adds to an update, timed alone (ms): the checkpoint (as
    ``Trainer.save``: the policy, the optimizer, the RNG, atomic write, latest link, index
    line), one metrics record (jsonl + TensorBoard), one CSV row, one video snapshot."""
    from runners.maniskill.agent import Agent
    from runners.maniskill.checkpoint import cpu_copy, policy_payload
    from runners.maniskill.observations import ObsSpec
    from runners.protocol import MetricWriter, save_torch_checkpoint
    from runners.protocol.training_csv import TrainingCsv

    agent = Agent(ObsSpec(35), 8, [256, 256, 256])
    opt = torch.optim.Adam(agent.parameters())
    agent.value(torch.zeros(envs * steps, 35)).sum().backward()
    opt.step()
    d = Path(tempfile.mkdtemp(prefix="pitwall-bench-maniskill-"))
    try:
        def timed(fn: Any) -> Tuple[float, float]:
            c0, w0 = time.process_time(), time.perf_counter()
            for i in range(n):
                fn(i)
            return ((time.process_time() - c0) * 1000.0 / n,
                    (time.perf_counter() - w0) * 1000.0 / n)

        def save(i: int) -> None:
            p = policy_payload(agent, "PushCube-v1", "state", "pd_joint_delta_pos", i, i)
            p.update(optimizer=cpu_copy(opt.state_dict()), torch_rng=torch.get_rng_state())
            save_torch_checkpoint(d, p, i, metrics={"train/return": 1.0})

        writer = MetricWriter(d, "train")
        tags = {"losses/%d" % k: float(k) for k in range(24)}
        csv_log = TrainingCsv(d)
        row = {"epoch": 1, "episode": 8, "avg_reward": 1.0, "success_rate": 0.5,
               "steps": 400, "actor_loss": 0.1, "critic_loss": 0.2, "video_recorded": False}

        def snap(i: int) -> None:
            payload = policy_payload(agent, "PushCube-v1", "state", "x", i, i)
            torch.save(payload, str(d / "snap.pt"))

        save_cpu, save_wall = timed(save)
        log_cpu = timed(lambda i: writer.log(i, tags))[0]
        csv_cpu = timed(lambda i: csv_log.write(row))[0]
        snap_cpu = timed(snap)[0]
        writer.close()
    finally:
        shutil.rmtree(str(d), ignore_errors=True)
    return {"n": n, "save_cpu": save_cpu, "save_wall": save_wall, "log_cpu": log_cpu,
            "csv_cpu": csv_cpu, "snap_cpu": snap_cpu}


def overhead(quick: bool, rounds: int, envs: int) -> None:
    updates = 2 if quick else 30
    steps = 25 if quick else 50
    base = ["num_envs=%d" % envs, "rollout_steps=%d" % steps, "ppo.minibatches=4",
            "ppo.epochs=4", "sim_backend=physx_cpu", "torch_threads=1"]
    total = (updates + 1) * envs * steps
    root = Path(tempfile.mkdtemp(prefix="pitwall-bench-maniskill-"))
    from torch.utils.tensorboard import SummaryWriter  # noqa: F401  (a one-time import, not
    #                                                     a per-step cost: paid before timing)
    names = ("plain loop", "pitwall trainer", "trainer + videos")
    sps = {n: [] for n in names}  # type: Dict[str, List[float]]
    cpu = {n: [] for n in names}  # type: Dict[str, List[float]]
    videos, rec_cpu = [], []  # type: List[int], List[float]
    def run(name: str) -> None:
        if name == names[0]:
            cfg, _p = load_cfg(base)
            s_, c_ = plain_loop(cfg, updates)
        else:
            over = base + ["total_steps=%d" % total, "save_every=1"]
            if name == names[2]:
                over += ["record_video=true", "video_record_interval=%d" % max(1, envs),
                         "max_video_steps=50"]
            cfg, params = load_cfg(over)
            s_, n, c_, k = trainer_sps(root, params, cfg)
            if name == names[2]:
                videos.append(n)
                rec_cpu.append(k)
        sps[name].append(s_)
        cpu[name].append(c_)

    try:
        for r in range(rounds):   # the order alternates: the first run of a process is faster
            for name in (names if r % 2 == 0 else names[::-1]):
                run(name)
    finally:
        shutil.rmtree(str(root), ignore_errors=True)
    plain_sps = statistics.median(sps[names[0]])
    plain_cpu = statistics.median(cpu[names[0]])
    print("\n## Overhead: PushCube-v1, %d CPU envs x %d steps, %d + 1 updates (%d env steps), "
          "median of %d rounds" % (envs, steps, updates, total, rounds))
    print("Wall-clock steps/s depend on what else the box runs; the trainer's own CPU time "
          "does not.")
    print("| variant | env steps/s, steady state (rounds) | vs plain | trainer CPU ms / 1000 "
          "steps (rounds) | vs plain |")
    print("|---|---|---|---|---|")
    for n in names:
        ms = [1000.0 * c / total * 1000.0 for c in cpu[n]]
        print("| %s | %s | %+.1f %% | %s | %+.1f %% |" % (
            n, " ".join("%.0f" % v for v in sps[n]),
            100.0 * (statistics.median(sps[n]) - plain_sps) / plain_sps,
            " ".join("%.0f" % v for v in ms),
            100.0 * (statistics.median(cpu[n]) - plain_cpu) / plain_cpu))
    work = protocol_work(envs, steps)
    print("Pitwall's own work per update, timed alone (%d repetitions): checkpoint %.1f ms CPU "
          "(%.1f ms wall with fsync), metrics.jsonl + TensorBoard %.2f ms, training_log.csv "
          "%.2f ms, video snapshot %.1f ms: %.2f %% of an update of the plain loop's median "
          "CPU, with a checkpoint every update" % (
              work["n"], work["save_cpu"], work["save_wall"], work["log_cpu"], work["csv_cpu"],
              work["snap_cpu"], 100.0 * (work["save_cpu"] + work["log_cpu"] + work["csv_cpu"])
              / (plain_cpu / (updates + 1) * 1000.0)))
    per_video = [c / max(v, 1) for c, v in zip(rec_cpu, videos)]
    print("trainer + videos: %s videos a round (one asked for every update, extras skipped); "
          "the recorder process used %s CPU s a round (renderer start-up included), %s s a "
          "video" % (videos, " ".join("%.1f" % c for c in rec_cpu),
                     " ".join("%.1f" % c for c in per_video)))


# ------------------------------------------------------------------------------ learning

def evaluate(cfg: RunnerConfig, paths: List[Path], episodes: int) -> List[Dict[str, float]]:
    """Deterministic episodes of each checkpoint on the same seeds: success rate, return."""
    from runners.maniskill.checkpoint import load_policy
    from runners.maniskill.envs import make_single_env
    from runners.maniskill.observations import spec_of_space

    env = make_single_env(cfg, render_mode=None)
    spec = spec_of_space(env.observation_space)
    low = np.asarray(env.action_space.low, np.float32)
    high = np.asarray(env.action_space.high, np.float32)
    out = []
    try:
        for p in paths:
            policy, step = load_policy(p, cfg.env_id, cfg.obs_mode, spec, low, high)
            succ, rets = [], []
            for ep in range(episodes):
                obs, _ = env.reset(seed=EVAL_SEED + ep)
                done, total, ok = False, 0.0, False
                while not done:
                    obs, r, term, trunc, info = env.step(policy.act(obs))
                    total += float(r)
                    ok = ok or bool(np.asarray(info.get("success", False)).any())
                    done = bool(term or trunc)
                succ.append(ok)
                rets.append(total)
            out.append({"step": step, "success": float(np.mean(succ)),
                        "return": float(np.mean(rets))})
    finally:
        env.close()
    return out


def learning(quick: bool, budget: float, episodes: int) -> None:
    from runners.maniskill.train import Trainer
    from runners.protocol import RunPaths

    root = Path(tempfile.mkdtemp(prefix="pitwall-bench-maniskill-"))
    over = ["sim_backend=physx_cpu", "total_steps=100000000", "save_every=%d"
            % (2 if quick else 25)]
    if quick:
        over += ["num_envs=2", "rollout_steps=25", "ppo.minibatches=2", "ppo.epochs=2"]
    cfg, params = load_cfg(over)
    try:
        run = make_run(root, params)
        stop = StopFlag()
        timer = threading.Timer(budget, stop.request)
        trainer = Trainer(run, cfg, stop=stop, out=open("/dev/null", "w"))
        t0 = time.monotonic()
        timer.start()
        trainer.run()
        timer.cancel()
        wall = time.monotonic() - t0
        recs = [parse_metric_line(x)
                for x in RunPaths(run).metrics_jsonl.read_text().splitlines()]
        ckpts = [c.path for c in list_checkpoints(RunPaths(run).nn_dir) if not c.is_latest]
        most = 3 if quick else 12
        if len(ckpts) > most:   # evaluate a few, spread over the run, always the last
            idx = np.unique(np.linspace(0, len(ckpts) - 1, most).round().astype(int))
            ckpts = [ckpts[i] for i in idx]
        evals = evaluate(cfg, ckpts, episodes)
    finally:
        shutil.rmtree(str(root), ignore_errors=True)
    train_at = {r.step: r.metrics for r in recs}
    print("\n## Learning: PushCube-v1, profile parameters (%d CPU envs x %d steps, %s), "
          "%.0f s of training (budget %.0f s), %d env steps, %d evaluation episodes per "
          "checkpoint" % (cfg.envs_for("physx_cpu"), cfg.rollout_steps,
                          "ppo epochs %d, minibatches %d" % (cfg.ppo.epochs, cfg.ppo.minibatches),
                          wall, budget, recs[-1].step if recs else 0, episodes))
    print("| env steps | eval success rate | eval return | train success_once (update) |")
    print("|---|---|---|---|")
    for e in evals:
        m = train_at.get(e["step"], {})
        tr = m.get("train/success_once")
        print("| %d | %.2f | %.2f | %s |" % (e["step"], e["success"], e["return"],
                                            "-" if tr is None else "%.2f" % tr))
    if recs:
        sps = recs[-1].metrics.get("charts/SPS", float("nan"))
        print("trainer throughput: %.0f env steps/s (charts/SPS at the end)" % sps)
    print(json.dumps({"final": evals[-1] if evals else None}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    ap.add_argument("--budget", type=float, default=None,
                    help="training seconds for the learning part (default 1200; 10 quick)")
    ap.add_argument("--episodes", type=int, default=None,
                    help="evaluation episodes per checkpoint (default 20; 2 quick)")
    ap.add_argument("--rounds", type=int, default=None, help="overhead rounds (default 4)")
    ap.add_argument("--envs", type=int, default=None, help="overhead envs (default 8; 2 quick)")
    ap.add_argument("--only", choices=("overhead", "learning"), default=None)
    a = ap.parse_args()
    q = a.quick
    print("# bench_maniskill%s (torch %s, %d cores)" % (" --quick" if q else "",
                                                        torch.__version__,
                                                        __import__("os").cpu_count() or 0))
    if a.only in (None, "overhead"):
        overhead(q, a.rounds or (1 if q else 4), a.envs or (2 if q else 8))
    if a.only in (None, "learning"):
        learning(q, a.budget or (10.0 if q else 1200.0), a.episodes or (2 if q else 20))
    return 0


if __name__ == "__main__":
    sys.exit(main())
