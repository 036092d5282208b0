"""The poller's first look at a root: rows on screen before anything else is read or
imported, and the rest of the reading only once the UI says its first frame is drawn."""
from __future__ import annotations

import datetime as _dt
import time
from pathlib import Path

from runners.protocol import (ProcRecord, ProcessSpec, RunRecord, create_run_dir,
                              write_proc_record, write_run_record)
from tui.core.run_view_model import RunsModel
from tui.core.runs_list_model import FIRST_LOOK


def finished_run(root: Path, i: int) -> Path:
    when = _dt.datetime(2026, 3, 14, 10, 0, 0) + _dt.timedelta(minutes=i)
    run = create_run_dir(root, "Run%03d" % i, when)
    spec = ProcessSpec(role="train", argv=["python", "-c", "pass"], cwd=str(run))
    write_run_record(run, RunRecord(name=run.name, experiment="Run%03d" % i,
                                    profile_name="mujoco/x", backend="mujoco", params={},
                                    processes=[spec], created_at=when.isoformat()))
    t = when.isoformat()
    write_proc_record(run, ProcRecord(role="train", kind="train", pid=999999, pgid=999999,
                                      create_time=when.timestamp(), started_at=t,
                                      exited_at=t, exit_code=0))
    return run


def wait_until(cond, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.01)
    raise AssertionError("timed out waiting for %s" % what)


def test_a_big_root_shows_the_names_then_waits_for_the_first_frame(tmp_path):
    root = tmp_path / "runs"
    n = FIRST_LOOK + 6
    names = [finished_run(root, i).name for i in range(n)]
    model = RunsModel(root, use_watchdog=False)
    model.first_frame_wait_s = 60.0            # only ui_shown() lets it go on here
    model.start(wait_for_ui=True)
    try:
        snap = wait_until(lambda: model.runs.rows and model.runs, what="the names")
        assert snap.partial and [r.name for r in snap.rows] == names[::-1]   # newest first
        assert {r.status for r in snap.rows} == {"unknown"}    # names only, nothing read
        time.sleep(0.3)
        assert model.runs is snap and model._store is None    # held until the UI drew them
        model.ui_shown()
        done = wait_until(lambda: not model.runs.partial and model.runs, what="all runs")
        assert [r.name for r in done.rows] == names[::-1]
        assert {r.status for r in done.rows} == {"finished"}
        wait_until(lambda: model._store is not None, what="the metrics")
    finally:
        model.stop()


def test_a_small_root_is_listed_before_the_metrics_are_loaded(tmp_path):
    root = tmp_path / "runs"
    names = [finished_run(root, i).name for i in range(3)]
    model = RunsModel(root, use_watchdog=False)
    model.first_frame_wait_s = 60.0
    model.start(wait_for_ui=True)
    try:
        snap = wait_until(lambda: model.runs.rows and model.runs, what="the rows")
        assert not snap.partial and [r.name for r in snap.rows] == names[::-1]
        assert {r.status for r in snap.rows} == {"finished"}
        time.sleep(0.3)
        assert model._store is None
        model.ui_shown()
        wait_until(lambda: model._store is not None, what="the metrics")
    finally:
        model.stop()


def test_without_a_ui_the_poller_does_not_wait(tmp_path):
    root = tmp_path / "runs"
    for i in range(FIRST_LOOK + 1):
        finished_run(root, i)
    model = RunsModel(root, use_watchdog=False)
    model.first_frame_wait_s = 60.0
    model.start()                               # wait_for_ui=False: the CLI, tests
    try:
        wait_until(lambda: not model.runs.partial and model.runs.rows and
                   model._store is not None, what="everything read")
    finally:
        model.stop()


def test_the_app_lets_the_poller_go_on_once_the_runs_are_on_screen(tmp_path, monkeypatch):
    import asyncio

    import tui.app
    from tui.app import PitwallApp

    from tui_testing import wait_for

    monkeypatch.setattr(tui.app, "FIRST_FRAME_LATEST_S", 600.0)    # no fallback here
    root = tmp_path / "runs"
    for i in range(FIRST_LOOK + 2):
        finished_run(root, i)

    async def scenario():
        app = PitwallApp(root, cursor_blink=False, use_watchdog=False)
        app.model.first_frame_wait_s = 600.0
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.model._ui_shown.is_set(), what="ui_shown")
            await wait_for(pilot, lambda: not app.model.runs.partial, what="all runs read")
            await wait_for(pilot, lambda: "Run%03d" % (FIRST_LOOK + 1) in str(
                app.screen.query_one("#runs-status").render()), what="status line")
    asyncio.run(scenario())


def test_the_footer_is_composed_once_and_again_only_when_its_keys_change(tmp_path):
    """Textual's Footer rebuilt its keys on every focus change; KeyFooter only when the keys
    it shows differ."""
    import asyncio

    from textual.widgets._footer import FooterKey

    from tui.app import PitwallApp
    from tui.widgets.key_footer import KeyFooter

    from tui_testing import wait_for

    root = tmp_path / "runs"
    finished_run(root, 0)
    composed = []
    original = KeyFooter.compose

    def counting(self):
        composed.append(self.screen.id)
        yield from original(self)

    async def scenario():
        app = PitwallApp(root, cursor_blink=False, use_watchdog=False)
        async with app.run_test(size=(80, 24)) as pilot:
            footer = app.screen.query_one(KeyFooter)
            await wait_for(pilot, lambda: app.model._ui_shown.is_set(), what="first frame")
            await pilot.pause(0.3)
            keys = [k.description for k in footer.query(FooterKey)]
            assert "Launch" in keys and "Filter" in keys
            assert composed == ["runs-screen"]
            await pilot.press("slash")              # the filter takes the focus: new keys
            await pilot.pause(0.3)
            await pilot.press("escape")             # and back: the runs screen's keys again
            await wait_for(pilot, lambda: app.screen.query_one("#runs-table").has_focus,
                           what="focus back")
            await pilot.pause(0.3)
            assert [k.description for k in footer.query(FooterKey)] == keys
            assert len(composed) <= 3
    KeyFooter.compose = counting
    try:
        asyncio.run(scenario())
    finally:
        KeyFooter.compose = original
