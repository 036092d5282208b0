"""Snapshots of the main screens at 80x24, from synthetic runs and a frozen clock."""
from __future__ import annotations

import datetime as _dt
import shutil
from pathlib import Path

import pytest

from tui.app import PitwallApp
from tui.core.run_view_model import RunsModel

from tui_testing import FROZEN, FixedHost, NoNvml, make_run, sleeper, wait_for

SIZE = (80, 24)
PROFILES = Path(__file__).parent / "profiles"


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """Four runs under ./runs of a fresh working directory (paths show as ./runs)."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(PROFILES / "demo", tmp_path / "profiles" / "demo")
    root = tmp_path / "runs"
    live = sleeper()
    make_run(root, "Ant", _dt.datetime(2026, 3, 13, 9, 30, 0), outcome="stopped", steps=30)
    make_run(root, "InvertedPendulum", _dt.datetime(2026, 3, 14, 11, 0, 0), steps=40,
             log_lines=["Training will save to: nn", "update 1 step 512 ep_return 10.0",
                        "Traceback (most recent call last):", '  File "train.py", line 3',
                        "ValueError: a test error", "update 2 step 1024 ep_return 12.0"])
    make_run(root, "HalfCheetah", _dt.datetime(2026, 3, 14, 13, 45, 0), outcome="failed",
             steps=12, checkpoints=1)
    make_run(root, "Hopper", _dt.datetime(2026, 3, 14, 14, 58, 20), outcome="running",
             proc=live, steps=25, checkpoints=2)
    yield root
    live.kill()
    live.wait()


def app_for(root: Path, nvml=None) -> PitwallApp:
    """A frozen clock and a machine whose readings do not move (and no GPU, unless given)."""
    model = RunsModel(root, clock=lambda: FROZEN, use_watchdog=False, host=FixedHost(),
                      nvml=nvml or NoNvml())
    return PitwallApp(root, clock=lambda: FROZEN, cursor_blink=False, use_watchdog=False,
                      config_dirs=[root.parent / "profiles"], model=model)


async def settled(pilot, with_metrics: bool = True) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: len(app.model.runs.rows) == 4, what="4 runs")
    if with_metrics:
        await wait_for(pilot, lambda: all(r.step for r in app.model.runs.rows), what="steps")
    await wait_for(pilot, lambda: app.model.machine.version, what="the machine sampled")
    app._tick()
    await pilot.pause(0.1)


async def open_run(pilot, name_prefix: str, tab: str) -> None:
    app = pilot.app
    await settled(pilot)
    table = app.screen.table
    idx = next(i for i, r in enumerate(table.rows) if r.name.startswith(name_prefix))
    table._move(idx)
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.model.detail is not None and
                   app.model.tags(app.model.detail.path), what="run detail")
    if tab != "1":
        await pilot.press(tab)
    for _ in range(3):
        app._tick()
        await pilot.pause(0.15)


def test_runs_screen(snap_compare, runs):
    assert snap_compare(app_for(runs), terminal_size=SIZE, run_before=settled)


def test_runs_screen_filtered(snap_compare, runs):
    async def before(pilot):
        await settled(pilot)
        await pilot.press("slash", *"fail", "enter")
        pilot.app._tick()
    assert snap_compare(app_for(runs), terminal_size=SIZE, run_before=before)


def test_run_view_metrics(snap_compare, runs):
    async def before(pilot):
        await open_run(pilot, "InvertedPendulum", "1")
    assert snap_compare(app_for(runs), terminal_size=SIZE, run_before=before)


def test_run_view_checkpoints(snap_compare, runs):
    async def before(pilot):
        await open_run(pilot, "InvertedPendulum", "3")
    assert snap_compare(app_for(runs), terminal_size=SIZE, run_before=before)


def test_run_view_processes(snap_compare, runs):
    async def before(pilot):
        await open_run(pilot, "HalfCheetah", "4")
    assert snap_compare(app_for(runs), terminal_size=SIZE, run_before=before)


def test_run_view_logs_jump_to_error(snap_compare, runs):
    async def before(pilot):
        await open_run(pilot, "InvertedPendulum", "2")
        await wait_for(pilot, lambda: len(pilot.app.screen.query_one("#logs-view").lines) >= 6,
                       what="log lines")
        await pilot.press("e")
        await pilot.pause(0.1)
    assert snap_compare(app_for(runs), terminal_size=SIZE, run_before=before)


def test_launch_screen(snap_compare, runs):
    async def before(pilot):
        await settled(pilot, with_metrics=False)
        await pilot.press("l")
        await wait_for(pilot, lambda: "valid" in str(
            pilot.app.screen.query_one("#launch-valid").render()), what="validation")
    assert snap_compare(app_for(runs), terminal_size=SIZE, run_before=before)


def test_help_screen(snap_compare, runs):
    async def before(pilot):
        await settled(pilot, with_metrics=False)
        await pilot.press("question_mark")
        await pilot.pause(0.2)
    assert snap_compare(app_for(runs), terminal_size=SIZE, run_before=before)


def pendulum_picture(w: int = 128, h: int = 128):
    """A cart and a pole on a rail, drawn with numpy (what a headless viewer's frame shows)."""
    import numpy as np

    img = np.zeros((h, w, 3), np.uint8)
    img[:, :] = (12, 14, 24)
    img[h * 3 // 5: h * 3 // 5 + 2, :] = (70, 70, 140)                      # the rail
    img[h * 3 // 5 - 7: h * 3 // 5 + 9, w // 2 - 14: w // 2 + 14] = (190, 180, 40)  # cart
    img[h // 5: h * 3 // 5 - 4, w // 2 - 4: w // 2 + 4] = (20, 130, 140)   # the pole
    return img


def test_run_view_preview(snap_compare, runs):
    """The Preview tab: a headless viewer's last frame (it ended) and two videos."""
    from runners.protocol import (ProcRecord, VideoEntry, append_video_entry, write_preview,
                                  write_proc_record)

    run = next(p for p in runs.iterdir() if p.name.startswith("InvertedPendulum"))
    t0 = FROZEN - 3600
    write_proc_record(run, ProcRecord(
        role="viewer-1", kind="viewer", pid=999998, pgid=999998, create_time=t0,
        started_at="2026-03-14T14:00:00", exited_at="2026-03-14T14:05:00", exit_code=0,
        argv=["python", "-m", "runners.mujoco", "play", "--display", "none"]))
    img = pendulum_picture()
    write_preview(run, "viewer-1", img.tobytes(), img.shape[1], img.shape[0],
                  {"checkpoint": str(run / "nn" / "ckpt_000020480.pth"),
                   "checkpoint_step": 20480, "episode": 6, "return_so_far": 312.0,
                   "episode_return": 1000.0})
    (run / "videos").mkdir(exist_ok=True)
    for i, (step, rets) in enumerate([(10240, [41.0, 38.0]), (20480, [1000.0])]):
        name = "record_ckpt_%09d_2026-03-14_14-%02d-00.mp4" % (step, 10 + i)
        (run / "videos" / name).write_bytes(b"\0" * 1000)
        append_video_entry(run, VideoEntry(
            file=name, checkpoint=str(run / "nn" / ("ckpt_%09d.pth" % step)), step=step,
            returns=rets, frames=25 * len(rets) + 40, fps=25.0, width=256, height=256,
            size=1000, created=t0 + 600 * (i + 1), source="record"))

    async def before(pilot):
        await open_run(pilot, "InvertedPendulum", "5")
        view = pilot.app.screen.query_one("#preview-view")
        await wait_for(pilot, lambda: view.has_image, what="the frame")
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#video-list").row_count == 2,
                       what="the videos")
        pilot.app._tick()
        await pilot.pause(0.1)
    assert snap_compare(app_for(runs), terminal_size=SIZE, run_before=before)


# ====================================================================== compare, zoom, system

async def compare_three(pilot) -> None:
    """Mark three runs (space, space, space) and compare them."""
    app = pilot.app
    await settled(pilot)
    await pilot.press("g", "space", "space", "space", "c")
    await wait_for(pilot, lambda: type(app.screen).__name__ == "CompareScreen", what="compare")
    await wait_for(pilot, lambda: app.model.comparison is not None and
                   len(app.model.comparison.rows) == 3 and
                   all(r.final is not None for r in app.model.comparison.rows),
                   what="the comparison")
    for _ in range(3):
        app._tick()
        await pilot.pause(0.15)


def test_compare_curves(snap_compare, runs):
    assert snap_compare(app_for(runs), terminal_size=SIZE, run_before=compare_three)


def test_compare_table(snap_compare, runs):
    async def before(pilot):
        await compare_three(pilot)
        await pilot.press("2")
        pilot.app._tick()
        await pilot.pause(0.2)
    assert snap_compare(app_for(runs), terminal_size=SIZE, run_before=before)


def test_run_view_metrics_zoomed_log_y(snap_compare, runs):
    async def before(pilot):
        await open_run(pilot, "InvertedPendulum", "1")
        await pilot.press("z", "z", "h", "y")
        for _ in range(2):
            pilot.app._tick()
            await pilot.pause(0.15)
    assert snap_compare(app_for(runs), terminal_size=SIZE, run_before=before)


def test_system_with_two_gpus(snap_compare, runs):
    """NVML replaced by a fake: two GPUs, the live run's trainer on GPU 0."""
    from tui_testing import FakeNvml

    live = next(p for p in runs.iterdir() if p.name.startswith("Hopper"))
    import json

    pid = json.loads((live / "procs" / "train.json").read_text())["pid"]
    nvml = FakeNvml(procs=[(pid, 0, 12 << 30, 64)])

    async def before(pilot):
        await settled(pilot)
        await pilot.press("m")
        await wait_for(pilot, lambda: pilot.app.model.machine.roles, what="roles sampled")
        await wait_for(pilot, lambda: any(r.cpu is not None for r in
                                          pilot.app.model.machine.roles), what="cpu")
        for _ in range(2):
            pilot.app._tick()
            await pilot.pause(0.15)
    from tui_testing import FixedStats

    app = app_for(runs, nvml=nvml)
    app.model.system.stats = FixedStats()
    for key, v in (("cpu", 12.0), ("ram", 25.0), ("gpu0", 87.0), ("gpu1", 3.0)):
        for _ in range(60):                # a full history: the sparklines do not depend
            app.model.system._push(key, v)  # on how many samples the test lasted
    assert snap_compare(app, terminal_size=SIZE, run_before=before)
