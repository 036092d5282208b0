"""``python -m runners.maniskill train``: PPO on a ManiSkill task, headless.

One update (an *epoch* in the seed's CSV) = ``rollout_steps`` steps of the batched env, then
``ppo.epochs`` passes of minibatch SGD. After every update: ``metrics.jsonl`` + TensorBoard with
ManiSkill's baseline tags (``train/return``, ``train/success_once``, ``losses/*``,
``charts/SPS`` ...), a row of ``training_log.csv`` with the seed's columns, one line on stdout;
a checkpoint every ``save_every`` updates and at the end. SIGINT/SIGTERM end the current env
step, save, and exit 0 (a half-collected rollout is dropped, not learned from).
"""
from __future__ import annotations

import collections
import random
import sys
import time
from pathlib import Path
from typing import IO, Any, Deque, Dict, List, Optional, Union

import numpy as np
import torch

from runners.protocol import CheckpointLoadError, MetricWriter, RunPaths, save_torch_checkpoint
from runners.protocol.training_csv import TrainingCsv
from runners.sdk.stop_flag import StopFlag
from runners.sdk.torch_runtime import cpu_copy, pick_device, set_torch_threads

from .agent import Agent
from .checkpoint import agent_from_payload, policy_payload, read_checkpoint
from .config import RunnerConfig, check_batch
from .envs import Step, episode_means, make_training_envs
from .observations import Obs, select
from .ppo import Rollout, UpdateStats, ppo_update
from .tasks import choose_sim_backend
from .train_videos import TrainingVideos

RECENT_EPISODES = 20   # the checkpoint's headline metrics: means over this many episodes


