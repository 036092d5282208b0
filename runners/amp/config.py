"""The parameters of the AMP runner, read from ``run.json`` and checked.

They keep the sections and names of SkeletonSteering's ``amp_ppo_jax_conf.yaml`` (``env``,
``ppo``, ``model``, ``optim``, ``disc``, ``disc_obs``, ``reward``, ``normalizer``, ``train``) so
its pickles and ours carry the same ``config``, plus the seed's command line as top-level
parameters (``env_id``, ``seed``, ``results_dir``, ``jax_cpu``, ``deterministic``) and Pitwall's
own (``play``, ``env.backend``, ``env.custom_traj_path``). Every error names ``run.json`` and the
dotted field.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from runners.sdk.params import ParamsReader
from runners.protocol import RunPaths, read_params

BACKENDS = ("auto", "gymnasium", "locomujoco")
ACTIVATIONS = ("relu", "tanh", "swish")
OPTIMIZERS = ("adam", "sgd")


@dataclass
class EnvConfig:
    backend: str = "auto"            # auto: gymnasium when env_id is a gymnasium id
    custom_traj_path: str = ""       # reference motion (.npz, LocoMuJoCo Trajectory layout)
    task_factory: Dict[str, Any] = field(default_factory=dict)   # LocoMuJoCo only (seed's)
    env_params: Dict[str, Any] = field(default_factory=dict)     # LocoMuJoCo only (seed's)


@dataclass
class PPOConfig:
    total_timesteps: int = 1000000
    num_envs: int = 8
    steps_per_iter: int = 64
    update_epochs: int = 5
    minibatch_size: int = 256
    discount: float = 0.99
    td_lambda: float = 0.95
    clip_ratio: float = 0.2


@dataclass
class ModelConfig:
    actor_hidden_layers: List[int] = field(default_factory=lambda: [256, 256])
    critic_hidden_layers: List[int] = field(default_factory=lambda: [256, 256])
    disc_hidden_layers: List[int] = field(default_factory=lambda: [256, 256])
    activation: str = "relu"
    actor_init_scale: float = 0.01
    disc_init_scale: float = 1.0
    action_std: float = 0.3          # fixed exploration std in normalized action units


@dataclass
class OptimConfig:
    type: str = "adam"
    learning_rate: float = 3e-4
    weight_decay: float = 0.0
    grad_clip: float = 0.75          # 0 = none


@dataclass
class DiscConfig:
    buffer_size: int = 100000        # replay of past agent discriminator observations
    replay_samples: int = 1000       # added per iteration once the replay is full
    batch_size: int = 512            # demo samples per discriminator step (+ as many agent)
    loss_weight: float = 5.0
    grad_penalty: float = 5.0
    reward_scale: float = 2.0


@dataclass
class DiscObsConfig:
    history_len: int = 2             # frames per discriminator observation
    obs_history_len: int = 1         # policy observations stacked
    global_obs: bool = False         # False: in the heading frame of the newest frame
    root_height_obs: bool = True
    key_bodies: List[str] = field(default_factory=list)
    key_sites: List[str] = field(default_factory=list)


@dataclass
class RewardConfig:
    task_weight: float = 0.5
    disc_weight: float = 0.5


@dataclass
class NormalizerConfig:
    samples: int = 100000000         # stop updating the normalizers after this many samples
    obs_clip: float = 10.0
    disc_clip: float = 10.0
    min_std: float = 1e-4


@dataclass
class TrainConfig:
    log_interval: int = 1            # iterations between stdout/metric lines
    save_interval: int = 20          # iterations between interval pickles (0 = only the end)
    keep_last: int = 0               # interval pickles to keep (0 = all)
    tensorboard: bool = True
    tensorboard_dir: str = "tensorboard"
    save_best: bool = True


@dataclass
class PlayConfig:
    deterministic: bool = True
    realtime: bool = True
    preview_hz: float = 4.0
    preview_width: int = 256
    preview_height: int = 256


@dataclass
class AmpConfig:
    env_id: str
    seed: int = 0
    results_dir: str = ""            # "" = the run directory
    jax_cpu: bool = True
    deterministic: bool = False
    env: EnvConfig = field(default_factory=EnvConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    disc: DiscConfig = field(default_factory=DiscConfig)
    disc_obs: DiscObsConfig = field(default_factory=DiscObsConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    normalizer: NormalizerConfig = field(default_factory=NormalizerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    play: PlayConfig = field(default_factory=PlayConfig)
    unknown: List[str] = field(default_factory=list)

    @property
    def batch_size(self) -> int:
        return self.ppo.num_envs * self.ppo.steps_per_iter

    @property
    def num_iters(self) -> int:
        return max(1, self.ppo.total_timesteps // self.batch_size)

    def to_seed_dict(self) -> Dict[str, Any]:
        """The ``config`` stored in checkpoints: the seed's sections (+ ours)."""
        d = asdict(self)
        d.pop("unknown", None)
        return copy.deepcopy(d)


