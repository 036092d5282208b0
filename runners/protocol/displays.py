"""Display names: the one parser for what ``--display`` may say.

- ``none`` (or empty): headless; a viewer writes preview frames (``preview/<id>.png``).
- an X display: ``:0``, ``:1.0``, ``localhost:10.0`` (``ssh -X``), ``host:0``.
- a Wayland socket: ``wayland-0`` or an absolute socket path.

The control center (discovery, probes, the env of a viewer it starts) and every runner (which
window to open, which GL platform to pick) parse names here and nowhere else.
"""
from __future__ import annotations

import re
from typing import Dict

HEADLESS = "none"
KIND_NONE = "none"
KIND_X11 = "x11"
KIND_WAYLAND = "wayland"

_X_RE = re.compile(r"^[A-Za-z0-9_.\-\[\]]*:\d+(\.\d+)?$")
_WAYLAND_RE = re.compile(r"^wayland-[A-Za-z0-9_.-]+$|^/.+")


def is_headless(name: str) -> bool:
    return name in (HEADLESS, "")


def is_x_display(name: str) -> bool:
    return bool(_X_RE.match(name))


def is_wayland_display(name: str) -> bool:
    return not is_x_display(name) and bool(_WAYLAND_RE.match(name))


def display_kind(name: str) -> str:
    """``none``, ``x11`` or ``wayland``; ValueError (saying what is allowed) for anything else."""
    if is_headless(name):
        return KIND_NONE
    if is_x_display(name):
        return KIND_X11
    if is_wayland_display(name):
        return KIND_WAYLAND
    raise ValueError("--display %r is not a display: use none (headless, preview frames), an X "
                     "display such as :0 or localhost:10.0, or a Wayland socket such as "
                     "wayland-0" % (name,))


def display_env(name: str) -> Dict[str, str]:
    """The environment a process needs to open a window on ``name`` (empty when headless)."""
    kind = display_kind(name)
    if kind == KIND_X11:
        return {"DISPLAY": name}
    if kind == KIND_WAYLAND:
        return {"WAYLAND_DISPLAY": name}
    return {}
