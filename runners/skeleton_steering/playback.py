"""Playing SkeletonSteering's pickles with the user's own env and network functions.

- the env: the user's ``env_function`` (the seed's ``eval_amp_ppo_jax._make_env(config,
  record, mjx)``) called with the config the seed wrote into its results directory, a
  LocoMuJoCo CPU env (``reset() -> obs``, ``step(a) -> obs, reward, absorbing, done, info``)
  adapted to gymnasium's API for the toolkit's player;
- the policy: the user's ``network`` class (the seed's ``amp_ppo_jax.MLP``) built with the
  checkpoint's own ``config.model``, fed as the seed's eval script does: observation history
  (``disc_obs.obs_history_len``), ``(obs - mean) / std`` clipped, the Gaussian mean (plus
  ``model.action_std`` noise unless deterministic) scaled by ``action_std`` / ``action_mean``;
- the pickle: never the seed's ``load_checkpoint`` (a blind ``pickle.load``) but the protocol's
  allow-list unpickler, which also reads the seed's raw ``jax.Array`` leaves (as numpy); every
  array is checked, and a trial forward pass on the loader thread refuses a network that does
  not fit the env (and compiles it off the env loop).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

from runners.protocol import CheckpointLoadError, RunPaths
from runners.protocol.pickle_checkpoints import load_pickle_checkpoint
from runners.rendering.mujoco_scene import MujocoFrames, MujocoWindow
from runners.sdk import Playback, PlayContext

from .checkout import as_seed_config, import_function, read_seed_conf
from .config import SeedViewerConfig

warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)


class LocoApiEnv(object):
    """A LocoMuJoCo-style env (``_model``, ``_data``, ``info``) with gymnasium's API."""

    def __init__(self, env: Any):
        self.env = env
        self.unwrapped = self
        self.dt = float(getattr(env, "dt", 0.0) or 0.0)
        self.on_reset = None  # type: Any   # called after every reset (policy history)

    @property
    def model(self) -> Any:
        return self.env._model

    @property
    def data(self) -> Any:
        return self.env._data

    def reset(self, seed: Any = None) -> Any:
        try:
            import jax

            obs = self.env.reset(jax.random.PRNGKey(0 if seed is None else int(seed)))
        except TypeError:
            obs = self.env.reset()
        if self.on_reset is not None:
            self.on_reset()
        return np.asarray(obs, dtype=np.float32).reshape(-1), {}

    def step(self, action: Any) -> Any:
        obs, reward, absorbing, done, info = self.env.step(np.asarray(action))
        return (np.asarray(obs, dtype=np.float32).reshape(-1), float(reward), bool(absorbing),
                bool(done) and not bool(absorbing), info)

    def close(self) -> None:
        stop = getattr(self.env, "stop", None)
        if callable(stop):
            try:
                stop()
            except Exception:
                pass


class SeedPolicy(object):
    def __init__(self, forward: Any, params: Any, mean: np.ndarray, std: np.ndarray,
                 clip: float, action_mean: np.ndarray, action_std: np.ndarray, noise: float,
                 history: int, obs_dim: int, deterministic: bool, seed: int):
        self.forward, self.params = forward, params
        self.mean, self.std, self.clip = mean, std, clip
        self.action_mean, self.action_std = action_mean, action_std
        self.noise, self.history, self.obs_dim = noise, history, obs_dim
        self.deterministic = deterministic
        self.rng = np.random.default_rng(seed)
        self.hist = None  # type: Optional[np.ndarray]

    def reset(self) -> None:
        self.hist = None

    def act(self, obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float32).reshape(self.obs_dim)
        self.hist = np.tile(obs, (self.history, 1)) if self.hist is None else \
            np.concatenate([self.hist[1:], obs[None]], axis=0)
        x = np.clip((self.hist.reshape(1, -1) - self.mean) / self.std, -self.clip, self.clip)
        a = np.asarray(self.forward(self.params, x), dtype=np.float64)[0]
        if not self.deterministic:
            a = a + self.rng.standard_normal(a.shape) * self.noise
        return (a * self.action_std + self.action_mean).astype(np.float32)


def _vector(d: Dict[str, Any], key: str, n: int, path: Path, where: str) -> np.ndarray:
    try:
        a = np.asarray(d[key], dtype=np.float64).reshape(-1)
    except (KeyError, TypeError, ValueError):
        raise CheckpointLoadError(path, "%s.%s: missing or not numbers" % (where, key))
    if a.shape != (n,) or not np.all(np.isfinite(a)):
        raise CheckpointLoadError(path, "%s.%s: expected %d finite numbers, found shape %s"
                                  % (where, key, n, a.shape))
    return a


