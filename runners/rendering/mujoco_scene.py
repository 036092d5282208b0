"""Gymnasium MuJoCo envs on the toolkit's displays: offscreen frames and a passive-viewer window.

Any backend whose env is a MuJoCo model (the embedded PPO runner, SERL's Ant, the AMP walkers)
gets ``frame()`` and ``open_window()`` for its :class:`~runners.sdk.player.Playback` from here.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Optional, Tuple

import numpy as np

from runners.sdk.displays import Window

from .offscreen import FrameRenderer, apply_camera_config, env_camera_config

WINDOW_OPEN_TIMEOUT_S = 30.0


class MujocoFrames(object):
    """Offscreen RGB frames of an env's MuJoCo state, from the env's own camera."""

    def __init__(self, size: Tuple[int, int] = (256, 256)):
        self.size = size
        self._renderer = None  # type: Optional[FrameRenderer]
        self._env = None  # type: Any

    def frame(self, env: Any) -> np.ndarray:
        if self._renderer is None or self._env is not env:
            self.close()
            u = env.unwrapped
            self._renderer = FrameRenderer(u.model, self.size[0], self.size[1],
                                           camera=env_camera_config(env))
            self._env = env
        return self._renderer.render(env.unwrapped.data)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


class MujocoWindow(Window):
    """MuJoCo's passive viewer on the display the process was pointed at (DISPLAY /
    WAYLAND_DISPLAY, set by ``runners.sdk.displays.prepare_display``)."""

    def __init__(self, env: Any, display: str):
        import mujoco.viewer

        self.display = display
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
                               % (display, WINDOW_OPEN_TIMEOUT_S))
        if isinstance(got, BaseException):
            raise RuntimeError("cannot open a window on display %s: %s" % (display, got))
        self.handle = got
        self._thread = next((t for t in threading.enumerate()
                             if t not in before and t is not opener and t.is_alive()), None)
        with self.handle.lock():
            apply_camera_config(self.handle.cam, env_camera_config(env))

    def sync(self) -> None:
        self.handle.sync()

    def is_open(self) -> bool:
        return self.handle is not None and self.handle.is_running()

    def set_overlay(self, lines: Tuple[str, ...]) -> None:
        self.handle.set_texts((None, None, "\n".join(lines), ""))

    def idle(self) -> None:
        self.handle.sync()

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
