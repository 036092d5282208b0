"""``python -m runners.mujoco train``: headless PPO on a gymnasium MuJoCo vector env.

One update = ``rollout_steps`` steps of ``num_envs`` envs, then ``ppo.epochs`` passes of
minibatch SGD. Metrics go to ``metrics.jsonl`` + TensorBoard after every update, one readable
line to stdout, a checkpoint every ``save_every`` updates and at the end. SIGINT/SIGTERM end
the current env step, save, and exit 0 (a half-collected rollout is dropped, not learned from).
"""
from __future__ import annotations

import collections
import sys
import time
from pathlib import Path
from typing import IO, Any, Deque, Dict, Optional, Union

import numpy as np
import torch

from runners.protocol import CKPT_FORMAT, CheckpointLoadError, CheckpointSaveError, \
    MetricWriter, RunPaths, save_torch_checkpoint

from .checkpoint import RUNNER, build_payload, model_from_payload, read_checkpoint
from .config import RunnerConfig
from .envs import final_observations, make_vector_env, space_dims
from .normalize import ObsNormalizer, RewardScaler
from .policy import ActorCritic
from .ppo import RolloutBuffer, UpdateStats, ppo_update
from runners.sdk.stop_flag import StopFlag
from runners.sdk.torch_runtime import cpu_copy, pick_device, set_torch_threads
from .train_videos import TrainingVideos

RECENT_EPISODES = 20  # rollout/ep_return is the mean of this many recent finished episodes


