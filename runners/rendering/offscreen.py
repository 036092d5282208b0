"""Offscreen MuJoCo frames, cheap: shadows, reflections and multisampling off.

On a box without a GPU (llvmpipe) a 256x256 frame of a gymnasium MuJoCo env costs ~30 ms with
the default settings; with shadows and multisampling off it costs 1-10 ms. Call
:func:`ensure_offscreen_gl` before ``mujoco`` is first imported: the GL backend is chosen at
import time (``MUJOCO_GL``; EGL by default, ``osmesa`` also needs ``PYOPENGL_PLATFORM``).
"""
from __future__ import annotations

import os
import sys
from typing import Any, Dict, Optional, Tuple

import numpy as np


def ensure_offscreen_gl() -> str:
    """Set ``MUJOCO_GL`` (EGL unless the user chose one) and the matching PyOpenGL platform."""
    backend = os.environ.get("MUJOCO_GL", "").strip().lower()
    if not backend or backend in ("glfw", "glx") and not os.environ.get("DISPLAY"):
        backend = "egl"
        os.environ["MUJOCO_GL"] = backend
    if backend in ("egl", "osmesa"):
        os.environ.setdefault("PYOPENGL_PLATFORM", backend)
    return backend


def mujoco_imported() -> bool:
    return "mujoco" in sys.modules


def env_camera_config(env: Any) -> Dict[str, Any]:
    """The default camera a gymnasium MuJoCo env renders with (empty when it has none)."""
    renderer = getattr(getattr(env, "unwrapped", env), "mujoco_renderer", None)
    cfg = getattr(renderer, "default_cam_config", None)
    return dict(cfg) if isinstance(cfg, dict) else {}


def make_camera(model: Any, config: Optional[Dict[str, Any]] = None) -> Any:
    """A free camera framed on the model, adjusted by a gymnasium camera config; a
    ``trackbodyid`` makes it follow that body."""
    import mujoco

    cam = mujoco.MjvCamera()
    mujoco.mjv_defaultFreeCamera(model, cam)
    apply_camera_config(cam, config or {})
    return cam


def apply_camera_config(cam: Any, config: Dict[str, Any]) -> None:
    import mujoco

    for key, value in config.items():
        if key == "trackbodyid":
            if int(value) > 0:
                cam.type = mujoco.mjtCamera.mjCAMERA_TRACKING
                cam.trackbodyid = int(value)
            continue
        if not hasattr(cam, key):
            continue
        if isinstance(value, np.ndarray) or isinstance(value, (list, tuple)):
            getattr(cam, key)[:] = np.asarray(value, dtype=np.float64)
        else:
            setattr(cam, key, value)


class FrameRenderer(object):
    """RGB frames of a MuJoCo model at a fixed size, from a camera like the env's own."""

    def __init__(self, model: Any, width: int, height: int,
                 camera: Optional[Dict[str, Any]] = None, shadows: bool = False,
                 multisample: bool = False, reflections: bool = False):
        import mujoco

        self.width, self.height = int(width), int(height)
        vis = model.vis
        saved = (vis.quality.offsamples, vis.global_.offwidth, vis.global_.offheight)
        if not multisample:
            vis.quality.offsamples = 0
        vis.global_.offwidth = max(vis.global_.offwidth, self.width)
        vis.global_.offheight = max(vis.global_.offheight, self.height)
        try:
            self._renderer = mujoco.Renderer(model, self.height, self.width)
        finally:  # the context is made: leave the model as the env had it
            vis.quality.offsamples, vis.global_.offwidth, vis.global_.offheight = saved
        flags = self._renderer.scene.flags
        flags[mujoco.mjtRndFlag.mjRND_SHADOW] = bool(shadows)
        flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = bool(reflections)
        self.camera = make_camera(model, camera)

    def render(self, data: Any) -> np.ndarray:
        """An (H, W, 3) uint8 frame of ``data`` (a new array)."""
        self._renderer.update_scene(data, camera=self.camera)
        return self._renderer.render()

    def close(self) -> None:
        r = getattr(self, "_renderer", None)
        if r is not None:
            r.close()
            self._renderer = None


def parse_size(text: str, what: str = "size") -> Tuple[int, int]:
    """``256x192`` -> (256, 192); even sizes only (mp4/yuv420p needs them)."""
    try:
        w, h = (int(p) for p in text.lower().split("x"))
    except ValueError:
        raise ValueError("%s %r: expected WIDTHxHEIGHT, e.g. 256x256" % (what, text))
    if not (16 <= w <= 4096 and 16 <= h <= 4096):
        raise ValueError("%s %r: width and height must be 16..4096" % (what, text))
    return w, h
