"""The player template: an env driven by whatever checkpoint the run's state file asks for,
hot-swapped between env steps (no reset on a swap), acknowledged, paced, shown.

A backend supplies a :class:`Playback` (env, load, act, and for pictures ``frame()`` and/or
``open_window(display)``); :class:`Player` owns everything else:

- the follow/poll -> load (on a loader thread) -> swap-between-steps -> ack loop
  (:class:`~runners.sdk.follower.CheckpointFollower`); a refused checkpoint keeps the current
  policy and the refusal is logged and acked;
- real-time pacing at the env's ``dt``; while it waits it keeps polling, and a finished load
  wakes it at once, so a switch lands within a few milliseconds;
- episode accounting for one env or a batch (a batched env resets its finished envs itself),
  episode lines in the log (at most one a second), returns in the ack and the overlay;
- the display (preview frames, a window, or nothing), and ending when the window is closed;
- a headless viewer nobody has watched for ``idle_exit`` seconds ends itself.
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Optional, Tuple

import numpy as np

from runners.protocol.preview import preview_watched_at

from .displays import Display, DisplayClosed, NullDisplay
from .follower import CheckpointFollower, Loaded
from .stop_flag import StopFlag
from .view_state import ViewState

FELL_BEHIND_S = 0.25   # realtime pacing gives up catching up beyond this lag
EPISODE_LINE_S = 1.0   # at most one episode line per second in the log
POLL_SLICE_S = 0.004   # while pacing, the state file is looked at this often
IDLE_CHECK_S = 5.0
SWITCH_INTERVAL_S = 0.0005


class Playback(object):
    """What a backend supplies to play (and record) its checkpoints. Subclass it.

    Required: :meth:`make_env`, :meth:`load`, :meth:`act`. For pictures, define
    ``frame(self) -> np.ndarray`` (H x W x 3 uint8 of the env's current state, offscreen:
    preview frames and videos) and/or ``open_window(self, display) -> runners.sdk.Window``
    (a live window on an X display or Wayland socket).
    """

    env_label = ""       # shown in the overlay and the log (e.g. the env id)
    ack_extra = {}  # type: dict   # shown with the viewer's ack (e.g. backend, num_envs)
    dt = 0.0             # seconds of simulated time per env step (real-time pacing); 0 = none
    seed = 0

    def make_env(self) -> Any:
        """A gymnasium-style env: ``reset(seed=) -> (obs, info)``, ``step(a) -> (obs, reward,
        terminated, truncated, info)``. A batch returns arrays and resets finished envs."""
        raise NotImplementedError

    def load(self, path: Path) -> Tuple[Any, Optional[int]]:
        """Read a checkpoint into a policy: ``(policy, step or None)``. Runs on the loader
        thread, while the env keeps stepping with the current policy. Raise to refuse the
        file (the message goes into the ack); never unpickle blindly."""
        raise NotImplementedError

    def act(self, policy: Any, obs: Any) -> Any:
        raise NotImplementedError

    def activate(self, policy: Any) -> None:
        """Called on the env thread when ``policy`` is swapped in (e.g. copy weights into a
        model the env loop uses). Optional."""

    def zero_action(self) -> Any:
        """The action that lets a scene settle (videos' ``settle_steps``)."""
        space = getattr(self, "env", None)
        space = getattr(space, "action_space", None)
        if space is None:
            raise NotImplementedError("zero_action: the env has no action_space")
        return np.zeros(space.shape, dtype=space.dtype)

    def close(self) -> None:
        env = getattr(self, "env", None)
        if env is not None and hasattr(env, "close"):
            env.close()


@dataclass
class PlayOptions:
    realtime: bool = True
    idle_exit: float = 0.0          # s unwatched before a headless viewer ends; 0 = never
    seed: Optional[int] = None


@dataclass
class _Episodes:
    returns: Any = 0.0
    lengths: Any = 0
    count: int = 0
    batched: bool = False
    last_line: float = 0.0
    started: float = field(default_factory=time.monotonic)


class Player(object):
    def __init__(self, run_dir: Path, viewer_id: str, playback: Playback,
                 display: Optional[Display] = None, options: Optional[PlayOptions] = None,
                 stop: Optional[StopFlag] = None, out: IO[str] = sys.stdout):
        self.run_dir = Path(run_dir)
        self.viewer_id = viewer_id
        self.playback = playback
        self.display = display or NullDisplay()
        self.options = options or PlayOptions()
        self.stop = stop if stop is not None else StopFlag()
        self.out = out
        self.wakeup = threading.Event()
        self.follower = CheckpointFollower(run_dir, viewer_id, load=playback.load,
                                           display=self.display.name, wakeup=self.wakeup)
        self.view = ViewState(playback.env_label)
        self.env = None  # type: Any
        self.obs = None  # type: Any
        self.policy = None  # type: Any
        self.env_steps = 0
        self.dt = 0.0
        self.ep = _Episodes()
        self._next_tick = 0.0
        self._last_error = None  # type: Optional[str]
        self._idle_checked = time.monotonic()
        self._started_wall = time.time()

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def fail(self, message: str) -> None:
        """Report a crash in the ack (state ``error``) before the process ends."""
        self.follower.fail(message)

    # ------------------------------------------------------------------ loop
    def run(self) -> int:
        crashed = False
        # the loader thread gets the GIL within 0.5 ms of asking (default 5 ms): a finished
        # load is swapped in at once, also when the env loop never sleeps
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        try:
            self.say("Viewer %s: %s, display %s, %s; waiting for a checkpoint (%s)"
                     % (self.viewer_id, self.playback.env_label or "env", self.display.name,
                        "real time" if self.options.realtime else "as fast as possible",
                        self.follower.latest_relpath))
            self.env = self.playback.make_env()
            self.playback.env = self.env
            if self.playback.ack_extra:
                self.follower.set_extra(**self.playback.ack_extra)
            self.dt = float(self.playback.dt or 0.0) if self.options.realtime else 0.0
            self.obs, _ = self.env.reset(seed=self.options.seed)
            self.display.open(self.playback, self.view)
            if self.display.error:
                self.follower.set_extra(display_error=self.display.error)
            first = self.follower.wait_for_first(should_stop=self.stop, idle=self._idle)
            self._report_error()
            if first is None:
                self.say("stopped by %s before any checkpoint was loaded" % self.stop.name)
                return 0
            self._swap(first)
            self._next_tick = time.monotonic()
            try:
                while not self.stop.is_set():
                    self.step()
                    if self._idle_too_long():
                        return 0
            except DisplayClosed as e:
                self.say("%s: the viewer ends after %d episodes" % (e, self.ep.count))
                return 0
            self.say("stopped by %s after %d episodes" % (self.stop.name, self.ep.count))
            return 0
        except DisplayClosed as e:
            self.say("%s before any checkpoint was shown: the viewer ends" % e)
            return 0
        except Exception as e:
            crashed = True
            self.fail("viewer crashed: %s: %s" % (type(e).__name__, e))
            raise
        finally:
            self.follower.set_extra(env_steps=self.env_steps)
            if not crashed:
                self.follower.close()
            self.display.close()
            try:
                self.playback.close()
            except Exception:
                pass

    def _idle(self) -> None:
        self.display.idle()

    def step(self) -> None:
        """One env step with the current policy, then the display hook and the pacing."""
        self.poll()
        action = self.playback.act(self.policy, self.obs)
        obs, reward, terminated, truncated, _info = self.env.step(action)
        self.env_steps += 1
        self._account(reward, terminated, truncated)
        self.view.env_steps = self.env_steps
        self.display.show(self.view)
        if not self.ep.batched and (terminated or truncated):
            obs, _ = self.env.reset()
        self.obs = obs
        self._pace()

    def poll(self) -> None:
        """Ask the follower for a newly loaded policy; swap it in (the env is not reset)."""
        loaded = self.follower.poll()
        if loaded is not None:
            self._swap(loaded)
        self._report_error()

    def _swap(self, loaded: "Loaded[Any]") -> None:
        self.playback.activate(loaded.policy)
        self.policy = loaded.policy
        self.view.set_checkpoint(loaded.path, loaded.step)
        self.display.policy_changed(self.view)
        self.say("loaded %s (step %s)" % (loaded.path, loaded.step))

    def _report_error(self) -> None:
        err = self.follower.status.error
        if err and err != self._last_error:
            self.say("checkpoint refused, keeping the current policy: %s" % err)
        self._last_error = err

    # ------------------------------------------------------------------ episodes
    def _account(self, reward: Any, terminated: Any, truncated: Any) -> None:
        ep = self.ep
        if np.ndim(reward) == 0:
            ep.returns = float(ep.returns) + float(reward)
            ep.lengths = int(ep.lengths) + 1
            self.view.return_so_far = ep.returns
            if terminated or truncated:
                self._episode_done(float(ep.returns), int(ep.lengths))
                ep.returns, ep.lengths = 0.0, 0
                self.view.return_so_far = 0.0
            return
        r = np.asarray(reward, dtype=np.float64).reshape(-1)
        if not ep.batched:
            ep.batched = True
            ep.returns = np.zeros(r.size)
            ep.lengths = np.zeros(r.size, dtype=np.int64)
        ep.returns += r
        ep.lengths += 1
        done = np.logical_or(np.asarray(terminated).reshape(-1), np.asarray(truncated).reshape(-1))
        for i in np.flatnonzero(done):
            self._episode_done(float(ep.returns[i]), int(ep.lengths[i]), env_index=int(i))
            ep.returns[i], ep.lengths[i] = 0.0, 0
        self.view.return_so_far = float(ep.returns[0])

    def _episode_done(self, episode_return: float, length: int, env_index: int = 0) -> None:
        ep = self.ep
        ep.count += 1
        self.follower.note_episode(episode_return)
        elapsed = max(time.monotonic() - ep.started, 1e-9)
        self.follower.set_extra(episode_length=length, env_steps=self.env_steps,
                                steps_per_s=round(self.env_steps / elapsed, 1))
        if env_index == 0:
            self.view.episode += 1
            self.view.episode_return = episode_return
        now = time.monotonic()
        if now - ep.last_line >= EPISODE_LINE_S:
            ep.last_line = now
            cur = self.follower.current
            self.say("episode %d: return %.1f, length %d%s (step %s)"
                     % (ep.count, episode_return, length,
                        ", env %d" % env_index if ep.batched else "",
                        cur.step if cur is not None else "?"))

    # ------------------------------------------------------------------ pacing, idling
    def _pace(self) -> None:
        """Real time: wait out the env's dt, still polling so a switch lands quickly."""
        if not self.dt:
            return
        self._next_tick += self.dt
        while not self.stop.is_set():
            remaining = self._next_tick - time.monotonic()
            if remaining <= 0:
                break
            self.follower.loader.wait(min(remaining, POLL_SLICE_S))
            self.poll()
        if time.monotonic() - self._next_tick > FELL_BEHIND_S:
            self._next_tick = time.monotonic()  # slower than real time: do not sprint after

    def _idle_too_long(self) -> bool:
        """A headless viewer nobody watched (preview, checkpoint requests) for idle_exit s."""
        limit = self.options.idle_exit
        now = time.monotonic()
        if limit <= 0 or self.display.kind != "none" or now - self._idle_checked < IDLE_CHECK_S:
            return False
        self._idle_checked = now
        out = self.follower.paths.root      # frames, acks and the watch mark live here
        last = max(self._started_wall, preview_watched_at(out, self.viewer_id) or 0.0,
                   self.follower.last_request_time())
        if time.time() - last < limit:
            return False
        self.say("nobody has watched this headless viewer for %.0f s (idle_exit): it ends"
                 % (time.time() - last))
        return True

