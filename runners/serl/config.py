"""The parameters of the SERL runner (learner and actor read the same ones), from ``run.json``.

They are the ``params`` of a profile in ``configs/serl/`` after overrides; names follow the
seed's flags (``max_steps``, ``random_steps``, ``training_starts``, ``steps_per_update``,
``batch_size``, ``cta_ratio``, ``eval_period`` ...). Every error names ``run.json`` and the
dotted field and says what was expected.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from runners.sdk.params import ParamsReader
from runners.protocol import RunPaths, read_params

DEVICES = ("auto", "cpu", "cuda")
MODES = ("async", "hybrid")
WANDB_MODES = ("online", "offline", "disabled")


@dataclass
class SacConfig:
    lr: float = 3e-4                 # actor, critic and temperature
    discount: float = 0.99
    tau: float = 0.005               # target critic soft-update rate
    hidden: List[int] = field(default_factory=lambda: [256, 256])
    init_temperature: float = 1.0
    target_entropy: Optional[float] = None   # None: -act_dim / 2 (SERL's default)
    backup_entropy: bool = True      # subtract alpha * log pi in the critic target


@dataclass
class PlayConfig:
    deterministic: bool = True
    realtime: bool = True
    preview_hz: float = 4.0
    preview_width: int = 256
    preview_height: int = 256


@dataclass
class WandbConfig:
    enabled: bool = False
    project: str = "pitwall-serl"
    entity: str = ""
    mode: str = "offline"            # online | offline | disabled


@dataclass
class SerlConfig:
    env: str = "Ant-v5"              # gymnasium id | dm_control/<domain>-<task> | module:function
    env_kwargs: Dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    device: str = "auto"             # the learner's device
    actor_device: str = "cpu"        # the actor's inference device
    mode: str = "async"              # async | hybrid (50/50 demo + online batches)
    max_steps: int = 1000000         # learner update steps (the seed's --max_steps)
    actor_max_steps: int = 0         # env steps of the actor (0 = until the learner ends)
    max_traj_length: int = 0         # cut an episode after this many steps (0 = the env's own)
    control_hz: float = 0.0          # actor env steps per second, paced (0 = as fast as it can)
    random_steps: int = 5000         # actor: uniform random actions for this many env steps
    training_starts: int = 5000      # learner: online transitions before the first update
    steps_per_update: int = 50       # actor pushes every N env steps; learner publishes every N updates
    batch_size: int = 256
    cta_ratio: int = 2               # critic updates per actor update
    replay_buffer_capacity: int = 1000000
    checkpoint_period: int = 10000   # learner updates between checkpoints (0 = only the final one)
    keep_last: int = 0               # checkpoint_<step>.pth files to keep (0 = all)
    log_period: int = 100            # learner: updates between metric lines
    actor_log_period: int = 1000     # actor: env steps between status lines (episodes: always)
    eval_period: int = 20000         # actor env steps between evaluations (0 = never)
    eval_n_trajs: int = 3
    torch_threads: int = 0           # 0 = auto
    bind_host: str = "127.0.0.1"     # where the learner listens (0.0.0.0: every interface)
    connect_host: str = ""           # where the actor connects ("" = the endpoints file's host)
    heartbeat_s: float = 1.0         # actor -> learner status requests
    learner_timeout_s: float = 5.0   # no reply for this long: the learner is gone, the actor waits
    actor_queue_size: int = 50000    # transitions the actor holds while the learner is away
    demo_paths: List[str] = field(default_factory=list)   # hybrid: pickled transition lists
    sac: SacConfig = field(default_factory=SacConfig)
    play: PlayConfig = field(default_factory=PlayConfig)
    wandb: WandbConfig = field(default_factory=WandbConfig)
    run_dir: Path = Path(".")
    unknown: List[str] = field(default_factory=list)

    def demo_files(self) -> List[Path]:
        """``demo_paths`` resolved: ``~`` expanded, relative paths taken from the run dir."""
        out = []
        for p in self.demo_paths:
            path = Path(p).expanduser()
            out.append(path if path.is_absolute() else self.run_dir / path)
        return out


class _Reader(ParamsReader):
    runner = "serl"



def parse_params(params: Dict[str, Any], source: Union[str, Path] = "run.json",
                 run_dir: Union[str, Path] = ".") -> SerlConfig:
    """Check ``params`` and build the config; raises :class:`ProtocolError`."""
    top = _Reader(source, params, "params")
    sac_r = top.section("sac")
    play_r = top.section("play")
    wb_r = top.section("wandb")
    d = SacConfig()
    te = sac_r._get("target_entropy", "auto")
    if te != "auto":
        te = sac_r.number("target_entropy")
    sac = SacConfig(
        lr=sac_r.number("lr", d.lr, (0.0, None), open_low=True),
        discount=sac_r.number("discount", d.discount, (0.0, 1.0), open_low=True),
        tau=sac_r.number("tau", d.tau, (0.0, 1.0), open_low=True),
        hidden=sac_r.int_list("hidden", d.hidden),
        init_temperature=sac_r.number("init_temperature", d.init_temperature, (0.0, None),
                                      open_low=True),
        target_entropy=None if te == "auto" else float(te),
        backup_entropy=sac_r.boolean("backup_entropy", d.backup_entropy),
    )
    dp = PlayConfig()
    play = PlayConfig(deterministic=play_r.boolean("deterministic", dp.deterministic),
                      realtime=play_r.boolean("realtime", dp.realtime),
                      preview_hz=play_r.number("preview_hz", dp.preview_hz, (0.0, 60.0)),
                      preview_width=play_r.frame_size("preview_width", dp.preview_width),
                      preview_height=play_r.frame_size("preview_height", dp.preview_height))
    dw = WandbConfig()
    wandb = WandbConfig(enabled=wb_r.boolean("enabled", dw.enabled),
                        project=wb_r.string("project", dw.project),
                        entity=wb_r.string("entity", dw.entity, allow_empty=True),
                        mode=wb_r.string("mode", dw.mode, choices=WANDB_MODES))
    c = SerlConfig()
    cfg = SerlConfig(
        env=top.string("env", c.env),
        env_kwargs=top.mapping("env_kwargs"),
        seed=top.integer("seed", c.seed),
        device=top.string("device", c.device, choices=DEVICES),
        actor_device=top.string("actor_device", c.actor_device, choices=DEVICES),
        mode=top.string("mode", c.mode, choices=MODES),
        max_steps=top.integer("max_steps", c.max_steps, 1),
        actor_max_steps=top.integer("actor_max_steps", c.actor_max_steps, 0),
        max_traj_length=top.integer("max_traj_length", c.max_traj_length, 0),
        control_hz=top.number("control_hz", c.control_hz, (0.0, 100000.0)),
        random_steps=top.integer("random_steps", c.random_steps, 0),
        training_starts=top.integer("training_starts", c.training_starts, 0),
        steps_per_update=top.integer("steps_per_update", c.steps_per_update, 1),
        batch_size=top.integer("batch_size", c.batch_size, 2),
        cta_ratio=top.integer("cta_ratio", c.cta_ratio, 1),
        replay_buffer_capacity=top.integer("replay_buffer_capacity",
                                           c.replay_buffer_capacity, 1),
        checkpoint_period=top.integer("checkpoint_period", c.checkpoint_period, 0),
        keep_last=top.integer("keep_last", c.keep_last, 0),
        log_period=top.integer("log_period", c.log_period, 1),
        actor_log_period=top.integer("actor_log_period", c.actor_log_period, 1),
        eval_period=top.integer("eval_period", c.eval_period, 0),
        eval_n_trajs=top.integer("eval_n_trajs", c.eval_n_trajs, 1),
        torch_threads=top.integer("torch_threads", c.torch_threads, 0),
        bind_host=top.string("bind_host", c.bind_host),
        connect_host=top.string("connect_host", c.connect_host, allow_empty=True),
        heartbeat_s=top.number("heartbeat_s", c.heartbeat_s, (0.05, 60.0)),
        learner_timeout_s=top.number("learner_timeout_s", c.learner_timeout_s, (0.5, 3600.0)),
        actor_queue_size=top.integer("actor_queue_size", c.actor_queue_size, 1),
        demo_paths=top.string_list("demo_paths", []),
        sac=sac, play=play, wandb=wandb, run_dir=Path(run_dir),
    )
    if cfg.replay_buffer_capacity < cfg.batch_size:
        raise top.fail("replay_buffer_capacity", "must be >= batch_size (%d), found %d"
                       % (cfg.batch_size, cfg.replay_buffer_capacity))
    if cfg.learner_timeout_s <= cfg.heartbeat_s:
        raise top.fail("learner_timeout_s", "must be longer than heartbeat_s (%g), found %g"
                       % (cfg.heartbeat_s, cfg.learner_timeout_s))
    if cfg.mode == "hybrid" and not cfg.demo_paths:
        raise top.fail("demo_paths", "mode 'hybrid' samples half of every batch from "
                       "demonstrations: give at least one demo file")
    for launcher_only in ("python", "code_dir"):  # used by the profiles' argv/env templates
        top._get(launcher_only, None)
    cfg.unknown = top.unknown() + sac_r.unknown() + play_r.unknown() + wb_r.unknown()
    return cfg


def load_config(run_dir: Union[str, Path]) -> SerlConfig:
    """Read and check the params of ``run_dir/run.json``."""
    return parse_params(read_params(run_dir), RunPaths(run_dir).run_json, run_dir)