class _Reader(ParamsReader):
    runner = "amp"




def parse_params(params: Dict[str, Any], source: Union[str, Path] = "run.json") -> AmpConfig:
    """Check ``params`` and build the config; raises :class:`ProtocolError`."""
    top = _Reader(source, params, "params")
    r = {k: top.section(k) for k in ("env", "ppo", "model", "optim", "disc", "disc_obs",
                                        "reward", "normalizer", "train", "play")}
    e = r["env"]
    env = EnvConfig(backend=e.string("backend", "auto", choices=BACKENDS),
                    custom_traj_path=e.string("custom_traj_path", "", allow_empty=True),
                    task_factory=e.mapping("task_factory"), env_params=e.mapping("env_params"))
    p, d = r["ppo"], PPOConfig()
    ppo = PPOConfig(
        total_timesteps=p.integer("total_timesteps", d.total_timesteps, 1),
        num_envs=p.integer("num_envs", d.num_envs, 1),
        steps_per_iter=p.integer("steps_per_iter", d.steps_per_iter, 1),
        update_epochs=p.integer("update_epochs", d.update_epochs, 1),
        minibatch_size=p.integer("minibatch_size", d.minibatch_size, 1),
        discount=p.number("discount", d.discount, (0.0, 1.0), open_low=True),
        td_lambda=p.number("td_lambda", d.td_lambda, (0.0, 1.0)),
        clip_ratio=p.number("clip_ratio", d.clip_ratio, (0.0, None), open_low=True))
    m, dm = r["model"], ModelConfig()
    model = ModelConfig(
        actor_hidden_layers=m.int_list("actor_hidden_layers", dm.actor_hidden_layers),
        critic_hidden_layers=m.int_list("critic_hidden_layers", dm.critic_hidden_layers),
        disc_hidden_layers=m.int_list("disc_hidden_layers", dm.disc_hidden_layers),
        activation=m.string("activation", dm.activation, choices=ACTIVATIONS),
        actor_init_scale=m.number("actor_init_scale", dm.actor_init_scale, (0.0, None)),
        disc_init_scale=m.number("disc_init_scale", dm.disc_init_scale, (0.0, None)),
        action_std=m.number("action_std", dm.action_std, (0.0, 10.0), open_low=True))
    o, do = r["optim"], OptimConfig()
    optim = OptimConfig(
        type=o.string("type", do.type).lower(),
        learning_rate=o.number("learning_rate", do.learning_rate, (0.0, None), open_low=True),
        weight_decay=o.number("weight_decay", do.weight_decay, (0.0, None)),
        grad_clip=o.number("grad_clip", do.grad_clip, (0.0, None)))
    if optim.type not in OPTIMIZERS:
        raise o.fail("type", "must be one of 'Adam', 'SGD', found %r" % optim.type)
    q, dd = r["disc"], DiscConfig()
    disc = DiscConfig(
        buffer_size=q.integer("buffer_size", dd.buffer_size, 1),
        replay_samples=q.integer("replay_samples", dd.replay_samples, 1),
        batch_size=q.integer("batch_size", dd.batch_size, 2),
        loss_weight=q.number("loss_weight", dd.loss_weight, (0.0, None)),
        grad_penalty=q.number("grad_penalty", dd.grad_penalty, (0.0, None)),
        reward_scale=q.number("reward_scale", dd.reward_scale, (0.0, None)))
    for seed_only in ("buffer_on_cpu", "demo_on_cpu"):
        q.used.add(seed_only)   # the seed's placement knobs: accepted, not needed here
    h, dh = r["disc_obs"], DiscObsConfig()
    disc_obs = DiscObsConfig(
        history_len=h.integer("history_len", dh.history_len, 1),
        obs_history_len=h.integer("obs_history_len", dh.obs_history_len, 1),
        global_obs=h.boolean("global_obs", dh.global_obs),
        root_height_obs=h.boolean("root_height_obs", dh.root_height_obs),
        key_bodies=h.string_list("key_bodies", dh.key_bodies),
        key_sites=h.string_list("key_sites", dh.key_sites))
    w, dw = r["reward"], RewardConfig()
    reward = RewardConfig(task_weight=w.number("task_weight", dw.task_weight, (0.0, None)),
                          disc_weight=w.number("disc_weight", dw.disc_weight, (0.0, None)))
    n, dn = r["normalizer"], NormalizerConfig()
    normalizer = NormalizerConfig(
        samples=n.integer("samples", dn.samples, 0),
        obs_clip=n.number("obs_clip", dn.obs_clip, (0.0, None), open_low=True),
        disc_clip=n.number("disc_clip", dn.disc_clip, (0.0, None), open_low=True),
        min_std=n.number("min_std", dn.min_std, (0.0, None), open_low=True))
    t, dt = r["train"], TrainConfig()
    train = TrainConfig(
        log_interval=t.integer("log_interval", dt.log_interval, 1),
        save_interval=t.integer("save_interval", dt.save_interval, 0),
        keep_last=t.integer("keep_last", dt.keep_last, 0),
        tensorboard=t.boolean("tensorboard", dt.tensorboard),
        tensorboard_dir=t.string("tensorboard_dir", dt.tensorboard_dir),
        save_best=t.boolean("save_best", dt.save_best))
    for seed_only in ("jit_rollout", "jit_update", "block_until_ready"):
        t.used.add(seed_only)   # always on here
    y, dy = r["play"], PlayConfig()
    play = PlayConfig(deterministic=y.boolean("deterministic", dy.deterministic),
                      realtime=y.boolean("realtime", dy.realtime),
                      preview_hz=y.number("preview_hz", dy.preview_hz, (0.0, 60.0)),
                      preview_width=y.frame_size("preview_width", dy.preview_width),
                      preview_height=y.frame_size("preview_height", dy.preview_height))
    cfg = AmpConfig(
        env_id=top.string("env_id"), seed=top.integer("seed", 0),
        results_dir=top.string("results_dir", "", allow_empty=True),
        jax_cpu=top.boolean("jax_cpu", True), deterministic=top.boolean("deterministic", False),
        env=env, ppo=ppo, model=model, optim=optim, disc=disc, disc_obs=disc_obs,
        reward=reward, normalizer=normalizer, train=train, play=play)
    top.used.add("python")   # the interpreter the profile starts (not a runner parameter)
    if ppo.minibatch_size > cfg.batch_size:
        raise p.fail("minibatch_size", "must be <= num_envs * steps_per_iter = %d, found %d"
                     % (cfg.batch_size, ppo.minibatch_size))
    if ppo.total_timesteps < cfg.batch_size:
        raise p.fail("total_timesteps", "must be >= num_envs * steps_per_iter = %d (one "
                     "iteration), found %d" % (cfg.batch_size, ppo.total_timesteps))
    cfg.unknown = top.unknown() + [u for x in r.values() for u in x.unknown()]
    return cfg