class Trainer(object):
    def __init__(self, run_dir: Union[str, Path], cfg: RunnerConfig, role: str = "train",
                 stop: Optional[StopFlag] = None, resume: Optional[Union[str, Path]] = None,
                 out: IO[str] = sys.stdout):
        self.paths = RunPaths(run_dir)
        self.cfg = cfg
        self.role = role
        self.stop = stop if stop is not None else StopFlag()
        self.out = out
        self.backend = choose_sim_backend(cfg.sim_backend, self.paths.run_json)
        self.device = pick_device(cfg.device, self.paths.run_json,
                                  auto="cuda" if self.backend == "physx_cuda" else "cpu")
        self.num_envs = cfg.envs_for(self.backend)
        check_batch(cfg, self.num_envs, self.paths.run_json)
        self.threads = set_torch_threads(cfg.torch_threads)
        random.seed(cfg.seed)
        np.random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.step = 0
        self.update = 0
        self.episodes = 0
        self.recent = collections.deque(maxlen=RECENT_EPISODES)  # type: Deque[Dict[str, float]]
        self.last_saved_step = -1
        self.resumed_from = None  # type: Optional[Path]
        self.csv = TrainingCsv(self.paths.root) if cfg.log_csv else None
        self.envs = make_training_envs(cfg, self.backend, self.num_envs, self.device)
        try:
            self._build(resume)
        except BaseException:
            self.envs.close()
            raise
        self.videos = None  # type: Optional[TrainingVideos]
        if cfg.video.record_video:
            self.videos = TrainingVideos(self.paths.root, cfg.video, out=out)
            self.videos.resume_from(self.episodes)

    def _build(self, resume: Optional[Union[str, Path]]) -> None:
        p = self.cfg.ppo
        self.agent = Agent(self.envs.spec, self.envs.act_dim, p.hidden,
                           p.init_log_std).to(self.device)
        self.optimizer = torch.optim.Adam(self.agent.parameters(), lr=p.lr, eps=1e-5)
        self.rollout = Rollout(self.cfg.rollout_steps, self.num_envs, self.envs.spec,
                               self.envs.act_dim, self.device)
        if resume is not None:
            self._restore(Path(resume))

    # ------------------------------------------------------------------ resume / save
    def _restore(self, path: Path) -> None:
        data = read_checkpoint(path, self.cfg.env_id, self.cfg.obs_mode, self.envs.spec,
                               self.envs.act_dim)
        if [int(h) for h in data["agent"]["hidden"]] != list(self.cfg.ppo.hidden):
            raise CheckpointLoadError(path, "network hidden sizes %s differ from run.json "
                                      "params.ppo.hidden %s" % (data["agent"]["hidden"],
                                                                self.cfg.ppo.hidden))
        self.agent.load_state_dict(agent_from_payload(data, path).state_dict())
        if "optimizer" in data:
            self.optimizer.load_state_dict(data["optimizer"])
        self.step = int(data["step"])
        self.update = int(data.get("update", 0))
        self.episodes = int(data.get("episodes", 0))
        self.recent.extend(dict(r) for r in data.get("recent", []) if isinstance(r, dict))
        rng = data.get("torch_rng")
        if isinstance(rng, torch.Tensor):
            torch.set_rng_state(rng)
        self.generator.manual_seed(self.cfg.seed + self.update)
        self.last_saved_step = self.step
        self.resumed_from = path

    def policy_snapshot(self, step: int) -> Dict[str, Any]:
        """What a video recorder needs of the live policy (no optimizer state)."""
        return policy_payload(self.agent, self.cfg.env_id, self.cfg.obs_mode,
                              self.cfg.control_mode, step, self.episodes)

    def save(self) -> Path:
        payload = self.policy_snapshot(self.step)
        payload.update(update=self.update, total_steps=self.cfg.total_steps, seed=self.cfg.seed,
                       sim_backend=self.backend, num_envs=self.num_envs,
                       optimizer=cpu_copy(self.optimizer.state_dict()),
                       torch_rng=torch.get_rng_state(), recent=[dict(r) for r in self.recent])
        path = save_torch_checkpoint(self.paths.root, payload, self.step, epoch=self.update,
                                     metrics=self.headline(), keep_last=self.cfg.keep_last)
        self.last_saved_step = self.step
        self.say("saved %s (step %d)" % (path.name, self.step))
        return path

    def headline(self) -> Dict[str, float]:
        if not self.recent:
            return {}
        out = {}
        for key in ("return", "success_once"):
            vals = [r[key] for r in self.recent if key in r]
            if vals:
                out["train/" + key] = float(np.mean(vals))
        return out

    # ------------------------------------------------------------------ loop
    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.cfg.rollout_steps

    def run(self) -> int:
        cfg = self.cfg
        writer = MetricWriter(self.paths.root, self.role)
        try:
            if self.step >= cfg.total_steps:
                self.say("nothing to do: step %d already reaches total_steps %d"
                         % (self.step, cfg.total_steps))
                return 0
            obs = self.envs.reset(seed=cfg.seed + 1000 * self.update)
            self.say("Training started: %s (%s obs, %s), %s with %d envs x %d steps, device %s, "
                     "%d torch threads, step %d/%d%s"
                     % (cfg.env_id, cfg.obs_mode, cfg.control_mode, self.backend,
                        self.num_envs, cfg.rollout_steps, self.device, self.threads, self.step,
                        cfg.total_steps, ", resumed from %s" % self.resumed_from
                        if self.resumed_from else ""))
            self.say("Training will save to: %s" % self.paths.nn_dir)
            total_updates = self.update + -(-(cfg.total_steps - self.step) // self.batch_size)
            start_step, start = self.step, time.perf_counter()
            while self.step < cfg.total_steps and not self.stop.is_set():
                t0 = time.perf_counter()
                lr = self._anneal_lr()
                obs, finished, video = self._collect(obs)
                if not self.rollout.full:
                    break  # stopped mid-rollout: drop it
                t1 = time.perf_counter()
                with torch.no_grad():
                    last_v = self.agent.value(obs)
                self.rollout.compute_gae(last_v, cfg.ppo.gamma, cfg.ppo.gae_lambda)
                self.agent.train()
                stats = ppo_update(self.agent, self.optimizer, self.rollout, cfg.ppo,
                                   self.generator)
                self.agent.eval()
                t2 = time.perf_counter()
                self.step += self.batch_size
                self.update += 1
                sps = (self.step - start_step) / max(time.perf_counter() - start, 1e-9)
                self._log(writer, stats, lr, finished, video, t1 - t0, t2 - t1, sps,
                          total_updates)
                if cfg.save_every and self.update % cfg.save_every == 0:
                    self.save()
            if self.last_saved_step != self.step:
                self.save()
            if self.videos is not None:
                self.videos.close(drain=not self.stop.is_set())
            if self.stop.is_set():
                self.say("stopped by %s at step %d; final checkpoint saved"
                         % (self.stop.name, self.step))
            else:
                self.say("Training finished at step %d" % self.step)
            return 0
        finally:
            if self.videos is not None:
                self.videos.close(drain=False)
            writer.close()
            self.envs.close()

    def _anneal_lr(self) -> float:
        p = self.cfg.ppo
        lr = p.lr
        if p.anneal_lr:
            lr = p.lr * max(1.0 - self.step / float(self.cfg.total_steps), 0.0)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        return lr

    def _collect(self, obs: Obs) -> Any:
        """Fill the rollout; returns (next obs, episode metrics of finished episodes, whether a
        training video was triggered)."""
        ro, cfg = self.rollout, self.cfg
        ro.reset()
        finished = []  # type: List[Dict[str, torch.Tensor]]
        video = False
        for t in range(cfg.rollout_steps):
            action, logp, value = self.agent.act(obs)
            st = self.envs.step(action)
            i = ro.add(obs, action, logp, value, st.reward * cfg.reward_scale,
                       torch.logical_or(st.terminated, st.truncated))
            if len(st.done_idx):
                self._bootstrap(i, st)
                finished.append(st.episodes)
                self._count_episodes(st)
                if self.videos is not None and self.videos.due(self.episodes):
                    video |= self.videos.on_episodes(
                        self.episodes, self.step + (t + 1) * self.num_envs,
                        self.policy_snapshot)
            obs = st.obs
            if self.stop.is_set():
                break
        return obs, finished, video

    def _bootstrap(self, t: int, st: Step) -> None:
        """V(final obs) for the finished envs the config bootstraps."""
        assert st.final_obs is not None
        if self.cfg.ppo.bootstrap_at_done == "always":
            which = torch.ones(len(st.done_idx), dtype=torch.bool, device=st.done_idx.device)
        else:
            which = torch.logical_not(st.terminated[st.done_idx])
        if not bool(which.any()):
            return
        with torch.no_grad():
            v = self.agent.value(select(st.final_obs, which))
        self.rollout.bootstrap(t, st.done_idx[which], v)

    def _count_episodes(self, st: Step) -> None:
        n = len(st.done_idx)
        self.episodes += n
        cols = {k: v.tolist() for k, v in st.episodes.items()}
        for j in range(n):
            self.recent.append({k: float(v[j]) for k, v in cols.items() if j < len(v)})

    def _log(self, writer: MetricWriter, stats: UpdateStats, lr: float,
             finished: List[Dict[str, torch.Tensor]], video: bool, rollout_dt: float,
             update_dt: float, sps: float, total_updates: int) -> None:
        m = dict(stats.as_metrics())
        ep = episode_means(finished)
        for k, v in ep.items():
            m["train/" + k] = v
        n_done = sum(len(next(iter(e.values()))) for e in finished if e)
        m["train/episodes"] = float(n_done)
        m["train/episodes_total"] = float(self.episodes)
        m["charts/learning_rate"] = lr
        m["charts/SPS"] = sps
        m["time/rollout_time"] = rollout_dt
        m["time/update_time"] = update_dt
        m["time/rollout_fps"] = self.batch_size / max(rollout_dt, 1e-9)
        m["train/action_std"] = float(torch.exp(self.agent.actor_logstd).mean().item())
        if self.videos is not None:
            m["video/triggered"] = float(len(self.videos.triggered))
            m["video/skipped"] = float(self.videos.skipped)
        writer.log(self.step, m)
        if self.csv is not None:
            self.csv.write({"epoch": self.update, "episode": self.episodes,
                            "avg_reward": ep.get("return"),
                            "success_rate": ep.get("success_once"), "steps": self.step,
                            "actor_loss": stats.policy_loss, "critic_loss": stats.value_loss,
                            "video_recorded": video})
        ret = ("return %7.3f  success %.2f (%d episodes)"
               % (ep["return"], ep.get("success_once", float("nan")), n_done)
               if "return" in ep else "no episode ended")
        self.say("Epoch: %d/%d, global_step=%d  %s  pi %+.4f  v %.4f  kl %.4f  clip %.3f  "
                 "lr %.2e  SPS %.0f" % (self.update, total_updates, self.step, ret,
                                        stats.policy_loss, stats.value_loss, stats.approx_kl,
                                        stats.clipfrac, lr, sps))
