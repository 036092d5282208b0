"""Snapshots of the main screens at 80x24, from synthetic runs and a frozen clock."""
from __future__ import annotations

import datetime as _dt
import shutil
from pathlib import Path

import pytest

from tui.app import PitwallApp

from tui_testing import FROZEN, make_run, sleeper, wait_for

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


def app_for(root: Path) -> PitwallApp:
    return PitwallApp(root, clock=lambda: FROZEN, cursor_blink=False, use_watchdog=False,
                      config_dirs=[root.parent / "profiles"])


async def settled(pilot, with_metrics: bool = True) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: len(app.model.runs.rows) == 4, what="4 runs")
    if with_metrics:
        await wait_for(pilot, lambda: all(r.step for r in app.model.runs.rows), what="steps")
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
