"""``python -m runners.mujoco play``: one env, driven by whatever checkpoint the run's state file
asks for, hot-swapped between env steps (no reset on a swap).

:class:`Player` owns the loop; a :class:`Display` receives every step, swap and episode end:

- ``none`` (:class:`PreviewDisplay`): headless; renders offscreen a few times a second (small,
  shadows and multisampling off) and writes ``preview/<viewer-id>.png`` for the control center.
- an X display (``:0``, ``localhost:10.0``) or a Wayland socket (``wayland-0``)
  (:class:`WindowDisplay`): MuJoCo's passive viewer; an overlay shows checkpoint, step and
  returns; the window stays open across swaps. Closing the window ends the viewer (exit 0).
"""
from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import IO, Any, Optional, Tuple, Union

import numpy as np

from runners.checkpoint_follower import CheckpointFollower, Loaded
from runners.protocol import latest_link_target, write_viewer_status
from runners.rendering.font import draw_text
from runners.rendering.offscreen import FrameRenderer, env_camera_config
from runners.rendering.preview_writer import PreviewWriter

from .checkpoint import InferencePolicy, load_policy
from .config import RunnerConfig
from .envs import env_dt, make_env, space_dims
from runners.stop_flag import StopFlag

FELL_BEHIND_S = 0.25   # realtime pacing gives up catching up beyond this lag
EPISODE_LINE_S = 1.0   # at most one episode line per second in the log
WINDOW_OPEN_TIMEOUT_S = 30.0
OVERLAY_EVERY_S = 0.1  # window overlay text refresh

_X_DISPLAY_RE = re.compile(r"^[A-Za-z0-9_.\-\[\]]*:\d+(\.\d+)?$")
_WAYLAND_RE = re.compile(r"^wayland-[A-Za-z0-9_.-]+$|^/.+")


def is_x_display(name: str) -> bool:
    return bool(_X_DISPLAY_RE.match(name))


def is_wayland_display(name: str) -> bool:
    return bool(_WAYLAND_RE.match(name)) and not is_x_display(name)


class ViewState(object):
    """What a display may show about the policy: the player keeps it current."""

    def __init__(self, env_id: str):
        self.env_id = env_id
        self.checkpoint = None  # type: Optional[str]
        self.label = None  # type: Optional[str]   e.g. "ckpt_000002048.pth (latest)"
        self.step = None  # type: Optional[int]
        self.episode = 0
        self.episode_return = None  # type: Optional[float]  (last finished episode)
        self.return_so_far = 0.0
        self.env_steps = 0

    def lines(self) -> Tuple[str, str]:
        name = self.label or (Path(self.checkpoint).name if self.checkpoint else "-")
        first = "%s  step %s" % (name, "-" if self.step is None else self.step)
        last = "-" if self.episode_return is None else "%.1f" % self.episode_return
        second = "episode %d  return %.1f  last %s" % (self.episode + 1, self.return_so_far, last)
        return first, second

    def meta(self) -> dict:
        return {"checkpoint": self.checkpoint, "checkpoint_step": self.step,
                "episode": self.episode, "episode_return": self.episode_return,
                "return_so_far": round(self.return_so_far, 4), "env_steps": self.env_steps,
                "env_id": self.env_id}


def checkpoint_label(path: Path) -> str:
    """``latest.pth`` is a hard link to a numbered file: show that one's name too."""
    twin = latest_link_target(path)
    return "%s (%s)" % (twin.name, path.stem) if twin is not None else path.name


class DisplayClosed(Exception):
    """The user closed the window."""


class Display(object):
    """Where a viewer's frames go. Subclasses set ``name`` and ``render_mode``."""

    name = "none"
    render_mode = None  # type: Optional[str]

    def open(self, env: Any, view: ViewState) -> None:
        pass

    def policy_changed(self, view: ViewState) -> None:
        """A new checkpoint was swapped in."""

    def show(self, env: Any, view: ViewState) -> None:
        """Called after every env step (raise :class:`DisplayClosed` to end the viewer)."""

    def episode_end(self, episode: int, episode_return: float, length: int) -> None:
        pass

    def close(self) -> None:
        pass


