"""What the toolkit's player needs from the IsaacGym runner: rl_games' own player (network,
action rescaling, RNN states) over the same env backend as training.

Unlike the seed's play loop, the toolkit's player loads its start checkpoint before the first
step, follows the state file (and ``nn/latest.pth`` in auto mode) between any two env steps,
swaps the weights into the running model (the envs and the Isaac Gym viewer window stay as they
are) and refuses a bad file, keeping the current policy. ``play.num_envs`` envs run (4, as the
seed) with the Isaac Gym viewer's camera on env ``play.follow_env``.

Pictures: on Isaac Gym, the viewer window on an X display (Isaac Gym renders no offscreen frames
here, so no preview frames or videos); on the gymnasium (CPU) backend, env 0's MuJoCo scene:
preview frames, videos and MuJoCo's passive-viewer window.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

from runners.protocol import RunPaths
from runners.protocol.displays import KIND_X11, display_kind
from runners.sdk import PlayContext, Playback, PlaySettings, Window

from .checkpoint_io import check_compatible, checkpoint_step, load_rl_games_checkpoint
from .config import RunnerConfig
from .envs import Backend, choose_backend, make_backend
from .rl_config import play_params


class RlGamesEnv(object):
    """rl_games' player env calls behind the gymnasium-style API the toolkit's player uses:
    a batch (finished envs reset by the env itself), rewards and dones as numpy arrays."""

    def __init__(self, player: Any):
        self.player = player
        self.env = player.env
        self.batch = 1

    def reset(self, seed: Optional[int] = None) -> Tuple[Any, Dict[str, Any]]:
        obs = self.player.env_reset(self.env)
        self.batch = self.player.get_batch_size(obs, 1)
        if getattr(self.player, "is_rnn", False):
            self.player.init_rnn()
        return obs, {}

    def step(self, action: Any) -> Tuple[Any, np.ndarray, np.ndarray, np.ndarray, Any]:
        obs, reward, done, info = self.player.env_step(self.env, action)
        r = np.asarray(reward.reshape(-1)[:self.batch].double().cpu())
        d = np.asarray(done.reshape(-1)[:self.batch].cpu()).astype(bool)
        if d.any() and getattr(self.player, "is_rnn", False) and self.player.states is not None:
            idx = np.flatnonzero(d).tolist()
            for s in self.player.states:
                s[:, idx, :] = 0.0
        return obs, r, d, np.zeros_like(d), info

    def close(self) -> None:
        if hasattr(self.env, "close"):
            try:
                self.env.close()
            except Exception:
                pass


class IsaacGymWindow(Window):
    """The Isaac Gym viewer the task opened itself (not headless); the camera follows one env.
    The task draws it during its own step; ``idle`` draws while no step runs."""

    def __init__(self, task: Any, follow_env: int, say: Any):
        self.task = task
        self.camera = None  # type: Any
        if follow_env >= 0:
            from .camera import EnvCamera

            self.camera = EnvCamera(task, follow_env, say=say)

    def sync(self) -> None:
        if self.camera is not None:
            self.camera.update()

    def is_open(self) -> bool:
        gym, viewer = getattr(self.task, "gym", None), getattr(self.task, "viewer", None)
        if gym is None or viewer is None:
            return False
        return not gym.query_viewer_has_closed(viewer)

    def idle(self) -> None:
        self.task.render()


class RlGamesPlayback(Playback):
    def __init__(self, ctx: PlayContext):
        import torch

        cfg = ctx.config  # type: RunnerConfig
        self.cfg = cfg
        self.say = ctx.say
        source = RunPaths(ctx.run_dir).run_json
        headless = display_kind(ctx.display) != KIND_X11
        name, note = choose_backend(cfg, source)
        if name == "isaacgym" and display_kind(ctx.display) not in ("none", KIND_X11):
            raise ValueError("--display %r: Isaac Gym's viewer opens only on an X display "
                             "(':0', 'localhost:10.0'), or use none" % ctx.display)
        self.say("environment: %s" % note)
        self.backend = make_backend(name, cfg, source)  # type: Backend
        self.backend.prepare(self.say)
        env_name = self.backend.register(cfg.play.num_envs,
                                         headless=headless or name != "isaacgym")
        params = play_params(cfg, self.backend.rl_games_base(), env_name, source)
        if name == "gymnasium":
            torch.set_num_threads(1)  # a batch of 4: threads only add latency
        from .train import build_runner

        runner = build_runner(self.backend, [])
        runner.load(params)
        self.player = runner.create_player()
        self.vec = self.player.env
        self.task = self.backend.viewer_task(self.vec)
        self.env_label = cfg.task if name == "isaacgym" else cfg.gym_env
        self.seed = cfg.seed
        # with a window, Isaac Gym paces itself (sync_frame_time in VecTask.render)
        self.dt = 0.0 if (self.task is not None and name == "isaacgym") else \
            self.backend.step_dt(self.vec)
        self._frames = None  # type: Any
        self._size = ctx.frame_size or (256, 256)
        self.ack_extra = {"backend": name, "num_envs": cfg.play.num_envs,
                          "follow_env": cfg.play.follow_env}

    def make_env(self) -> RlGamesEnv:
        return RlGamesEnv(self.player)

    def load(self, path: Path) -> Tuple[Dict[str, Any], Optional[int]]:
        state = load_rl_games_checkpoint(path, map_location=self.player.device)
        check_compatible(self.player.model.state_dict(), state["model"], path)
        kept = {"model": state["model"], "env_state": state.get("env_state"),
                "epoch": state.get("epoch")}
        return kept, checkpoint_step(state)

    def activate(self, policy: Dict[str, Any]) -> None:
        self.player.model.load_state_dict(policy["model"])
        env_state = policy.get("env_state")
        if env_state is not None and hasattr(self.vec, "set_env_state"):
            self.vec.set_env_state(env_state)  # as rl_games' player.restore does
        if getattr(self.player, "is_rnn", False):
            self.player.init_rnn()

    def act(self, policy: Any, obs: Any) -> Any:
        return self.player.get_action(obs, self.cfg.play.deterministic)

    def _env0(self) -> Any:
        envs = getattr(self.vec, "envs", None)
        if self.backend.name != "gymnasium" or not envs:
            raise RuntimeError("Isaac Gym renders only in its viewer window here: no preview "
                               "frames or videos (use --display :0)")
        return envs[0]

    def frame(self) -> np.ndarray:
        from runners.rendering.mujoco_scene import MujocoFrames

        env0 = self._env0()
        if self._frames is None:
            self._frames = MujocoFrames(self._size)
        return self._frames.frame(env0)

    def open_window(self, display: str) -> Window:
        if self.backend.name == "gymnasium":
            from runners.rendering.mujoco_scene import MujocoWindow

            return MujocoWindow(self._env0(), display)
        if self.task is None:
            raise RuntimeError("the Isaac Gym task opened no viewer on %s" % display)
        return IsaacGymWindow(self.task, self.cfg.play.follow_env, self.say)

    def zero_action(self) -> Any:
        import torch

        shape = (self.cfg.play.num_envs,) + tuple(self.player.action_space.shape)
        return torch.zeros(shape, device=self.player.device)

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()
        RlGamesEnv(self.player).close()


def play_settings(cfg: RunnerConfig) -> PlaySettings:
    return PlaySettings(realtime=cfg.play.realtime, seed=cfg.seed)