def load_config(run_dir: Union[str, Path]) -> AmpConfig:
    """Read and check the params of ``run_dir/run.json``."""
    return parse_params(read_params(run_dir), RunPaths(run_dir).run_json)


def results_dir(cfg: AmpConfig, run_dir: Union[str, Path]) -> Path:
    """Where the seed's side files go (conf yaml, ``tensorboard/``, expert caches): the run
    directory, or ``results_dir`` (relative to the run directory)."""
    run_dir = Path(run_dir)
    if not cfg.results_dir:
        return run_dir
    p = Path(cfg.results_dir).expanduser()
    return p if p.is_absolute() else run_dir / p


def from_checkpoint_config(config: Any, source: Union[str, Path]) -> Optional[AmpConfig]:
    """Rebuild an :class:`AmpConfig` from a checkpoint's ``config`` (ours or the seed's), or
    None when it is not a mapping."""
    if not isinstance(config, dict):
        return None
    params = dict(config)
    params.setdefault("env_id", _seed_env_id(config))
    return parse_params(params, source)


def _seed_env_id(config: Dict[str, Any]) -> str:
    """The seed's config has no env_id: rebuild ``EnvName.task.dataset_type``."""
    env = config.get("env") if isinstance(config.get("env"), dict) else {}
    name = str((env.get("env_params") or {}).get("env_name") or "unknown")
    ds = ((env.get("task_factory") or {}).get("params") or {}).get("default_dataset_conf") or {}
    return "%s.%s.%s" % (name[3:] if name.startswith("Mjx") else name,
                         ds.get("task", "walk"), ds.get("dataset_type", "mocap"))


__all__ = ["AmpConfig", "DiscConfig", "DiscObsConfig", "EnvConfig", "ModelConfig",
           "NormalizerConfig", "OptimConfig", "PPOConfig", "PlayConfig", "RewardConfig",
           "TrainConfig", "from_checkpoint_config", "load_config", "parse_params",
           "results_dir"]
