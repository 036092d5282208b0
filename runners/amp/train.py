"""``python -m runners.amp train``: AMP + PPO in JAX, the seed's outputs, Pitwall's protocol.

One iteration = ``steps_per_iter`` steps of ``num_envs`` envs, then the jitted update. What it
writes, the seed's way and Pitwall's:

- stdout every ``train.log_interval`` iterations, the seed's line:
  ``[it/total] samples=… reward=… ep_r=… disc_r=… actor=… value=… disc=… kl=… clip=…
  N samples/s T s/iter`` (``ep_r=`` only when episodes ended);
- TensorBoard (tensorboardX, no torch) in ``<results_dir>/tensorboard``: the seed's tags
  ``reward/{total_mean,task_mean,disc_mean,episode_mean,episode_count,best_episode_mean}``,
  ``loss/{actor,value,disc}``, ``stats/{approx_kl,clip_frac}``, ``perf/{samples_per_s,
  iter_time_s}``, plus ours (below); step = samples;
- ``metrics.jsonl``: the same tags plus ``reward/episode_task_mean`` (the env's own return),
  ``reward/episode_length``, ``reward/disc_demo_mean`` / ``reward/disc_agent_mean`` (the
  discriminator reward of reference / agent samples), ``stats/disc_{demo,agent}_acc``,
  ``stats/grad_penalty``, ``stats/entropy``;
- pickles in the seed's layout, through the protocol: ``nn/amp_ppo_jax_best.pkl`` whenever the
  mean episode return (``ep_r``, task + discriminator) beats the best so far (the pre-update
  policy that earned it, as the seed does), ``nn/amp_ppo_jax_<samples>.pkl`` every
  ``train.save_interval`` iterations and at the end, ``nn/latest.pkl`` (the newest of those);
- ``<results_dir>/amp_ppo_jax_conf.yaml``, ``expert_traj.npz``, ``expert_disc_obs.npz``.

SIGINT/SIGTERM: the running iteration is dropped, a final pickle is saved, exit 0.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import IO, Any, Dict, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np

from runners.protocol import CheckpointLoadError, MetricWriter, RunPaths
from runners.protocol.atomic import atomic_write_bytes
from runners.protocol.pickle_checkpoints import save_named_pickle, save_pickle_checkpoint
from runners.sdk.stop_flag import StopFlag

from .checkpoint import BEST_NAME, STEM, build_payload, read_payload, restore_arrays
from .config import AmpConfig, results_dir
from .disc_features import KinematicsProbe, build_spec
from .disc_obs import disc_obs_dim, make_disc_obs_fn
from .envs import make_env_batch, resolve_backend
from .expert_data import prepare_expert
from .learner import Learner
from .rollout import Collector, Rollout

CONF_NAME = "amp_ppo_jax_conf.yaml"


def import_tensorboardx() -> Any:
    """tensorboardX's writer, without torch: tensorboardX imports torch whenever it can (only to
    accept torch tensors, which we never give it), which costs seconds in every JAX process of
    an environment that also has torch."""
    if "torch" in sys.modules:
        from tensorboardX import SummaryWriter

        return SummaryWriter
    sys.modules["torch"] = None  # type: ignore[assignment]   # "import torch" -> ImportError
    try:
        from tensorboardX import SummaryWriter
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
    return SummaryWriter


class Trainer(object):
    def __init__(self, run_dir: Union[str, Path], cfg: AmpConfig, role: str = "train",
                 stop: Optional[StopFlag] = None, resume: Optional[Union[str, Path]] = None,
                 out: IO[str] = sys.stdout):
        self.paths = RunPaths(run_dir)
        self.cfg = cfg
        self.role = role
        self.stop = stop if stop is not None else StopFlag()
        self.out = out
        source = self.paths.run_json
        self.results = results_dir(cfg, self.paths.root)
        self.results.mkdir(parents=True, exist_ok=True)
        self.backend = resolve_backend(cfg, source)
        self.envs = make_env_batch(cfg, cfg.ppo.num_envs, self.backend, source)
        try:
            self._setup(source, resume)
        except BaseException:
            self.envs.close()
            raise

    def _setup(self, source: Path, resume: Optional[Union[str, Path]]) -> None:
        cfg, envs = self.cfg, self.envs
        key_sites = list(cfg.disc_obs.key_sites)
        if self.backend == "locomujoco" and not key_sites and not cfg.disc_obs.key_bodies:
            from .locomujoco_envs import default_key_sites

            key_sites = default_key_sites(getattr(envs, "first", None) or getattr(envs, "env"))
        self.spec = build_spec(envs.model, cfg.disc_obs.key_bodies, key_sites, source)
        self.probe = KinematicsProbe(envs.model, self.spec)
        self.disc_fn = make_disc_obs_fn(self.spec, cfg.disc_obs.global_obs,
                                        cfg.disc_obs.root_height_obs)
        self.disc_dim = disc_obs_dim(self.spec, cfg.disc_obs.history_len,
                                     cfg.disc_obs.root_height_obs)
        self.expert = prepare_expert(cfg, self.backend, envs, self.paths.root, self.results,
                                     self.spec, self.probe, self.disc_fn, self.say)
        self.expert_dev = jnp.asarray(self.expert.disc_obs)
        self.policy_obs_dim = envs.obs_dim * cfg.disc_obs.obs_history_len
        self.learner = Learner(cfg, self.policy_obs_dim, envs.act_dim, self.disc_dim,
                               envs.act_low, envs.act_high, cfg.seed)
        self.samples = 0
        self.iteration = 0
        self.best = -math.inf
        self.last_saved = -1
        self.resumed_from = None  # type: Optional[Path]
        if resume is not None:
            self._restore(Path(resume))
        self.collector = Collector(envs, self.learner, self.probe, cfg.disc_obs.obs_history_len,
                                   cfg.disc_obs.history_len, cfg.ppo.discount,
                                   cfg.seed + 1000 * self.iteration)
        self.rng = np.random.default_rng(cfg.seed)
        self._write_conf()

    # ------------------------------------------------------------------ files
    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def _write_conf(self) -> None:
        import yaml

        text = yaml.safe_dump(self.cfg.to_seed_dict(), sort_keys=False)
        atomic_write_bytes(self.results / CONF_NAME, text.encode("utf-8"))

    def _restore(self, path: Path) -> None:
        d = read_payload(path)
        arrays = restore_arrays(d, path, self.cfg, self.policy_obs_dim, self.envs.act_dim,
                                self.disc_dim)
        if set(arrays["params"]) != {"actor", "critic", "disc"}:
            raise CheckpointLoadError(path, "resuming needs actor, critic and disc networks")
        st = self.learner.state
        params = jax.tree_util.tree_map(jnp.asarray, arrays["params"])
        self.learner.state = st._replace(params=params, opt_state=self.learner.optimizer.init(
            params), obs_norm=arrays["obs_norm"], disc_norm=arrays["disc_norm"])
        self.samples = int(d.get("step", 0) or 0)
        self.iteration = int(d.get("iteration", 0) or 0)
        self.last_saved = self.samples
        self.resumed_from = path

    def payload(self) -> Dict[str, Any]:
        lr = self.learner
        return build_payload(self.cfg, lr.state, lr.action_mean, lr.action_std, self.samples,
                             self.iteration, (self.policy_obs_dim, self.envs.act_dim,
                                              self.disc_dim))

    def save(self, metrics: Dict[str, float]) -> Path:
        path = save_pickle_checkpoint(self.paths.root, self.payload(), self.samples, STEM,
                                      epoch=self.iteration, metrics=metrics,
                                      keep_last=self.cfg.train.keep_last)
        self.last_saved = self.samples
        self.say("saved %s (samples %d)" % (path.name, self.samples))
        return path

    # ------------------------------------------------------------------ loop
    def run(self) -> int:
        cfg = self.cfg
        writer = MetricWriter(self.paths.root, self.role, tensorboard=False)
        tb = self._tensorboard()
        headline = {}  # type: Dict[str, float]
        try:
            total_iters = cfg.num_iters
            if self.iteration >= total_iters:
                self.say("nothing to do: iteration %d already reaches %d"
                         % (self.iteration, total_iters))
                return 0
            self.say("Training started: %s (%s), %d envs x %d steps, %d iterations, jax %s on "
                     "%s, disc obs %d, reference %d frames%s"
                     % (cfg.env_id, self.backend, cfg.ppo.num_envs, cfg.ppo.steps_per_iter,
                        total_iters, jax.__version__, jax.default_backend(), self.disc_dim,
                        self.expert.reference.frames,
                        ", resumed from %s" % self.resumed_from if self.resumed_from else ""))
            self.say("Results in %s, checkpoints in %s" % (self.results, self.paths.nn_dir))
            self.say("JIT is on: the first iteration compiles and takes longer.")
            while self.iteration < total_iters and not self.stop.is_set():
                t0 = time.perf_counter()
                ro = self.collector.collect(cfg.ppo.steps_per_iter, self.stop.is_set)
                if ro is None:
                    break   # stopped mid-rollout: dropped
                m = self._learn(ro)
                dt = time.perf_counter() - t0
                self.iteration += 1
                m["perf/samples_per_s"] = cfg.batch_size / max(dt, 1e-9)
                m["perf/iter_time_s"] = dt
                if "reward/episode_mean" in m:
                    headline = {"reward/episode_mean": m["reward/episode_mean"],
                                "reward/episode_task_mean": m["reward/episode_task_mean"]}
                if (self.iteration - 1) % cfg.train.log_interval == 0 or \
                        self.iteration == total_iters:
                    self._log(writer, tb, m, total_iters)
                if cfg.train.save_interval and self.iteration % cfg.train.save_interval == 0:
                    self.save(headline)
            if self.last_saved != self.samples:
                self.save(headline)
            if self.stop.is_set():
                self.say("stopped by %s at %d samples; final checkpoint saved"
                         % (self.stop.name, self.samples))
            else:
                self.say("Training finished at %d samples" % self.samples)
            return 0
        finally:
            if tb is not None:
                tb.close()
            writer.close()
            self.envs.close()

    def _learn(self, ro: Rollout) -> Dict[str, float]:
        cfg, lr = self.cfg, self.learner
        t, n = ro.task.shape
        disc_obs = np.asarray(self.disc_fn(ro.windows.reshape((t * n,) + ro.windows.shape[2:])))
        last_value = lr.value(ro.last_obs)
        adv, ret, dr, total = lr.prepare(disc_obs.reshape(t, n, -1), ro.task, ro.value,
                                         last_value, ro.done, ro.bootstrap)
        dr, total = np.asarray(dr), np.asarray(total)
        combined = self.collector.total_returns(total, ro.done)
        self.samples += t * n
        m = {"reward/total_mean": float(total.mean()), "reward/task_mean": float(ro.task.mean()),
             "reward/disc_mean": float(dr.mean())}  # type: Dict[str, float]
        if combined:
            m["reward/episode_mean"] = float(np.mean(combined))
            m["reward/episode_count"] = float(len(combined))
            m["reward/episode_task_mean"] = float(np.mean(ro.ep_task_returns))
            m["reward/episode_length"] = float(np.mean(ro.ep_lengths))
            if cfg.train.save_best and m["reward/episode_mean"] > self.best:
                self.best = m["reward/episode_mean"]
                path = save_named_pickle(self.paths.root, self.payload(), BEST_NAME,
                                         self.samples, epoch=self.iteration,
                                         metrics={"reward/episode_mean": self.best})
                m["reward/best_episode_mean"] = self.best
                self.say("Saved best checkpoint: episode_mean=%.3f episodes=%d path=%s"
                         % (self.best, len(combined), path))
        batch = {"obs": ro.obs.reshape(t * n, -1), "act": ro.act.reshape(t * n, -1),
                 "logp": ro.logp.reshape(-1), "adv": np.asarray(adv).reshape(-1),
                 "ret": np.asarray(ret).reshape(-1)}
        stats = lr.update(batch, disc_obs, self.expert_dev)
        if self.samples <= cfg.normalizer.samples:
            demo = self.expert.disc_obs[self.rng.integers(0, len(self.expert.disc_obs),
                                                          len(disc_obs))]
            lr.update_normalizers(ro.raw_obs.reshape(t * n, -1),
                                  np.concatenate([disc_obs, demo], axis=0))
        lr.add_to_replay(disc_obs, full=lr.replay_full)
        m.update({"loss/actor": stats["actor_loss"], "loss/value": stats["value_loss"],
                  "loss/disc": stats["disc_loss"], "stats/approx_kl": stats["approx_kl"],
                  "stats/clip_frac": stats["clip_frac"], "stats/entropy": stats["entropy"],
                  "stats/disc_agent_acc": stats["disc_agent_acc"],
                  "stats/disc_demo_acc": stats["disc_demo_acc"],
                  "stats/grad_penalty": stats["grad_penalty"],
                  "reward/disc_demo_mean": stats["disc_demo_reward"],
                  "reward/disc_agent_mean": stats["disc_agent_reward"],
                  "train/iteration": float(self.iteration + 1)})
        return m

    def _tensorboard(self) -> Any:
        if not self.cfg.train.tensorboard:
            return None
        try:
            SummaryWriter = import_tensorboardx()
        except ImportError:
            self.say("warning: tensorboardX is not installed: no TensorBoard files (install "
                     "pitwall[jax])")
            return None
        return SummaryWriter(str(self.results / self.cfg.train.tensorboard_dir))

    def _log(self, writer: MetricWriter, tb: Any, m: Dict[str, float], total: int) -> None:
        writer.log(self.samples, m)
        if tb is not None:
            for k, v in m.items():
                if math.isfinite(v):
                    tb.add_scalar(k, v, self.samples)
            tb.flush()
        ep = "ep_r=%.3f " % m["reward/episode_mean"] if "reward/episode_mean" in m else ""
        self.say("[%d/%d] samples=%d reward=%.3f %sdisc_r=%.3f actor=%.4f value=%.4f disc=%.4f "
                 "kl=%.4f clip=%.3f %.0f samples/s %.2fs/iter"
                 % (self.iteration, total, self.samples, m["reward/total_mean"], ep,
                    m["reward/disc_mean"], m["loss/actor"], m["loss/value"], m["loss/disc"],
                    m["stats/approx_kl"], m["stats/clip_frac"], m["perf/samples_per_s"],
                    m["perf/iter_time_s"]))


__all__ = ["CONF_NAME", "Trainer"]
