"""Playback in the TUI (Pilot), on a real short InvertedPendulum training: the display picker
starts a headless viewer whose frames the Preview tab draws live; ``r`` on a checkpoint records
a video that appears in the video list and plays in the terminal; a viewer on an X display
(Xvfb) killed with SIGKILL shows as failed, its log is one key away, and a restart brings it
back on the same display. Real processes and files; no mocks."""
from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("mujoco")

from textual.command import CommandPalette
from textual.widgets import OptionList

from runners.protocol import list_proc_roles, read_proc_record, read_viewer_status
from tui.app import PitwallApp
from tui.core.displays import remembered
from tui.core.launch import launch
from tui.core.liveness import is_alive
from tui.core.run_checkpoints import list_run_checkpoints
from tui.screens.confirm import ConfirmScreen
from tui.screens.display_picker import DisplayPickerScreen
from tui.screens.panes.logs import LogsPane
from tui.screens.panes.playback import PlaybackPane
from tui.screens.record import RecordScreen
from tui.screens.run_view import RunScreen
from tui.widgets.preview import PreviewView
from tui.widgets.process_table import ProcessTable
from tui.widgets.video_list import VideoList

from conftest import kill_all_runs, wait_until
from tui_testing import screen_text, wait_for

pytestmark = pytest.mark.timeout(180)
OVERRIDES = ["total_steps=20000", "save_every=1"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One real training (about 10 s on 2 cores), shared by the tests; every process of it
    (trainer, viewers, recorders) is killed at the end."""
    root = tmp_path_factory.mktemp("tui_playback") / "runs"
    res = launch("mujoco/inverted_pendulum", OVERRIDES, runs_root=root)
    try:
        wait_until(lambda: len(list_run_checkpoints(res.run_dir)) >= 3, 90,
                   what="3 checkpoints")
        yield res.run_dir
    finally:
        kill_all_runs(root)


@pytest.fixture(autouse=True)
def config(tmp_path, monkeypatch):
    """The remembered display goes to a file of this test."""
    monkeypatch.setenv("PITWALL_CONFIG_DIR", str(tmp_path / "config"))


def stop_extra_roles(run: Path) -> None:
    """Viewers and recorders of earlier tests would only eat CPU."""
    for role in list_proc_roles(run):
        if role.startswith(("viewer-", "record-")):
            rec = read_proc_record(run, role)
            if rec and is_alive(rec.pid, rec.create_time):
                try:
                    os.killpg(rec.pgid, signal.SIGKILL)
                except OSError:
                    pass


async def open_run(pilot, run: Path) -> RunScreen:
    app = pilot.app
    await wait_for(pilot, lambda: app.model.runs.row(run.name), what="the run listed")
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, RunScreen)
                   and app.model.detail is not None, what="the run view")
    return app.screen


def new_viewer(app, before: set[str]):
    d = app.model.detail
    return next((v for v in d.viewers if v.id not in before and v.alive), None) if d else None


async def pick(pilot, option_id: str) -> None:
    """In the display picker, move to ``option_id`` with the keys and choose it."""
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, DisplayPickerScreen), 20,
                   "the display picker")
    ol = app.screen.query_one(OptionList)
    await pilot.press("home")
    for _ in range(ol.option_count):
        if ol.highlighted_option is not None and ol.highlighted_option.id == option_id:
            break
        await pilot.press("down")
    assert ol.highlighted_option.id == option_id, screen_text(app)
    await pilot.press("enter")


# ====================================================================== preview

def test_picker_starts_a_headless_viewer_and_the_preview_tab_draws_its_frames(run):
    asyncio.run(picker_and_preview(run))


async def picker_and_preview(run: Path):
    stop_extra_roles(run)
    app = PitwallApp(run.parent, cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(pilot, run)
        before = {v.id for v in app.model.detail.viewers}
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, DisplayPickerScreen), 20, "picker")
        assert "headless" in screen_text(app)
        await pick(pilot, "none")
        v = await wait_for(pilot, lambda: new_viewer(app, before), 30, "a new live viewer")
        rec = read_proc_record(run, v.id)
        assert rec.argv[rec.argv.index("--display") + 1] == "none"
        assert remembered() is None                       # "none" is a one-off choice
        # nothing is read for the preview while its tab is hidden
        assert app.model.playback is None and app.model.playback_watched is None

        await pilot.press("5")
        assert screen.active == "preview" and app.model.playback_watched == run
        view = screen.query_one(PreviewView)
        await wait_for(pilot, lambda: view.has_image, 40, "the viewer's first frame drawn")
        first = view.images_shown
        assert "step" in view.caption_text, view.caption_text
        pane = screen.query_one(PlaybackPane)
        assert app.model.playback.viewer_id == v.id
        assert v.id in screen_text(app)
        # live: the viewer renders 4 frames a second, the tab shows new ones as they come
        await wait_for(pilot, lambda: view.images_shown >= first + 3, 10, "newer frames")
        # what the widget draws is the picture: rows of half blocks in more than one colour
        strips = [view.render_line(y) for y in range(view.size.height - 2)]
        colours = {seg.style.bgcolor for s in strips for seg in s if seg.text.strip("▀") == ""
                   and seg.style is not None and seg.style.bgcolor is not None}
        assert len(colours) > 3
        assert pane.playing is None

        # leaving the tab stops the reading
        await pilot.press("1")
        assert app.model.playback_watched is None
    stop_extra_roles(run)


# ====================================================================== record + play

def test_record_from_the_checkpoint_list_then_play_it_in_the_terminal(run):
    asyncio.run(record_and_play(run))


async def record_and_play(run: Path):
    app = PitwallApp(run.parent, cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(pilot, run)
        await pilot.press("3")
        ckpts = screen.query_one("#ckpt-list")
        await wait_for(pilot, lambda: ckpts.row_count >= 3, 20, "checkpoints listed")
        await pilot.press("end")                     # the oldest: an untrained policy, whose
        chosen = ckpts.current_key                   # episodes are short
        assert chosen.startswith("ckpt_")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RecordScreen), 5, "record dialog")
        assert chosen in screen_text(app)
        await pilot.press("backspace", "3", "enter")  # three episodes
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), 5, "dialog closed")
        await wait_for(pilot, lambda: any(r.is_recorder for r in app.model.detail.roles), 10,
                       "the recorder listed")
        rec = next(r for r in app.model.detail.roles if r.is_recorder)
        assert rec.target == chosen and rec.episodes == 3
        await wait_for(pilot, lambda: "%s  recording 3 episodes of %s" % (rec.role, chosen)
                       in screen_text(app), 5, "the recording under the checkpoint list")

        await pilot.press("5")
        videos = screen.query_one(VideoList)
        await wait_for(pilot, lambda: videos.row_count >= 1, 90, "the video in the list")
        v = videos.selected
        assert v is not None and v.exists
        assert Path(v.entry.checkpoint).name == chosen and v.entry.episodes == 3
        assert v.name[:36] in screen_text(app)          # under the list (it wraps at 80)

        # enter plays it here, frame after frame, at a low rate
        pane = screen.query_one(PlaybackPane)
        view = screen.query_one(PreviewView)
        videos.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: pane.play_frames >= 1, 20, "the first video frame")
        assert pane.playing is not None and pane.playing.name == v.name
        first, n0 = view.caption_text, pane.play_frames
        assert re.match(r"\d+\.\d s of %.1f s  " % v.duration, first) and v.name in first, first
        await wait_for(pilot, lambda: pane.play_frames >= n0 + 3, 20, "frames advancing")
        assert view.caption_text != first                   # the time in the video moves on
        await wait_for(pilot, lambda: pane.play_ended, 60, "the end of the video")
        assert pane.play_frames >= 4 and "ended" in view.caption_text
        # esc: back to the live preview, still in the run view
        await pilot.press("escape")
        assert pane.playing is None and isinstance(app.screen, RunScreen)

        # the command palette plays the newest video from any tab
        await pilot.press("1")
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), 5, "palette")
        await pilot.press(*"play the newest video")
        await wait_for(pilot, lambda: "Play the newest video here" in screen_text(app), 5,
                       "the command listed")
        await pilot.press("enter")
        await wait_for(pilot, lambda: pane.playing is not None and pane.play_frames >= 1, 20,
                       "the newest video playing")
        assert screen.active == "preview" and pane.playing.name == v.name
        await pilot.press("escape")
        assert pane.playing is None
        await pilot.press("escape")                   # not playing: esc goes back to the list
        assert not isinstance(app.screen, RunScreen)
    stop_extra_roles(run)


# ====================================================================== a crashed viewer

def free_display() -> int:
    for n in range(150, 400):
        if not os.path.exists("/tmp/.X11-unix/X%d" % n) and \
                not os.path.exists("/tmp/.X%d-lock" % n):
            return n
    raise RuntimeError("no free X display number")


@pytest.fixture
def xvfb():
    if not shutil.which("Xvfb"):
        pytest.skip("Xvfb is not installed (apt install xvfb)")
    n = free_display()
    proc = subprocess.Popen(["Xvfb", ":%d" % n, "-screen", "0", "480x360x24", "-nolisten",
                             "tcp"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    wait_until(lambda: os.path.exists("/tmp/.X11-unix/X%d" % n), 10, what="Xvfb")
    yield ":%d" % n
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_a_killed_viewer_shows_failed_with_its_log_and_restarts_on_its_display(run, xvfb):
    asyncio.run(killed_viewer(run, xvfb))


async def killed_viewer(run: Path, display: str):
    stop_extra_roles(run)
    app = PitwallApp(run.parent, cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(pilot, run)
        before = {v.id for v in app.model.detail.viewers}
        await pilot.press("v")
        await pick(pilot, display)                         # probed: it opens, with GLX
        v = await wait_for(pilot, lambda: new_viewer(app, before), 30, "a new live viewer")
        vid = v.id
        assert remembered() == display                     # a display that works is kept
        await wait_for(pilot, lambda: (read_viewer_status(run, vid) or _NoAck).display
                               == display, 40, "the viewer's window open on " + display)

        await pilot.press("4")
        table = screen.query_one(ProcessTable)
        await wait_for(pilot, lambda: table.row_count >= 2 and vid in table._keys, 10, "rows")
        row = next(r for r in app.model.detail.roles if r.role == vid)
        assert row.is_viewer and row.display == display and row.attempt == 1
        pid = read_proc_record(run, vid).pid
        os.kill(pid, signal.SIGKILL)
        await wait_for(pilot, lambda: (lambda r: r is not None and r.state == "failed")(
            next((r for r in app.model.detail.roles if r.role == vid), None)), 20,
            "the viewer shown failed")
        table.move_cursor(row=table._keys.index(vid))
        await wait_for(pilot, lambda: "failed" in screen_text(app) and
                       "signal 9" in screen_text(app), 5, "failed (signal 9) on screen")

        # its log, one key away
        await pilot.press("l")
        assert screen.active == "logs"
        assert screen.query_one(LogsPane).role == vid

        # restart: same display (and the checkpoint the state file asks for)
        await pilot.press("4")
        table.focus()
        table.move_cursor(row=table._keys.index(vid))
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "confirm")
        await pilot.press("y")
        await wait_for(pilot, lambda: (lambda r: r is not None and r.alive and r.attempt == 2)(
            next((r for r in app.model.detail.roles if r.role == vid), None)), 40,
            "the viewer running again")
        row = next(r for r in app.model.detail.roles if r.role == vid)
        assert row.display == display
        rec = read_proc_record(run, vid)
        assert rec.argv[rec.argv.index("--display") + 1] == display
        assert rec.env.get("DISPLAY") == display
        await wait_for(pilot, lambda: (lambda a: a is not None and a.pid == rec.pid and
                                               a.display == display)(
            read_viewer_status(run, vid)), 40, "the restarted viewer's ack on " + display)
    stop_extra_roles(run)


class _NoAck:
    display = None


def test_a_video_opens_on_a_display_that_works_even_when_viewers_are_kept_headless(xvfb):
    """``o`` in the video list asks ``desktop_display``: a remembered ``none`` (headless
    viewers) does not stop it from finding the X server; nothing new is remembered."""
    from tui.core.displays import desktop_display, remember

    remember("none")
    env = {"DISPLAY": xvfb}
    choice = desktop_display(env=env)
    assert choice.display == xvfb and choice.message is None
    assert remembered() == "none"
    choice = desktop_display(env={}, x11_dir="/nonexistent")
    assert choice.headless and "no display found" in choice.message
