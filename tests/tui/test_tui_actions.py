"""Pilot tests of what the keys do, on real processes (the supervision fixture profiles): stop
and delete ask first, a role is stopped or restarted alone, the keymap file rebinds keys, the
command palette opens runs, the filter narrows the list, and two TUIs on one root agree."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui.app import PitwallApp
from tui.core.launch import launch
from tui.core.registry import load_run
from tui.screens.confirm import ConfirmScreen
from tui.screens.runs import RunsScreen

from conftest import wait_until
from tui_testing import screen_text, wait_for

pytestmark = pytest.mark.timeout(120)


def run_app(coro_fn, *args):
    asyncio.run(coro_fn(*args))


def app_on(root: Path, **kw) -> PitwallApp:
    return PitwallApp(root, cursor_blink=False, tick=0.1, **kw)


def test_stop_asks_first_and_delete_waits_until_nothing_lives(runs_root, test_profiles):
    run = launch("two_roles", [], runs_root).run_dir
    wait_until(lambda: load_run(run).status == "running" and
               load_run(run).role("actor").state == "running", what="both roles up")

    async def scenario():
        app = app_on(runs_root)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: "running" in screen_text(app), what="run listed")
            await pilot.press("D")                           # delete: refused, it lives
            await pilot.pause(0.2)
            assert not isinstance(app.screen, ConfirmScreen) and run.is_dir()
            await pilot.press("s")                           # stop: asks first
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            assert "Stop" in screen_text(app) and run.name in screen_text(app)
            await pilot.press("n")                           # no: nothing happens
            await pilot.pause(0.5)
            assert load_run(run).status == "running"
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            await pilot.press("y")
            await wait_for(pilot, lambda: load_run(run).status == "stopped", 30, "stopped")
            await wait_for(pilot, lambda: "stopped" in screen_text(app), 5, "shown stopped")
            await pilot.press("D")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            assert "Delete" in screen_text(app)
            await pilot.press("y")
            await wait_for(pilot, lambda: not run.exists(), 10, "deleted")
            await wait_for(pilot, lambda: "No runs under this root" in screen_text(app), 5,
                           "empty list")
    run_app(scenario)


def test_one_role_is_stopped_and_restarted_from_the_processes_tab(runs_root, test_profiles):
    run = launch("two_roles", [], runs_root).run_dir
    wait_until(lambda: load_run(run).role("actor").state == "running", what="actor up")
    first = load_run(run).role("actor").record

    async def scenario():
        app = app_on(runs_root)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: "running" in screen_text(app), what="run listed")
            await pilot.press("enter", "4")
            await wait_for(pilot, lambda: "actor" in screen_text(app) and "learner" in
                           screen_text(app), what="processes")
            table = app.screen.query_one("#procs-table")
            table.move_cursor(row=[k for k in table._keys].index("actor"))
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            assert "roles actor of" in screen_text(app)
            await pilot.press("y")
            await wait_for(pilot, lambda: load_run(run).role("actor").state == "stopped", 20,
                           "actor stopped")
            assert load_run(run).role("learner").state == "running"
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            await pilot.press("y")
            await wait_for(pilot, lambda: (lambda r: r.state == "running" and
                                           r.record.attempt == 2)(load_run(run).role("actor")),
                           30, "actor restarted")
            assert load_run(run).role("learner").record.pid == \
                json.loads((run / "procs" / "learner.json").read_text())["pid"]
    run_app(scenario)
    assert load_run(run).role("actor").record.pid != first.pid


def test_keymap_file_rebinds_keys(tmp_path):
    keymap = tmp_path / "keymap.yaml"
    keymap.write_text("runs.launch: n\nrun.back: backspace\n")
    from tui.app import known_binding_ids
    from tui.keymap import load_keymap

    km = load_keymap(keymap, known_binding_ids())

    async def scenario():
        app = app_on(tmp_path / "runs", keymap=km)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.2)
            await pilot.press("l")                         # no longer bound
            await pilot.pause(0.2)
            assert isinstance(app.screen, RunsScreen)
            await pilot.press("n")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "LaunchScreen",
                           what="launch screen on n")
    run_app(scenario)
    # an unknown id: pitwall refuses to start and names the file and the id
    keymap.write_text("runs.lunch: n\n")
    out = subprocess.run([str(Path(sys.executable).with_name("pitwall")), "--root",
                          str(tmp_path / "runs")],
                         env={**os.environ, "PITWALL_KEYMAP": str(keymap)},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert str(keymap) in out.stderr and "'runs.lunch'" in out.stderr
    assert "runs.launch" in out.stderr


def test_palette_filter_and_two_tuis_agree(tmp_path):
    import datetime as _dt

    from tui_testing import make_run

    root = tmp_path / "runs"
    a = make_run(root, "Alpha", _dt.datetime(2026, 3, 14, 10, 0, 0))
    b = make_run(root, "Beta", _dt.datetime(2026, 3, 14, 11, 0, 0), outcome="failed")

    async def scenario():
        one, two = app_on(root), app_on(root)
        async with one.run_test(size=(100, 30)) as p1, two.run_test(size=(100, 30)) as p2:
            await wait_for(p1, lambda: "Alpha" in screen_text(one), what="runs in one")
            # the filter narrows the list
            await p1.press("slash", *"fail", "enter")
            await wait_for(p1, lambda: "Alpha" not in screen_text(one).split("\n", 3)[3],
                           what="filtered")
            assert "Beta" in screen_text(one)
            await p1.press("escape")
            # the command palette opens a run by name
            await p1.press("ctrl+p")
            await p1.pause(0.3)
            await p1.press(*"open run alpha")
            await p1.pause(0.5)
            await p1.press("enter")
            await wait_for(p1, lambda: getattr(one.screen, "path", None) == a, what="run open")
            # one TUI picks a checkpoint; the other one shows it
            await p1.press("3")
            await wait_for(p1, lambda: one.model.detail is not None and
                           one.model.detail.checkpoints.history, what="checkpoints")
            one.select_checkpoint(a, "manual", "ckpt_000010240.pth")
            await wait_for(p1, lambda: "MANUAL" in screen_text(one), what="manual in one")
            two.open_run(a, "checkpoints")
            await wait_for(p2, lambda: "MANUAL" in screen_text(two) and
                           "ckpt_000010240.pth" in screen_text(two), what="manual in two")
            # and both write the state file in turn without losing a sequence number
            seqs = []
            for app in (two, one, two, one):
                app.select_checkpoint(a, "auto", None)
                await p1.pause(0.3)
                seqs.append(json.loads((a / ".checkpoint_state.json").read_text())["seq"])
            assert seqs == sorted(seqs) and len(set(seqs)) == 4
    run_app(scenario)
    assert b.is_dir()


def test_a_stop_goes_on_after_the_tui_quits(runs_root):
    """The process ignores SIGINT; the TUI quits right after asking; SIGTERM still comes."""
    run = launch(str(Path(__file__).parent / "profiles" / "slow_stop.yaml"), [],
                 runs_root).run_dir
    wait_until(lambda: load_run(run).status == "running", what="running")

    async def scenario():
        app = app_on(runs_root)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: "running" in screen_text(app), what="listed")
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            await pilot.press("y")
            await wait_for(pilot, lambda: (run / "procs" / "main.stop.json").exists(), 10,
                           "stop requested")
            asked.append(time.monotonic())
            await pilot.press("q")
    asked: list[float] = []
    run_app(scenario)
    assert time.monotonic() - asked[0] < 2.5            # the TUI is gone before SIGTERM is due
    assert load_run(run).status == "running"           # SIGINT was ignored
    wait_until(lambda: load_run(run).status == "stopped", 20, what="stopped by SIGTERM")
    assert "SIGTERM" in (run / "logs" / "pitwall.log").read_text()


def test_a_new_checkpoint_is_pushed_to_the_screen_not_polled(tmp_path):
    """A saved checkpoint reaches the run view through the index's change callback, not the
    next render tick: with ticks a minute apart (the first list drawn by hand), each new
    checkpoint is still shown. (How fast: benchmarks/bench_checkpoint_listed.py, goal p95 <=
    200 ms.)"""
    import datetime as _dt

    from runners.protocol import save_checkpoint
    from tui.widgets.checkpoint_list import CheckpointList
    from tui_testing import make_run

    run = make_run(tmp_path / "runs", "Live", _dt.datetime(2026, 3, 14, 10, 0, 0))

    async def scenario():
        app = PitwallApp(tmp_path / "runs", cursor_blink=False, tick=60.0)
        async with app.run_test(size=(100, 30)) as pilot:
            app.open_run(run, "checkpoints")

            def drawn_by_a_tick():
                app.screen.refresh_from_model()      # what a tick does
                t = next(iter(app.screen.query(CheckpointList)), None)
                return t if t and t.row_count else None
            table = await wait_for(pilot, drawn_by_a_tick, what="checkpoint list")
            before = len(table._keys)
            for k in range(3):
                name = save_checkpoint(run, lambda f: f.write(b"\0" * 100_000),
                                       50_000 + k).name
                await wait_for(pilot, lambda: name in table._keys, 10, name)
            assert len(table._keys) == before + 3
    run_app(scenario)


def test_stop_offers_to_stop_the_runs_viewers_too(runs_root, test_profiles):
    """A run's viewers outlive a stop of its roles unless the user asks; the dialog offers it."""
    from tui.core.viewers import start_viewer

    run = launch("one_role", [], runs_root).run_dir
    wait_until(lambda: load_run(run).status == "running", what="the run")
    vid = start_viewer(run, "none").viewer_id
    wait_until(lambda: (lambda v: v is not None and v.alive)(
        next((v for v in load_run(run).viewers if v.role == vid), None)), what="the viewer")

    async def scenario():
        app = app_on(runs_root)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: (lambda r: r is not None and r.viewers_alive == 1)(
                app.model.runs.row(run.name)), what="the run with its viewer")
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            await wait_for(pilot, lambda: "Stop with its viewer" in screen_text(app),
                           what="the offer")
            assert "1 viewer keeps running" in app.screen.detail
            await pilot.press("o")
            await wait_for(pilot, lambda: load_run(run).status == "stopped", 30, "stopped")
            await wait_for(pilot, lambda: not any(v.alive for v in load_run(run).viewers), 30,
                           "the viewer stopped too")

    run_app(scenario)
