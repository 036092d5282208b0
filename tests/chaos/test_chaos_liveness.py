"""A live run whose ``procs/<role>.json`` is corrupt or missing (issue 15, item 5).

Before the fix such a run read as ``lost``: ``pitwall stop`` said "not running" and left it
running, and ``pitwall delete`` deleted the directory of a live training. Now its processes
are found by ``PITWALL_RUN_DIR`` in their environment.
"""
from __future__ import annotations

import os
import signal

from conftest import wait_until
from runners.protocol import RunPaths, read_proc_record
from tui.core.launch import launch as core_launch
from tui.core.liveness import is_alive
from tui.core.registry import load_run
from tui.core.run_control import delete_run, stop_run
from tui.core.viewers import start_viewer

from .conftest import launch, one_line_error, pw, status


def test_a_live_training_without_its_record_is_listed_stopped_and_not_deleted(chaos_root):
    run = launch(chaos_root, "total_steps=100000000", "save_every=0")
    rec = wait_until(lambda: read_proc_record(run, "train"), timeout=60, what="the record")
    proc_file = RunPaths(run).proc_file("train")

    proc_file.write_text('{"role": "train", "pid": ')   # torn by hand
    row = status(chaos_root, run)
    assert row["status"] == "running" and row["roles"]["train"]["pid"] == rec.pid
    assert "found live process %d" % rec.pid in row["roles"]["train"]["error"]
    assert "procs/train.json" in row["roles"]["train"]["error"]
    line = one_line_error(pw(chaos_root, "delete", run.name, "--yes"))
    assert "live processes: train" in line and run.is_dir()

    proc_file.unlink()                                   # gone
    assert status(chaos_root, run)["status"] == "running"
    assert "live processes: train" in one_line_error(pw(chaos_root, "delete", run.name, "--yes"))
    assert run.is_dir()

    out = pw(chaos_root, "stop", run.name)
    assert out.returncode == 0 and "train: stopped by SIGINT" in out.stdout, out.stdout
    assert not is_alive(rec.pid, rec.create_time)
    # the wrapper recorded the exit; the stop request makes it read "stopped"
    wait_until(lambda: (read_proc_record(run, "train") or rec).ended, timeout=10,
               what="the exit record")
    assert load_run(run).status == "stopped"
    out = pw(chaos_root, "delete", run.name, "--yes")
    assert out.returncode == 0 and not run.exists(), out.stderr


def test_a_viewer_without_its_record_is_listed_and_stopped(chaos_root, test_profiles):
    run = core_launch("one_role", ["exit_after=120"], chaos_root).run_dir
    viewer = start_viewer(run, "none")
    viewer.starter.wait(30)
    rec = wait_until(lambda: read_proc_record(run, viewer.viewer_id), what="the viewer record")
    RunPaths(run).proc_file(viewer.viewer_id).unlink()

    # (a scan is reused for up to 2 s: the TUI sees the viewer at its next refresh or so)
    found = wait_until(lambda: next((v for v in load_run(run).viewers
                                     if v.role == viewer.viewer_id and v.alive), None),
                       timeout=10, what="the viewer found by its environment")
    assert found.pid == rec.pid and "procs/%s.json is missing" % viewer.viewer_id in found.error
    assert [o.was_running for o in stop_run(run, [viewer.viewer_id])] == [True]
    assert not is_alive(rec.pid, rec.create_time)

    # and `ls` shows the signal a role died of, as the TUI does
    main = read_proc_record(run, "main")
    os.kill(main.pid, signal.SIGKILL)
    wait_until(lambda: load_run(run).status == "failed", what="the exit record")
    out = pw(chaos_root, "ls")
    assert "failed (signal 9)" in out.stdout, out.stdout
    delete_run(run)
    assert not run.exists()
