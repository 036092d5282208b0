"""Window mode under a real X server (Xvfb): MuJoCo's passive viewer shows the policy with an
overlay, stays open across checkpoint swaps (screenshots differ between two checkpoints), and a
viewer whose display dies reports it, shows as failed, and restarts with its display and
checkpoint. Screenshots are read from the X server with XGetImage (ctypes, libX11)."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("mujoco")
if not shutil.which("Xvfb"):
    pytest.skip("Xvfb is not installed (apt install xvfb)", allow_module_level=True)

from runners.protocol import (RunPaths, read_proc_record, read_viewer_status,
                              save_torch_checkpoint, write_state)
from tui.core.registry import load_run
from tui.core.run_control import restart, stop_run
from tui.core.viewers import start_viewer

from conftest import wait_until
from test_displays import SCREEN, xvfb  # noqa: F401  (a fixture)
from test_playback_runner import log_tail, make_profiled_run

class _XImage(ctypes.Structure):
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int), ("xoffset", ctypes.c_int),
                ("format", ctypes.c_int), ("data", ctypes.c_void_p),
                ("byte_order", ctypes.c_int), ("bitmap_unit", ctypes.c_int),
                ("bitmap_bit_order", ctypes.c_int), ("bitmap_pad", ctypes.c_int),
                ("depth", ctypes.c_int), ("bytes_per_line", ctypes.c_int),
                ("bits_per_pixel", ctypes.c_int)]


def screenshot(display: str) -> np.ndarray:
    """The whole screen as (H, W, 3) uint8 (a 24-bit TrueColor Xvfb screen)."""
    x = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x.XDefaultRootWindow.restype = ctypes.c_ulong
    x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x.XGetImage.restype = ctypes.POINTER(_XImage)
    x.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int,
                            ctypes.c_uint, ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
    x.XDestroyImage = getattr(x, "XDestroyImage", None)
    x.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x.XOpenDisplay(display.encode())
    assert dpy, "cannot open %s for a screenshot" % display
    try:
        img = x.XGetImage(dpy, x.XDefaultRootWindow(dpy), 0, 0, SCREEN[0], SCREEN[1],
                          0xFFFFFFFF, 2).contents                     # ZPixmap
        raw = ctypes.string_at(img.data, img.bytes_per_line * img.height)
        a = np.frombuffer(raw, np.uint8).reshape(img.height, img.bytes_per_line // 4, 4)
        return a[:, :img.width, 2::-1].copy()                         # BGRX -> RGB
    finally:
        x.XCloseDisplay(dpy)


def constant_policy_checkpoint(run: Path, step: int, force: float) -> Path:
    """A real mujoco-runner checkpoint whose policy always pushes the cart with ``force``."""
    from runners.mujoco.normalize import ObsNormalizer
    from runners.mujoco.policy import ActorCritic

    model = ActorCritic(4, 1, [8])
    with torch.no_grad():
        last = model.actor[-1]
        last.weight.zero_()
        last.bias.fill_(force)
    payload = {"runner": "mujoco", "env_id": "InvertedPendulum-v5", "obs_dim": 4, "act_dim": 1,
               "hidden": [8], "step": step, "model": model.state_dict(),
               "obs_norm": ObsNormalizer((4,)).state_dict()}
    return save_torch_checkpoint(run, payload, step)


def ack_running(run: Path, vid: str, seq: int | None = None):
    def cond():
        a = read_viewer_status(run, vid)
        if a is None or a.state != "running" or (seq is not None and a.seq != seq):
            return None
        return a
    return cond


def mean_shot(display: str, n: int = 12, every: float = 0.1) -> tuple[np.ndarray, list]:
    shots = []
    for _ in range(n):
        shots.append(screenshot(display).astype(np.float32))
        time.sleep(every)
    return np.mean(shots, axis=0), shots


@pytest.fixture
def pushing_run(tmp_path):
    run = make_profiled_run(tmp_path / "runs", [])
    right = constant_policy_checkpoint(run, 100, +3.0)
    left = constant_policy_checkpoint(run, 200, -3.0)
    yield run, right, left
    from conftest import kill_all_runs

    kill_all_runs(tmp_path / "runs")


def test_window_shows_the_policy_and_keeps_open_across_a_swap(pushing_run, xvfb):
    run, right, left = pushing_run
    x = xvfb()
    req = write_state(run, "manual", right)
    vid = start_viewer(run, x.name).viewer_id
    try:
        a = wait_until(ack_running(run, vid, req.seq), 60, what="the window viewer")
        assert a.display == x.name and a.checkpoint_step == 100
        wait_until(lambda: "window open on display %s" % x.name in log_tail(run, vid), 30,
                   what="the window")
        time.sleep(0.5)
        mean_r, shots_r = mean_shot(x.name)
        pid = a.pid

        req = write_state(run, "manual", left)
        a = wait_until(ack_running(run, vid, req.seq), 10, what="the swap")
        assert a.pid == pid and a.checkpoint_step == 200      # the same process: no restart
        time.sleep(0.5)
        mean_l, shots_l = mean_shot(x.name)
        assert "window open" in log_tail(run, vid) and log_tail(run, vid).count(
            "window open") == 1                                 # opened once, never again
    finally:
        stop_run(run, [vid])
    if os.environ.get("PITWALL_KEEP_SHOTS"):
        import imageio

        imageio.imwrite(os.environ["PITWALL_KEEP_SHOTS"] + "_right.png",
                        shots_r[-1].astype(np.uint8))
        imageio.imwrite(os.environ["PITWALL_KEEP_SHOTS"] + "_left.png",
                        shots_l[-1].astype(np.uint8))

    # something is drawn: the scene is not a blank screen
    assert shots_r[-1].std() > 5 and shots_l[-1].std() > 5
    # the overlay (top left) names the checkpoint: its pixels change with the swap
    ov = (slice(0, 50), slice(0, 240))
    assert np.abs(shots_r[-1][ov] - shots_l[-1][ov]).mean() > 1.0
    # the scene below the overlay changes with the policy
    sc = (slice(60, None), slice(None))
    assert np.abs(mean_r[sc] - mean_l[sc]).mean() > 0.3
    # and mirrored: the yellow cart sits further right under +3 than under -3. (Episodes end
    # fast under a constant push, so the cart is near the middle much of the time: compare the
    # averaged screenshots with a margin, not single frames.)
    def cart_x(img):
        yellow = (img[..., 0] > 60) & (img[..., 1] > 60) & (img[..., 2] < 30)
        ys, xs = np.nonzero(yellow[60:])
        return xs.mean() if len(xs) else None
    xr, xl = cart_x(mean_r), cart_x(mean_l)
    assert xr is not None and xl is not None and xr - xl > 10, (xr, xl)
