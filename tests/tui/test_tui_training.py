"""Pilot tests on a real short training (InvertedPendulum, CPU): launch from the launch screen
with edited parameters, watch checkpoints arrive, let a headless viewer start on the first one,
switch it to another checkpoint and back to auto, and quit with the run still going."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tui.app import PitwallApp
from tui.core.liveness import is_alive
from tui.core.registry import load_run
from tui.screens.launch import LaunchScreen
from tui.screens.run_view import RunScreen
from tui.widgets.checkpoint_list import CheckpointList

from conftest import kill_all_runs
from tui_testing import screen_text, wait_for

pytestmark = pytest.mark.timeout(240)
OVERRIDES = ["total_steps=30000", "save_every=1"]


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "runs"
    yield r
    kill_all_runs(r)


def state_of(run: Path) -> dict:
    try:
        return json.loads((run / ".checkpoint_state.json").read_text())
    except (OSError, ValueError):
        return {}


def test_launch_watch_and_switch_checkpoints(root):
    asyncio.run(launch_watch_and_switch(root))


async def launch_watch_and_switch(root):
    app = PitwallApp(root, cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        # launch screen: the default profile, two parameters typed into the editor
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen)
                       and app.screen.params is not None, what="profile loaded")
        launch = app.screen
        assert launch.current == "mujoco/inverted_pendulum"
        launch.query_one("#launch-params").focus()
        await pilot.press(*"total_steps=abc", "enter")
        await wait_for(pilot, lambda: launch.valid is not None and launch.valid.error,
                       what="validation error")
        assert "total_steps" in launch.valid.error and "integer" in launch.valid.error
        await pilot.press("ctrl+l")               # refused: nothing starts
        await pilot.pause(0.3)
        assert not root.exists() or not any(root.iterdir())
        await pilot.press(*["backspace"] * 4, *"30000", "enter", *"save_every=1", "enter")
        await wait_for(pilot, lambda: launch.valid is not None and not launch.valid.error,
                       what="valid parameters")
        assert launch.valid.overrides == OVERRIDES
        await pilot.press("ctrl+o")               # a viewer once the first checkpoint exists
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), 30, "run view")
        view = app.screen
        run = view.path
        rec = json.loads((run / "run.json").read_text())
        assert rec["overrides"] == OVERRIDES and rec["params"]["total_steps"] == 30000

        # checkpoints tab: the list fills as the trainer saves
        await pilot.press("3")
        ckpts = view.query_one(CheckpointList)
        await wait_for(pilot, lambda: ckpts.row_count >= 4, 120, "4 checkpoints listed")

        # the auto-started viewer reports what it loaded
        def viewer():
            d = app.model.detail
            return next((v for v in d.viewers if v.alive and v.checkpoint), None) if d else None
        v = await wait_for(pilot, viewer, 90, "viewer ack")
        assert v.id == "viewer-1" and v.ack_state in ("running", "loading")

        # pick the oldest checkpoint and load it: manual mode, acknowledged by the viewer
        await pilot.press("end", "enter")
        oldest = ckpts.current_key
        assert oldest is not None and oldest.startswith("ckpt_")
        await wait_for(pilot, lambda: state_of(run).get("mode") == "manual", 10, "state file")
        st = state_of(run)
        assert Path(st["checkpoint_path"]) == run / "nn" / oldest
        await wait_for(pilot, lambda: (lambda x: x and x.checkpoint == oldest
                                       and not x.pending)(viewer()), 30, "viewer switched")
        await wait_for(pilot, lambda: "MANUAL" in screen_text(app), 5, "manual shown")
        assert "viewer-1" in screen_text(app)

        # back to auto: the viewer follows the newest again
        await pilot.press("a")
        await wait_for(pilot, lambda: state_of(run).get("mode") == "auto"
                       and state_of(run)["seq"] == st["seq"] + 1, 10, "auto mode")
        await wait_for(pilot, lambda: (lambda x: x and x.checkpoint != oldest
                                       and not x.pending)(viewer()), 30, "viewer follows")

        # processes tab: the trainer with its pid, CPU and memory
        await pilot.press("4")
        await wait_for(pilot, lambda: "train" in screen_text(app)
                       and any(r.cpu is not None for r in app.model.detail.roles), 10, "stats")
        pid = next(r.pid for r in app.model.detail.roles if r.role == "train")
        assert str(pid) in screen_text(app)
    # the app is gone; the training goes on (or finished on its own)
    info = load_run(run)
    train = info.role("train")
    assert train.state in ("running", "finished"), train.describe()
    if train.state == "running":
        assert is_alive(train.record.pid, train.record.create_time)
