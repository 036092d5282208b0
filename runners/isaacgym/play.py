"""``python -m runners.isaacgym play``: an rl_games player that follows the run's checkpoints.

Unlike the seed's play loop it

- loads its start checkpoint before the first step (what the state file asks for; in auto mode
  ``nn/latest.pth``), instead of running a random policy until the state file changes;
- follows ``.checkpoint_state.json`` and, in auto mode, ``nn/latest.pth`` itself, checked
  between any two env steps (the seed looks only every 1000 player steps); a switch swaps the
  weights into the running model: the envs, and the Isaac Gym viewer window, stay as they are;
- refuses a bad file (truncated, another network, a type outside the allow-list) and keeps
  the current policy, and says so in ``.viewer/<id>.json`` (the acknowledgement the control
  center shows);
- runs ``play.num_envs`` envs (4, as the seed) with the camera on env ``play.follow_env``.

The env comes from the same backend as training (``envs.py``); the network and the action
rescaling come from rl_games' own player (``Runner.create_player``); this module owns the loop.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

from runners.checkpoint_follower import CheckpointFollower, Loaded
from runners.protocol import RunPaths

from .checkpoint_io import check_compatible, checkpoint_step, load_rl_games_checkpoint
from .config import RunnerConfig
from .envs import Backend
from .rl_config import play_params

EPISODE_LINE_S = 1.0
IDLE_FRAME_S = 1.0 / 30.0
FELL_BEHIND_S = 0.25


class Player(object):
    def __init__(self, run_dir: Path, viewer_id: str, cfg: RunnerConfig, backend: Backend,
                 display: str = "none", stop: Callable[[], bool] = lambda: False,
                 say: Callable[[str], None] = print):
        self.paths = RunPaths(run_dir)
        self.cfg = cfg
        self.backend = backend
        self.stop = stop
        self.say = say
        self.display = display or "none"
        # the ack says "starting" while the (possibly slow) env comes up
        self.follower = CheckpointFollower(self.paths.root, viewer_id, load=self._load,
                                           display=self.display)
        self.player = None  # type: Any
        self.env = None  # type: Any
        self.task = None  # type: Any
        self.camera = None  # type: Any
        self.dt = 0.0
        self.env_steps = 0
        self.episodes = 0
        self._last_error = None  # type: Optional[str]
        self._last_line = 0.0

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        import torch

        from .train import build_runner

        cfg = self.cfg
        self.backend.prepare(self.say)
        headless = self.display in ("none", "")
        env_name = self.backend.register(cfg.play.num_envs, headless=headless)
        params = play_params(cfg, self.backend.rl_games_base(), env_name, self.paths.run_json)
        if self.backend.name == "gymnasium":
            torch.set_num_threads(1)  # a batch of 4: threads only add latency
        runner = build_runner(self.backend, [])
        runner.load(params)
        self.player = runner.create_player()
        self.env = self.player.env
        self.task = self.backend.viewer_task(self.env)
        if self.task is not None and cfg.play.follow_env >= 0 and self.backend.name == "isaacgym":
            from .camera import EnvCamera

            self.camera = EnvCamera(self.task, cfg.play.follow_env, say=self.say)
        # with a window, Isaac Gym paces itself (sync_frame_time in VecTask.render)
        paced_by_viewer = self.task is not None and self.backend.name == "isaacgym"
        if cfg.play.realtime and not paced_by_viewer:
            self.dt = self.backend.step_dt(self.env)
        self.follower.set_extra(backend=self.backend.name, num_envs=cfg.play.num_envs,
                                follow_env=cfg.play.follow_env)

    # ------------------------------------------------------------------ checkpoints
    def _load(self, path: Path) -> Tuple[Dict[str, Any], Optional[int]]:
        state = load_rl_games_checkpoint(path, map_location=self.player.device)
        check_compatible(self.player.model.state_dict(), state["model"], path)
        kept = {"model": state["model"], "env_state": state.get("env_state"),
                "epoch": state.get("epoch")}
        return kept, checkpoint_step(state)

    def _swap(self, loaded: "Loaded[Dict[str, Any]]") -> None:
        state = loaded.policy
        self.player.model.load_state_dict(state["model"])
        env_state = state.get("env_state")
        if env_state is not None and hasattr(self.env, "set_env_state"):
            self.env.set_env_state(env_state)  # as rl_games' player.restore does
        if getattr(self.player, "is_rnn", False):
            self.player.init_rnn()
        self.follower.set_extra(checkpoint_epoch=state.get("epoch"))
        self.say("loaded %s (epoch %s, frame %s)" % (loaded.path, state.get("epoch"),
                                                     loaded.step))

    def poll(self) -> None:
        loaded = self.follower.poll()
        if loaded is not None:
            self._swap(loaded)
        err = self.follower.status.error
        if err and err != self._last_error:
            self.say("checkpoint refused, keeping the current policy: %s" % err)
        self._last_error = err

    # ------------------------------------------------------------------ loop
    def run(self) -> int:
        try:
            self.say("viewer %s: %s, %d envs, display %s; waiting for %s"
                     % (self.follower.viewer_id, self.backend.name, self.cfg.play.num_envs,
                        self.display, self.follower.latest_relpath))
            self.setup()
            if not self._wait_first():
                self.say("stopped before any checkpoint was loaded")
                return 0
            self._loop()
            self.say("stopped after %d env steps, %d episodes" % (self.env_steps, self.episodes))
            return 0
        finally:
            self.follower.set_extra(env_steps=self.env_steps)
            self.follower.close()
            if self.env is not None and hasattr(self.env, "close"):
                try:
                    self.env.close()
                except Exception:
                    pass

    def _wait_first(self) -> bool:
        """Load the start checkpoint before the first step; keep a window responsive."""
        while self.follower.current is None:
            if self.stop():
                return False
            loaded = self.follower.poll(force=True)
            if loaded is not None:
                self._swap(loaded)
                break
            self._idle()
        return True

    def _idle(self) -> None:
        if self.task is not None and hasattr(self.task, "render"):
            self.task.render()  # draws the current scene, handles the window's events
        time.sleep(IDLE_FRAME_S)

    def _loop(self) -> None:
        import torch

        player = self.player
        obs = player.env_reset(self.env)
        batch = player.get_batch_size(obs, 1)
        if getattr(player, "is_rnn", False):
            player.init_rnn()
        returns = torch.zeros(batch, dtype=torch.float64)
        lengths = torch.zeros(batch, dtype=torch.int64)
        next_tick = time.monotonic()
        started = time.monotonic()
        while not self.stop():
            self.poll()
            action = player.get_action(obs, self.cfg.play.deterministic)
            obs, reward, done, _ = player.env_step(self.env, action)
            self.env_steps += 1
            returns += reward.reshape(-1)[:batch].double().cpu()
            lengths += 1
            finished = done.reshape(-1)[:batch].cpu().nonzero(as_tuple=False).flatten()
            if finished.numel():
                self._episodes_done(finished, returns, lengths, started)
                if getattr(player, "is_rnn", False) and player.states is not None:
                    for s in player.states:
                        s[:, finished, :] = 0.0
                returns[finished] = 0.0
                lengths[finished] = 0
            if self.camera is not None:
                self.camera.update()
            if self.dt:
                next_tick = self._pace(next_tick)

    def _episodes_done(self, finished: Any, returns: Any, lengths: Any, started: float) -> None:
        for i in finished.tolist():
            self.episodes += 1
            self.follower.note_episode(float(returns[i]))
        now = time.monotonic()
        self.follower.set_extra(env_steps=self.env_steps,
                                steps_per_s=round(self.env_steps / max(now - started, 1e-9), 1))
        if now - self._last_line >= EPISODE_LINE_S:
            self._last_line = now
            i = finished.tolist()[0]
            cur = self.follower.current
            self.say("episode %d: return %.2f, length %d (env %d, step %s)"
                     % (self.episodes, float(returns[i]), int(lengths[i]), i,
                        cur.step if cur is not None else "?"))

    def _pace(self, next_tick: float) -> float:
        """Real time: wait out the env's time step, still polling so a switch lands at once."""
        next_tick += self.dt
        while not self.stop():
            remaining = next_tick - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(remaining, self.follower.poll_interval))
            self.poll()
        if time.monotonic() - next_tick > FELL_BEHIND_S:
            next_tick = time.monotonic()
        return next_tick