class SeedPlayback(Playback):
    def __init__(self, ctx: PlayContext):
        cfg = ctx.config  # type: SeedViewerConfig
        self.cfg = cfg
        self.run_dir = Path(ctx.run_dir)
        source = RunPaths(ctx.run_dir).run_json
        self.seed = cfg.seed
        self.make_user_env = import_function(cfg.env_function, cfg.code_path, source,
                                             "params.play.env_function")
        self.network = import_function(cfg.network, cfg.code_path, source, "params.play.network")
        from runners.protocol.artifacts import output_dir

        conf = read_seed_conf(output_dir(ctx.run_dir) / cfg.conf_file)
        self.env_label = str((conf.get("env") or {}).get("env_params", {}).get("env_name", ""))
        self.ack_extra = {"backend": "skeleton_steering", "code": str(cfg.code_path)}
        user_env = self.make_user_env(as_seed_config(conf), record=False, mjx=cfg.mjx)
        self.env = LocoApiEnv(user_env)
        self.env.on_reset = lambda: self.active.reset() if self.active is not None else None
        self.dt = self.env.dt
        info = user_env.info
        self.obs_dim = int(np.prod(info.observation_space.shape))
        self.act_dim = int(np.prod(info.action_space.shape))
        self.active = None  # type: Optional[SeedPolicy]
        size = ctx.frame_size or (cfg.preview_width, cfg.preview_height)
        self.frames = MujocoFrames(size)
        self._forwards = {}  # type: Dict[Tuple[Any, ...], Any]

    def make_env(self) -> Any:
        return self.env

    def load(self, path: Path) -> Tuple[SeedPolicy, Optional[int]]:
        import jax
        import jax.numpy as jnp

        d = load_pickle_checkpoint(path)
        for key in ("config", "params", "obs_norm", "action_mean", "action_std"):
            if key not in d:
                raise CheckpointLoadError(path, "no %r: not a SkeletonSteering AMP checkpoint"
                                          % key)
        conf, params = d["config"], d["params"]
        model = conf.get("model") if isinstance(conf, dict) else None
        if not isinstance(model, dict) or not isinstance(params, dict) or \
                not isinstance(params.get("actor"), dict):
            raise CheckpointLoadError(path, "config.model or params.actor missing")
        hist = int(((conf.get("disc_obs") or {}).get("obs_history_len")) or 1)
        in_dim = self.obs_dim * hist
        norm = d["obs_norm"] if isinstance(d["obs_norm"], dict) else {}
        mean = _vector(norm, "mean", in_dim, path, "obs_norm")
        std = _vector(norm, "std", in_dim, path, "obs_norm")
        if np.any(std <= 0):
            raise CheckpointLoadError(path, "obs_norm.std: must be positive")
        key = (tuple(model.get("actor_hidden_layers") or ()), str(model.get("activation")),
               float(model.get("actor_init_scale", 1.0)))
        fwd = self._forwards.get(key)
        if fwd is None:
            try:
                net = self.network(list(key[0]), self.act_dim, activation=key[1],
                                   out_init_scale=key[2])
            except Exception as e:
                raise CheckpointLoadError(path, "the network %s cannot be built from "
                                          "config.model: %s" % (self.cfg.network, e))
            fwd = jax.jit(lambda p, x: net.apply({"params": p}, x))
            self._forwards[key] = fwd
        actor = jax.tree_util.tree_map(jnp.asarray, params["actor"])
        try:
            out = np.asarray(fwd(actor, np.zeros((1, in_dim), np.float32)))
        except Exception as e:   # wrong layer sizes for this env: refused, policy stays
            raise CheckpointLoadError(path, "params.actor does not fit %s (observation %d, "
                                      "action %d): %s" % (self.cfg.network, in_dim,
                                                          self.act_dim, str(e)[:300]))
        if out.shape != (1, self.act_dim):
            raise CheckpointLoadError(path, "params.actor gives %s actions, the env takes %d"
                                      % (out.shape, self.act_dim))
        policy = SeedPolicy(fwd, actor, mean, std, float(norm.get("clip", 10.0)),
                            _vector(d, "action_mean", self.act_dim, path, "checkpoint"),
                            _vector(d, "action_std", self.act_dim, path, "checkpoint"),
                            float(model.get("action_std", 0.05)), hist, self.obs_dim,
                            self.cfg.deterministic, self.seed)
        return policy, None

    def activate(self, policy: SeedPolicy) -> None:
        self.active = policy

    def act(self, policy: SeedPolicy, obs: np.ndarray) -> np.ndarray:
        self.active = policy   # the recorder never calls activate()
        return policy.act(obs)

    def zero_action(self) -> np.ndarray:
        return np.zeros(self.act_dim, dtype=np.float32)

    def frame(self) -> np.ndarray:
        return self.frames.frame(self.env)

    def open_window(self, display: str) -> MujocoWindow:
        return MujocoWindow(self.env, display)

    def close(self) -> None:
        self.frames.close()
        self.env.close()


__all__ = ["LocoApiEnv", "SeedPlayback", "SeedPolicy"]
