"""``python -m runners.isaacgym train``: rl_games PPO, headless, checkpoints the protocol way.

The agent is built through rl_games' own ``Runner`` (its algorithm factory, its config loading),
with IsaacGymEnvs' builders and observers on an Isaac Gym box. Two things differ from rl_games'
``Runner.run_train``: a ``--resume`` checkpoint is loaded through the allow-list loader (rl_games
would unpickle it blindly), and the :class:`PitwallObserver` writes ``nn/latest.pth``,
``nn/index.jsonl`` and ``metrics.jsonl``. rl_games still writes its TensorBoard ``summaries/`` and
its own best/last checkpoints into the run directory.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, List, Optional

from runners.protocol import RunPaths

from .checkpoint_io import load_rl_games_checkpoint
from .config import RunnerConfig
from .envs import Backend
from .observer import MultiObserver, PitwallObserver
from .rl_config import train_params


def build_runner(backend: Backend, observers: List[Any]) -> Any:
    from rl_games.torch_runner import Runner

    runner = Runner(MultiObserver(observers))
    backend.setup_runner(runner)
    return runner


class WandbObserver(object):
    """Weights & Biases for the run, synced from rl_games' TensorBoard files (rank 0 only).

    ``wandb.init`` must run before rl_games creates its SummaryWriter, hence ``before_init``.
    """

    def __init__(self, cfg: RunnerConfig, run_name: str, config: Any):
        self.cfg = cfg
        self.run_name = run_name
        self.config = config

    def before_init(self, base_name: str, config: Any, experiment_name: str) -> None:
        if os.getenv("RANK", "0") != "0":
            return
        try:
            import wandb
        except ImportError:
            raise RuntimeError("wandb_activate is true but the wandb package is not installed "
                               "in this Python (pip install wandb)")
        c = self.cfg
        wandb.init(project=c.wandb_project or None, entity=c.wandb_entity or None,
                   group=c.wandb_group or None, tags=list(c.wandb_tags) or None,
                   name=c.wandb_name or self.run_name, id="uid_" + self.run_name,
                   resume="allow", sync_tensorboard=True, config=self.config)


class Trainer(object):
    def __init__(self, run_dir: Path, cfg: RunnerConfig, backend: Backend, role: str = "train",
                 stop: Callable[[], bool] = lambda: False, resume: Optional[Path] = None,
                 say: Callable[[str], None] = print):
        self.paths = RunPaths(run_dir)
        self.cfg = cfg
        self.backend = backend
        self.role = role
        self.stop = stop
        self.resume = resume
        self.say = say

    def run(self) -> int:
        cfg = self.cfg
        self.backend.prepare(self.say)
        env_name = self.backend.register(cfg.num_envs, headless=True)  # training never renders
        base = self.backend.rl_games_base()
        cfg.seed = self.backend.effective_seed(int(os.getenv("RANK", "0")))
        params = train_params(cfg, base, self.paths.root, env_name, self.paths.run_json)
        observer = PitwallObserver(self.paths.root, self.role, cfg.checkpoint_save_freq,
                                   cfg.keep_last, stop=self.stop, say=self.say)
        observers = [observer] + self.backend.observers()
        if cfg.wandb_activate:
            observers.append(WandbObserver(cfg, self.paths.name, params["params"]))
        runner = build_runner(self.backend, observers)
        runner.load(params)
        agent = runner.algo_factory.create(runner.algo_name, base_name="run",
                                           params=runner.params)
        if self.resume is not None:
            state = load_rl_games_checkpoint(self.resume, map_location=agent.ppo_device)
            agent.set_full_state_weights(state)
            self.say("resumed from %s (epoch %s, frame %s)"
                     % (self.resume, state.get("epoch"), state.get("frame")))
        self._maybe_compile(agent, runner.params["config"])
        if self.stop():
            self.say("stop requested before the training started; nothing to save")
            return 0
        c = runner.params["config"]
        self.say("training %s: %d envs, %s epochs, nn/latest.pth every %s epochs, run dir %s"
                 % (cfg.experiment, cfg.num_envs,
                    "unlimited" if c.get("max_epochs", -1) == -1 else c["max_epochs"],
                    cfg.checkpoint_save_freq or "end-of-training-only", self.paths.root))
        agent.train()
        observer.finish()
        self.say("training finished at epoch %d (frame %d)" % (agent.epoch_num, agent.frame))
        return 0

    @staticmethod
    def _maybe_compile(agent: Any, config: Any) -> None:
        """``config.torch_compile``: false (default here), true, or a torch.compile mode."""
        mode = config.get("torch_compile", False)
        if not mode:
            return
        import torch

        agent.model = torch.compile(agent.model, mode=mode if isinstance(mode, str) else
                                    "default")