class Trainer(object):
    def __init__(self, run_dir: Union[str, Path], cfg: RunnerConfig, role: str = "train",
                 stop: Optional[StopFlag] = None, resume: Optional[Union[str, Path]] = None,
                 out: IO[str] = sys.stdout):
        self.paths = RunPaths(run_dir)
        self.cfg = cfg
        self.role = role
        self.stop = stop if stop is not None else StopFlag()
        self.out = out
        self.threads = set_torch_threads(cfg.torch_threads)
        self.device = pick_device(cfg.device, self.paths.run_json)
        torch.manual_seed(cfg.seed)
        self.np_rng = np.random.default_rng(cfg.seed)
        self.envs = make_vector_env(cfg.env_id, cfg.num_envs)
        dims = space_dims(self.envs, vector=True)
        self.obs_dim, self.act_dim = dims["obs_dim"], dims["act_dim"]
        self.act_low, self.act_high = dims["act_low"], dims["act_high"]
        p = cfg.ppo
        self.model = ActorCritic(self.obs_dim, self.act_dim, p.hidden,
                                 p.init_log_std).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=p.lr, eps=1e-5)
        self.obs_norm = ObsNormalizer((self.obs_dim,), enabled=p.norm_obs)
        self.reward_norm = RewardScaler(cfg.num_envs, p.gamma, enabled=p.norm_reward)
        self.buf = RolloutBuffer(cfg.rollout_steps, cfg.num_envs, self.obs_dim, self.act_dim)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.step = 0
        self.update = 0
        self.episodes = 0
        self.recent_returns = collections.deque(maxlen=RECENT_EPISODES)  # type: Deque[float]
        self.recent_lengths = collections.deque(maxlen=RECENT_EPISODES)  # type: Deque[float]
        self.last_saved_step = -1
        self.resumed_from = None  # type: Optional[Path]
        self.videos = TrainingVideos(self.paths.root, cfg.video, cfg.env_id) \
            if cfg.video.record_video else None  # type: Optional[TrainingVideos]
        if resume is not None:
            self._restore(Path(resume))
            if self.videos is not None:
                self.videos.resume_from(self.episodes)

    # ------------------------------------------------------------------ resume / save
    def _restore(self, path: Path) -> None:
        data = read_checkpoint(path, self.cfg.env_id, self.obs_dim, self.act_dim)
        if [int(h) for h in data["hidden"]] != list(self.cfg.ppo.hidden):
            raise CheckpointLoadError(path, "network hidden sizes %s differ from run.json "
                                      "params.ppo.hidden %s" % (data["hidden"],
                                                                self.cfg.ppo.hidden))
        self.model.load_state_dict(model_from_payload(data, path).state_dict())
        if "optimizer" in data:
            self.optimizer.load_state_dict(data["optimizer"])
        self.obs_norm.load_state_dict(data["obs_norm"])
        if data.get("reward_norm"):
            self.reward_norm.load_state_dict(data["reward_norm"])
        self.step = int(data["step"])
        self.update = int(data.get("update", 0))
        self.episodes = int(data.get("episodes", 0))
        self.recent_returns.extend(float(x) for x in data.get("recent_returns", []))
        self.recent_lengths.extend(float(x) for x in data.get("recent_lengths", []))
        rng = data.get("torch_rng")
        if isinstance(rng, torch.Tensor):
            torch.set_rng_state(rng)
        self.generator.manual_seed(self.cfg.seed + self.update)  # new minibatch orders
        self.last_saved_step = self.step
        self.resumed_from = path

    def save(self) -> Optional[Path]:
        """Save a checkpoint; a failed save (a full disk) is logged and training goes on: the
        next save tries again. None when it failed."""
        payload = build_payload(self.model, self.optimizer, self.obs_norm,
                                self.reward_norm.state_dict(), self.cfg.env_id, self.step,
                                self.update, self.cfg.total_steps, self.cfg.seed, self.episodes,
                                self.recent_returns, self.recent_lengths)
        try:
            path = save_torch_checkpoint(self.paths.root, payload, self.step, epoch=self.update,
                                         metrics=self.headline(), keep_last=self.cfg.keep_last)
        except CheckpointSaveError as e:
            self.say("checkpoint at step %d NOT saved (%s); training goes on, the next save "
                     "tries again" % (self.step, e))
            if e.saved is None:
                return None
            path = e.saved   # saved, only its index line is missing
        self.last_saved_step = self.step
        self.say("saved %s (step %d)" % (path.name, self.step))
        return path

    def policy_snapshot(self, step: int) -> Dict[str, Any]:
        """What a video recorder needs of the live policy (no optimizer state)."""
        return {"format": CKPT_FORMAT, "runner": RUNNER, "env_id": self.cfg.env_id,
                "obs_dim": self.obs_dim, "act_dim": self.act_dim,
                "hidden": list(self.model.hidden), "step": int(step),
                "episodes": int(self.episodes), "model": cpu_copy(self.model.state_dict()),
                "obs_norm": self.obs_norm.state_dict()}

    def headline(self) -> Dict[str, float]:
        if not self.recent_returns:
            return {}
        return {"rollout/ep_return": float(np.mean(self.recent_returns)),
                "rollout/ep_length": float(np.mean(self.recent_lengths))}

    # ------------------------------------------------------------------ loop
    def say(self, line: str) -> None:
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except OSError:
            pass  # the log is on a full disk: training goes on without this line

    def run(self) -> int:
        cfg = self.cfg
        writer = MetricWriter(self.paths.root, self.role)
        try:
            if self.step >= cfg.total_steps:
                self.say("nothing to do: step %d already reaches total_steps %d"
                         % (self.step, cfg.total_steps))
                return 0
            obs, _ = self.envs.reset(seed=cfg.seed + 1000 * self.update)
            self.envs.action_space.seed(cfg.seed + self.update)
            ep_ret = np.zeros(cfg.num_envs)
            ep_len = np.zeros(cfg.num_envs, dtype=np.int64)
            self.say("Training started: %s, %d envs x %d steps, device %s, %d torch threads, "
                     "step %d/%d%s" % (cfg.env_id, cfg.num_envs, cfg.rollout_steps,
                                       self.device, self.threads, self.step, cfg.total_steps,
                                       ", resumed from %s" % self.resumed_from
                                       if self.resumed_from else ""))
            self.say("Training will save to: %s" % self.paths.nn_dir)
            total_updates = self.update + -(-(cfg.total_steps - self.step) // cfg.batch_size)
            while self.step < cfg.total_steps and not self.stop.is_set():
                t0 = time.perf_counter()
                lr = self._anneal_lr()
                obs, ep_ret, ep_len = self._collect(obs, ep_ret, ep_len)
                if not self.buf.full:
                    break  # stopped mid-rollout: drop it
                t1 = time.perf_counter()
                with torch.no_grad():
                    last_v = self.model.value(self._tensor(self.obs_norm(obs))).cpu().numpy()
                self.buf.compute_gae(last_v, cfg.ppo.gamma, cfg.ppo.gae_lambda)
                stats = ppo_update(self.model, self.optimizer, self.buf, cfg.ppo, self.device,
                                   self.generator)
                t2 = time.perf_counter()
                self.step += cfg.batch_size
                self.update += 1
                self._log(writer, stats, lr, t2 - t0, t1 - t0, total_updates)
                if cfg.save_every and self.update % cfg.save_every == 0:
                    self.save()
            if self.last_saved_step != self.step and self.save() is None:
                self.say("the final checkpoint (step %d) could not be saved" % self.step)
                return 1
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

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(x, dtype=torch.float32, device=self.device)

    def _anneal_lr(self) -> float:
        p = self.cfg.ppo
        lr = p.lr
        if p.anneal_lr:
            lr = p.lr * max(1.0 - self.step / float(self.cfg.total_steps), 0.0)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        return lr

    def _collect(self, obs: np.ndarray, ep_ret: np.ndarray, ep_len: np.ndarray) -> Any:
        """Fill the rollout buffer; returns the next obs and the running episode counters."""
        gamma = self.cfg.ppo.gamma
        self.buf.reset()
        for t in range(self.cfg.rollout_steps):
            obs_n = self.obs_norm(obs, update=True)
            action, logp, value = self.model.act(self._tensor(obs_n))
            action = action.cpu().numpy()
            next_obs, reward, term, trunc, info = self.envs.step(
                np.clip(action, self.act_low, self.act_high))
            done = np.logical_or(term, trunc)
            ep_ret += reward
            ep_len += 1
            for i in np.flatnonzero(done):
                self.recent_returns.append(float(ep_ret[i]))
                self.recent_lengths.append(float(ep_len[i]))
                self.episodes += 1
            ep_ret[done] = 0.0
            ep_len[done] = 0
            if self.videos is not None:
                if done.any():
                    self.videos.on_episodes(self.episodes,
                                            self.step + (t + 1) * self.cfg.num_envs,
                                            self.policy_snapshot)
                else:
                    self.videos.pump()
            r = self.reward_norm(reward, done)
            cut = np.logical_and(trunc, np.logical_not(term))
            if cut.any():  # time limit, not failure: bootstrap with V(final obs)
                final = self.obs_norm(final_observations(info, cut))
                with torch.no_grad():
                    r[cut] += gamma * self.model.value(self._tensor(final)).cpu().numpy()
            self.buf.add(obs_n, action, logp.cpu().numpy(), value.cpu().numpy(), r, done)
            obs = next_obs
            if self.stop.is_set():
                break
        return obs, ep_ret, ep_len

    def _log(self, writer: MetricWriter, stats: UpdateStats, lr: float, dt: float,
             collect_dt: float, total_updates: int) -> None:
        m = dict(stats.as_metrics())
        m.update(self.headline())
        m["rollout/episodes"] = float(self.episodes)
        m["train/lr"] = lr
        m["train/action_std"] = float(torch.exp(self.model.log_std).mean().item())
        m["train/update"] = float(self.update)
        m["perf/steps_per_s"] = self.cfg.batch_size / max(dt, 1e-9)
        m["perf/collect_frac"] = collect_dt / max(dt, 1e-9)
        if self.videos is not None:
            m["video/triggered"] = float(len(self.videos.triggered))
            m["video/skipped"] = float(self.videos.skipped)
        writer.log(self.step, m)
        ret = ("%8.1f (len %5.0f)" % (m["rollout/ep_return"], m["rollout/ep_length"])
               if "rollout/ep_return" in m else "       - (no episode yet)")
        self.say("update %4d/%d  step %9d/%d  ep_return %s  pi %+.4f  v %.4f  ent %+.3f  "
                 "kl %.4f  clip %.3f  lr %.2e  %6.0f steps/s"
                 % (self.update, total_updates, self.step, self.cfg.total_steps, ret,
                    stats.policy_loss, stats.value_loss, stats.entropy, stats.approx_kl,
                    stats.clip_frac, lr, m["perf/steps_per_s"]))
