"""Headless render + mp4 encode, frames/s at 256x256: Pitwall's recorder against a plain
gymnasium ``render_mode="rgb_array"`` + imageio loop on the same env.

Ours: ``runners.rendering.offscreen.FrameRenderer`` (shadows, reflections and multisampling off)
and ``runners.rendering.video.Mp4Writer`` (imageio-ffmpeg, libx264 ``veryfast``). Plain: what a
gymnasium user writes: ``env.render()`` with the env's defaults, ``imageio.get_writer(...)``.
The env steps with random actions in both; "render" columns leave the encoder out.

    python benchmarks/bench_render_encode.py [--frames 300] [--envs InvertedPendulum-v5,...]
        [--quick]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runners.rendering.offscreen import ensure_offscreen_gl  # noqa: E402

ensure_offscreen_gl()  # before mujoco is imported (EGL unless MUJOCO_GL says otherwise)

import gymnasium as gym  # noqa: E402
import imageio  # noqa: E402
import numpy as np  # noqa: E402

from runners.rendering.offscreen import FrameRenderer, env_camera_config  # noqa: E402
from runners.rendering.video import Mp4Writer  # noqa: E402

SIZE = 256


def plain(env_id: str, frames: int, out: Path, encode: bool) -> float:
    env = gym.make(env_id, render_mode="rgb_array", width=SIZE, height=SIZE)
    env.reset(seed=0)
    env.render()  # the GL context is made on the first call: not timed
    writer = imageio.get_writer(str(out), fps=30) if encode else None
    t0 = time.perf_counter()
    for _ in range(frames):
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        frame = env.render()
        if writer is not None:
            writer.append_data(frame)
        if term or trunc:
            env.reset()
    if writer is not None:
        writer.close()
    dt = time.perf_counter() - t0
    env.close()
    return frames / dt


def ours(env_id: str, frames: int, out: Path, encode: bool, fast: bool = True) -> float:
    env = gym.make(env_id)
    env.reset(seed=0)
    u = env.unwrapped
    r = FrameRenderer(u.model, SIZE, SIZE, camera=env_camera_config(env), shadows=not fast,
                      multisample=not fast, reflections=not fast)
    r.render(u.data)
    writer = Mp4Writer(out, SIZE, SIZE, 30) if encode else None
    t0 = time.perf_counter()
    for _ in range(frames):
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        frame = r.render(u.data)
        if writer is not None:
            writer.write(frame)
        if term or trunc:
            env.reset()
    if writer is not None:
        writer.close()
    dt = time.perf_counter() - t0
    r.close()
    env.close()
    return frames / dt


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--envs", default="InvertedPendulum-v5,HalfCheetah-v5")
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes (10 frames of InvertedPendulum-v5): checks it runs")
    args = ap.parse_args()
    if args.quick:
        args.frames, args.envs = 10, "InvertedPendulum-v5"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for env_id in args.envs.split(","):
            res = {}
            for name, fn in (("plain gymnasium rgb_array + imageio", plain),
                             ("ours, default render settings", lambda *a: ours(*a, fast=False)),
                             ("ours (shadows/MSAA off) + Mp4Writer", ours)):
                out = Path(tmp) / ("%s.mp4" % len(rows))
                render = fn(env_id, args.frames, out, False)
                both = fn(env_id, args.frames, out, True)
                size = os.path.getsize(out)
                res[name] = both
                rows.append((env_id, name, render, both, size / 1024))
            base = res["plain gymnasium rgb_array + imageio"]
            rows.append((env_id, "speed-up render+encode", None,
                         res["ours (shadows/MSAA off) + Mp4Writer"] / base, None))
    print("Headless render + encode at %dx%d, %d frames, MUJOCO_GL=%s, %d cores"
          % (SIZE, SIZE, args.frames, os.environ.get("MUJOCO_GL"), os.cpu_count() or 0))
    print()
    print("| env | pipeline | render only (frames/s) | render + encode (frames/s) | mp4 KiB |")
    print("|---|---|---:|---:|---:|")
    for env_id, name, render, both, kib in rows:
        if render is None:
            print("| %s | **%s** | | **%.1fx** | |" % (env_id, name, both))
        else:
            print("| %s | %s | %.0f | %.0f | %.0f |" % (env_id, name, render, both, kib))
    return 0


if __name__ == "__main__":
    sys.exit(main())
