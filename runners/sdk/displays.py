"""Where a viewer's frames go: nowhere, preview frames for the control center, or a window.

The player calls a :class:`Display` after every env step, swap and episode end. Three kinds,
chosen by the ``--display`` name (parsed by ``runners.protocol.displays``):

- ``none`` -> :class:`PreviewDisplay`: headless; asks the backend for an offscreen frame a few
  times a second, draws the overlay and writes ``preview/<viewer-id>.png``;
- an X display or Wayland socket -> :class:`WindowDisplay`: the backend's window plugin
  (:class:`Window`: MuJoCo's passive viewer, SAPIEN's viewer, Isaac Gym's viewer) opened there,
  kept open across swaps, with the overlay text; closing it ends the viewer;
- :class:`NullDisplay` when a backend cannot render at all (the ack still reports episodes).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Optional, Tuple, Union

import numpy as np

from runners.protocol.displays import KIND_NONE, KIND_X11, display_env, display_kind
from runners.rendering.font import draw_text
from runners.rendering.preview_writer import PreviewWriter

from .view_state import ViewState

OVERLAY_EVERY_S = 0.1  # window overlay text refresh
Say = Callable[[str], None]


class DisplayClosed(Exception):
    """The user closed the window."""


class Window(object):
    """What a backend's live window offers the toolkit (subclass it)."""

    def sync(self) -> None:
        """Draw the env's current state (called after every env step)."""
        raise NotImplementedError

    def is_open(self) -> bool:
        return True

    def set_overlay(self, lines: Tuple[str, ...]) -> None:
        """Show the overlay text (checkpoint, step, returns); optional."""

    def idle(self) -> None:
        """Keep the window responsive while nothing steps (waiting for a first checkpoint)."""

    def close(self) -> None:
        pass


class Display(object):
    name = "none"
    kind = KIND_NONE
    error = None  # type: Optional[str]

    def open(self, scene: Any, view: ViewState) -> None:
        """``scene`` is the backend's playback object (``frame()``, ``open_window()``)."""

    def policy_changed(self, view: ViewState) -> None:
        """A new checkpoint was swapped in."""

    def show(self, view: ViewState) -> None:
        """Called after every env step (raise :class:`DisplayClosed` to end the viewer)."""

    def idle(self) -> None:
        """Called while the viewer waits (no env step)."""

    def close(self) -> None:
        pass


class NullDisplay(Display):
    """Nothing is rendered."""


class PreviewDisplay(Display):
    """Headless: the newest frame goes to ``preview/<viewer-id>.png`` ``hz`` times a second."""

    def __init__(self, run_dir: Union[str, Path], viewer_id: str, hz: float = 4.0,
                 say: Optional[Say] = None):
        self.writer = PreviewWriter(run_dir, viewer_id, hz)
        self._say = say or (lambda line: None)
        self._frame = None  # type: Optional[Callable[[], np.ndarray]]

    def open(self, scene: Any, view: ViewState) -> None:
        frame = getattr(scene, "frame", None)
        if not self.writer.enabled or frame is None:
            return
        try:
            frame()   # the first render sets up the offscreen context: fail here, not later
        except Exception as e:  # no EGL / OSMesa / Vulkan: keep running without frames
            first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
            self.error = "preview off: offscreen rendering failed (MUJOCO_GL=%s): %s" % (
                os.environ.get("MUJOCO_GL", ""), first)
            self._say(self.error)
            return
        self._frame = frame

    def policy_changed(self, view: ViewState) -> None:
        self.writer.now()  # the first frame with the new policy goes out at once

    def show(self, view: ViewState) -> None:
        if self._frame is None or not self.writer.due():
            return
        try:
            frame = np.array(self._frame(), dtype=np.uint8, copy=True)
            draw_text(frame, view.lines())
            self.writer.write(frame, view.meta())
        except OSError as e:
            if self.error is None:
                self._say("preview frame not written: %s" % e)
            self.error = "preview frame not written: %s" % e


class WindowDisplay(Display):
    """The backend's window on an X display or Wayland socket, open across swaps."""

    kind = KIND_X11

    def __init__(self, display: str, say: Optional[Say] = None,
                 on_lost: Optional[Callable[[str], None]] = None):
        self.name = display
        self.kind = display_kind(display)
        self.window = None  # type: Optional[Window]
        self._say = say or (lambda line: None)
        self._on_lost = on_lost
        self._last_text = None  # type: Optional[Tuple[str, ...]]
        self._last_overlay = 0.0

    def open(self, scene: Any, view: ViewState) -> None:
        opener = getattr(scene, "open_window", None)
        if opener is None:
            raise RuntimeError("this backend has no window; use --display none")
        if self.kind == KIND_X11:
            from .x11 import install_x_io_error_handler

            install_x_io_error_handler(self._on_lost)
        self.window = opener(self.name)
        self._overlay(view, force=True)
        self._say("window open on display %s (close it to end this viewer)" % self.name)

    def _overlay(self, view: ViewState, force: bool = False) -> None:
        now = time.monotonic()
        if self.window is None or (not force and now - self._last_overlay < OVERLAY_EVERY_S):
            return
        self._last_overlay = now
        text = view.lines()
        if text != self._last_text:
            self._last_text = text
            self.window.set_overlay(text)

    def policy_changed(self, view: ViewState) -> None:
        self._overlay(view, force=True)

    def show(self, view: ViewState) -> None:
        w = self.window
        if w is None:
            return
        if not w.is_open():
            raise DisplayClosed("the window on %s was closed" % self.name)
        w.sync()
        self._overlay(view)

    def idle(self) -> None:
        if self.window is not None:
            if not self.window.is_open():
                raise DisplayClosed("the window on %s was closed" % self.name)
            self.window.idle()

    def close(self) -> None:
        if self.window is not None:
            try:
                self.window.close()
            except Exception:
                pass
            self.window = None


def prepare_display(display: str) -> str:
    """Before any GL/windowing import: point the process at the display it will use (or at
    offscreen rendering when headless). Returns the display's kind."""
    kind = display_kind(display)
    if kind == KIND_NONE:
        from runners.rendering.offscreen import ensure_offscreen_gl

        ensure_offscreen_gl()
        return kind
    os.environ.update(display_env(display))
    if kind == KIND_X11:
        os.environ.pop("WAYLAND_DISPLAY", None)
        os.environ.setdefault("PYGLFW_LIBRARY_VARIANT", "x11")
    else:
        os.environ.setdefault("PYGLFW_LIBRARY_VARIANT", "wayland")
    if os.environ.get("MUJOCO_GL", "").lower() in ("egl", "osmesa"):
        del os.environ["MUJOCO_GL"]  # a window needs GLFW's own context
    return kind


def make_display(name: str, run_dir: Union[str, Path] = ".", viewer_id: str = "viewer",
                 preview_hz: float = 4.0, say: Optional[Say] = None,
                 on_lost: Optional[Callable[[str], None]] = None) -> Display:
    kind = display_kind(name)   # ValueError naming what is allowed
    if kind == KIND_NONE:
        return PreviewDisplay(run_dir, viewer_id, preview_hz, say)
    return WindowDisplay(name, say, on_lost)