class NullDisplay(Display):
    """Nothing is rendered (the viewer still reports episodes in its ack)."""


class PreviewDisplay(Display):
    """Headless: the newest frame goes to ``preview/<viewer-id>.png`` ``hz`` times a second."""

    name = "none"

    def __init__(self, run_dir: Union[str, Path], viewer_id: str, hz: float = 4.0,
                 size: Tuple[int, int] = (256, 256), say: Any = None):
        self.writer = PreviewWriter(run_dir, viewer_id, hz)
        self.size = size
        self.renderer = None  # type: Optional[FrameRenderer]
        self.error = None  # type: Optional[str]
        self._say = say or (lambda line: None)
        self._data = None  # type: Any

    def open(self, env: Any, view: ViewState) -> None:
        if not self.writer.enabled:
            return
        try:
            u = env.unwrapped
            self.renderer = FrameRenderer(u.model, self.size[0], self.size[1],
                                          camera=env_camera_config(env))
            self._data = u.data
        except Exception as e:  # no EGL / OSMesa: keep running headless without frames
            self.error = "preview off: offscreen rendering failed (MUJOCO_GL=%s): %s" % (
                os.environ.get("MUJOCO_GL", ""), str(e).strip().splitlines()[0][:300]
                if str(e).strip() else type(e).__name__)
            self._say(self.error + "; set MUJOCO_GL=osmesa and PYOPENGL_PLATFORM=osmesa in the "
                      "profile's play env to use OSMesa")

    def policy_changed(self, view: ViewState) -> None:
        self.writer.now()  # the first frame with the new policy goes out at once

    def show(self, env: Any, view: ViewState) -> None:
        if self.renderer is None or not self.writer.due():
            return
        frame = self.renderer.render(self._data)
        draw_text(frame, view.lines())
        try:
            self.writer.write(frame, view.meta())
        except OSError as e:
            if self.error is None:
                self._say("preview frame not written: %s" % e)
            self.error = "preview frame not written: %s" % e

    def close(self) -> None:
        if self.renderer is not None:
            self.renderer.close()
            self.renderer = None


class WindowDisplay(Display):
    """MuJoCo's passive viewer on an X display or Wayland socket, open across swaps."""

    def __init__(self, display: str, say: Any = None, on_lost: Any = None):
        self.name = display
        self.handle = None  # type: Any
        self._thread = None  # type: Any
        self._say = say or (lambda line: None)
        self._on_lost = on_lost
        self._last_text = None  # type: Optional[Tuple[str, str]]
        self._last_overlay = 0.0

    def open(self, env: Any, view: ViewState) -> None:
        import queue
        import threading

        import mujoco.viewer

        from runners.rendering.offscreen import apply_camera_config

        if is_x_display(self.name):
            install_x_io_error_handler(self._on_lost)
        u = env.unwrapped
        box = queue.Queue(1)  # type: Any
        before = set(threading.enumerate())

        def launch() -> None:
            try:
                box.put(mujoco.viewer.launch_passive(u.model, u.data, show_left_ui=False,
                                                     show_right_ui=False))
            except BaseException as e:  # noqa: B902 - reported to the opener below
                box.put(e)

        opener = threading.Thread(target=launch, name="window-opener", daemon=True)
        opener.start()
        try:
            got = box.get(timeout=WINDOW_OPEN_TIMEOUT_S)
        except queue.Empty:
            raise RuntimeError("the window on display %s did not open within %.0f s"
                               % (self.name, WINDOW_OPEN_TIMEOUT_S))
        if isinstance(got, BaseException):
            raise RuntimeError("cannot open a window on display %s: %s" % (self.name, got))
        self.handle = got
        self._thread = next((t for t in threading.enumerate()
                             if t not in before and t is not opener and t.is_alive()), None)
        cfg = env_camera_config(env)
        with self.handle.lock():
            apply_camera_config(self.handle.cam, cfg)
        self._overlay(view, force=True)
        self._say("window open on display %s (close it to end this viewer)" % self.name)

    def _overlay(self, view: ViewState, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_overlay < OVERLAY_EVERY_S:
            return
        self._last_overlay = now
        text = view.lines()
        if text != self._last_text:
            self._last_text = text
            self.handle.set_texts((None, None, "\n".join(text), ""))

    def policy_changed(self, view: ViewState) -> None:
        if self.handle is not None:
            self._overlay(view, force=True)

    def show(self, env: Any, view: ViewState) -> None:
        h = self.handle
        if h is None:
            return
        if not h.is_running():
            raise DisplayClosed("the window on %s was closed" % self.name)
        h.sync()
        self._overlay(view)

    def close(self) -> None:
        if self.handle is not None:
            try:
                self.handle.close()
            except Exception:
                pass
            self.handle = None
        if self._thread is not None:
            self._thread.join(10.0)  # exiting while it tears down GLFW crashes the process
            self._thread = None


_X_HANDLER = []  # type: list


def install_x_io_error_handler(on_lost: Any) -> None:
    """When the X server goes away (SSH forwarding dropped, Xvfb killed), Xlib would exit(1)
    silently: report it first (``on_lost(message)``), then exit 1."""
    import ctypes
    import ctypes.util

    if _X_HANDLER:
        return
    name = ctypes.util.find_library("X11") or "libX11.so.6"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return
    proto = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)

    def handler(_dpy: Any) -> int:
        msg = "lost the X display %s (X server gone or connection closed)" % \
            os.environ.get("DISPLAY", "?")
        try:
            if on_lost is not None:
                on_lost(msg)
            sys.stdout.write("viewer error: %s\n" % msg)
            sys.stdout.flush()
        finally:
            os._exit(1)
        return 0

    cb = proto(handler)
    lib.XSetIOErrorHandler.argtypes = [proto]
    lib.XSetIOErrorHandler.restype = ctypes.c_void_p
    lib.XSetIOErrorHandler(cb)
    _X_HANDLER.append(cb)  # keep the callback alive


def make_display(name: str, run_dir: Union[str, Path] = ".", viewer_id: str = "viewer",
                 preview_hz: float = 4.0, preview_size: Tuple[int, int] = (256, 256),
                 say: Any = None, on_lost: Any = None) -> Display:
    if name in ("none", ""):
        return PreviewDisplay(run_dir, viewer_id, preview_hz, preview_size, say)
    if is_x_display(name) or is_wayland_display(name):
        return WindowDisplay(name, say, on_lost)
    raise ValueError("--display %r is not a display: use none (headless, preview frames), an X "
                     "display such as :0 or localhost:10.0, or a Wayland socket such as "
                     "wayland-0" % (name,))


class Player(object):
    def __init__(self, run_dir: Union[str, Path], viewer_id: str, cfg: RunnerConfig,
                 display: Optional[Display] = None, stop: Optional[StopFlag] = None,
                 out: IO[str] = sys.stdout):
        import torch

        torch.set_num_threads(1)  # one env, batch of one: threads only add latency
        self.cfg = cfg
        self.stop = stop if stop is not None else StopFlag()
        self.out = out
        self.display = display or NullDisplay()
        self.env = make_env(cfg.env_id, render_mode=self.display.render_mode)
        dims = space_dims(self.env, vector=False)
        self.obs_dim, self.act_dim = dims["obs_dim"], dims["act_dim"]
        self.act_low, self.act_high = dims["act_low"], dims["act_high"]
        self.dt = env_dt(self.env) if cfg.play.realtime else 0.0
        self.follower = CheckpointFollower(run_dir, viewer_id, load=self._load,
                                           display=self.display.name)
        self.view = ViewState(cfg.env_id)
        self.policy = None  # type: Optional[InferencePolicy]
        self.obs = None  # type: Optional[np.ndarray]
        self.episode = 0
        self.episode_return = 0.0
        self.episode_length = 0
        self.env_steps = 0
        self._next_tick = 0.0
        self._last_error = None  # type: Optional[str]
        self._last_episode_line = 0.0
        self._started = time.monotonic()

    def _load(self, path: Path) -> Tuple[InferencePolicy, Optional[int]]:
        return load_policy(path, self.cfg.env_id, self.obs_dim, self.act_dim, self.act_low,
                           self.act_high)

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def fail(self, message: str) -> None:
        """Report a crash in the ack (state ``error``) before the process ends."""
        status = self.follower.status
        status.state = "error"
        status.error = message
        try:
            write_viewer_status(self.follower.paths.root, status)
        except OSError:
            pass

    # ------------------------------------------------------------------ loop
    def run(self) -> int:
        crashed = False
        try:
            self.say("Viewer %s started: %s, display %s, %s, waiting for a checkpoint (%s)"
                     % (self.follower.viewer_id, self.cfg.env_id, self.display.name,
                        "real time" if self.dt else "as fast as possible",
                        self.follower.latest_relpath))
            first = self.follower.wait_for_first(should_stop=self.stop)
            self._report_error()
            if first is None:
                self.say("stopped by %s before any checkpoint was loaded" % self.stop.name)
                return 0
            self.obs, _ = self.env.reset(seed=self.cfg.seed)
            self._swap(first)
            self.display.open(self.env, self.view)
            err = getattr(self.display, "error", None)
            if err:
                self.follower.set_extra(display_error=err)
            self._next_tick = time.monotonic()
            try:
                while not self.stop.is_set():
                    self.step()
            except DisplayClosed as e:
                self.say("%s: the viewer ends after %d episodes" % (e, self.episode))
                return 0
            self.say("stopped by %s after %d episodes" % (self.stop.name, self.episode))
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
            self.env.close()

    def step(self) -> None:
        """One env step with the current policy, then the display hook and the pacing."""
        self.poll()
        assert self.policy is not None and self.obs is not None
        action = self.policy.act(self.obs, self.cfg.play.deterministic)
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.env_steps += 1
        self.follower.set_extra(env_steps=self.env_steps)  # goes out with the next ack
        self.episode_length += 1
        self.episode_return += float(reward)
        self.view.return_so_far = self.episode_return
        self.view.env_steps = self.env_steps
        self.display.show(self.env, self.view)
        if terminated or truncated:
            self._end_episode()
            obs, _ = self.env.reset()
        self.obs = obs
        self._pace()

    def poll(self) -> None:
        """Ask the follower for a new policy; swap it in place (the env is not reset)."""
        loaded = self.follower.poll()
        if loaded is not None:
            self._swap(loaded)
        self._report_error()

    def _swap(self, loaded: "Loaded[InferencePolicy]") -> None:
        self.policy = loaded.policy
        self.view.checkpoint = str(loaded.path)
        self.view.label = checkpoint_label(loaded.path)
        self.view.step = loaded.step
        self.display.policy_changed(self.view)
        self.say("loaded %s (step %s)" % (loaded.path, loaded.step))

    def _report_error(self) -> None:
        err = self.follower.status.error
        if err and err != self._last_error:
            self.say("checkpoint refused, keeping the current policy: %s" % err)
        self._last_error = err

    def _end_episode(self) -> None:
        self.episode += 1
        self.follower.note_episode(self.episode_return)
        elapsed = max(time.monotonic() - self._started, 1e-9)
        self.follower.set_extra(episode_length=self.episode_length,
                                steps_per_s=round(self.env_steps / elapsed, 1))
        self.display.episode_end(self.episode, self.episode_return, self.episode_length)
        self.view.episode = self.episode
        self.view.episode_return = self.episode_return
        self.view.return_so_far = 0.0
        now = time.monotonic()
        if now - self._last_episode_line >= EPISODE_LINE_S:
            self._last_episode_line = now
            self.say("episode %d: return %.1f, length %d (step %s)"
                     % (self.episode, self.episode_return, self.episode_length,
                        self.policy.step if self.policy is not None else "?"))
        self.episode_return = 0.0
        self.episode_length = 0

    def _pace(self) -> None:
        """Real time: wait out the env's dt, still polling so a switch lands quickly."""
        if not self.dt:
            return
        self._next_tick += self.dt
        while not self.stop.is_set():
            remaining = self._next_tick - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(remaining, self.follower.poll_interval))
            self.poll()
        lag = time.monotonic() - self._next_tick
        if lag > FELL_BEHIND_S:
            self._next_tick = time.monotonic()  # slower than real time: do not sprint after
