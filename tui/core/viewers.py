"""Viewers of a run: the profile's ``play`` command started as an extra role per viewer.

A viewer's role and id are the same (``viewer-1``, ``viewer-2`` ...); its process record is
``procs/<id>.json``, its log ``logs/<id>.log``, its acknowledgement ``.viewer/<id>.json``.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from runners.protocol import (ProcessSpec, RunRecord, StopPolicy, ViewerStatus,
                              list_viewer_statuses, output_dir, read_run_record, read_state)
from runners.protocol.rundir import RunPaths

from .displays import is_wayland_display
from .launch import runner_argv
from .profiles import ProfileError, render
from .role_starter import log_event
from .run_control import start_adhoc_role
from .spawn import python_module_argv, spawn_detached

VIEWER_PREFIX = "viewer-"


class ViewerError(RuntimeError):
    pass


def viewer_spec(run_dir: Path, record: RunRecord, viewer_id: str, display: str = "none",
                extra_args: list[str] | None = None) -> ProcessSpec:
    play = record.profile.get("play")
    if not play:
        raise ViewerError("profile %s has no play command (field 'play')" % record.profile_name)
    ctx = {"params": record.params, "python": __import__("sys").executable,
           "run_dir": str(run_dir), "run_name": record.name, "role": viewer_id,
           "viewer_id": viewer_id, "display": display,
           "profile_dir": str(Path(record.profile_path).parent) if record.profile_path else ""}
    src = record.profile_path or str(RunPaths(run_dir).run_json)
    try:
        if play.get("runner"):
            argv = runner_argv(play["runner"], "play", run_dir, viewer_id) + \
                ["--viewer-id", viewer_id, "--display", display]
        else:
            argv = [render(a, ctx, src, "play.argv") for a in play.get("argv") or []]
        argv += [render(a, ctx, src, "play.args") for a in play.get("args") or []]
        cwd = render(play["cwd"], ctx, src, "play.cwd") if play.get("cwd") else str(run_dir)
        env = {k: render(v, ctx, src, "play.env." + k) for k, v in (play.get("env") or {}).items()}
    except ProfileError as e:
        raise ViewerError(str(e))
    env.update({"PITWALL_RUN_DIR": str(run_dir), "PITWALL_ROLE": viewer_id,
                "PITWALL_VIEWER_ID": viewer_id, "PYTHONUNBUFFERED": "1"})
    if is_wayland_display(display):
        env["WAYLAND_DISPLAY"] = display
    elif display not in ("none", "video", ""):
        env["DISPLAY"] = display
    stop = play.get("stop") or {}
    return ProcessSpec(role=viewer_id, argv=argv + list(extra_args or []), cwd=cwd, kind="viewer",
                       env=env, stop=StopPolicy(float(stop.get("sigint_grace", 5.0)),
                                                float(stop.get("sigterm_grace", 5.0))))


@dataclass
class StartedViewer:
    viewer_id: str
    starter: subprocess.Popen


def start_viewer(run_dir: Path, display: str = "none",
                 extra_args: list[str] | None = None) -> StartedViewer:
    record = read_run_record(run_dir)
    vid, starter = start_adhoc_role(
        run_dir, VIEWER_PREFIX, lambda v: viewer_spec(run_dir, record, v, display, extra_args))
    return StartedViewer(vid, starter)


def viewer_acks(run_dir: Path) -> dict[str, ViewerStatus]:
    """Acks live next to the state file the viewers follow (the run's output dir)."""
    return {v.id: v for v in list_viewer_statuses(output_dir(run_dir))}


def pending_switch(run_dir: Path, ack: ViewerStatus) -> bool:
    """True when the state file asks for something this viewer has not handled yet."""
    try:
        st = read_state(output_dir(run_dir))
    except Exception:
        return False
    return st is not None and ack.state not in ("stopped",) and ack.seq != st.seq


def start_viewer_at_first_checkpoint(run_dir: Path, display: str = "none") -> subprocess.Popen:
    """Start a viewer once the run's first checkpoint exists, from a detached waiter process:
    the request survives the TUI or CLI that made it. The waiter gives up (and says so in
    ``logs/pitwall.log``) when the run ends without a checkpoint."""
    log_event(run_dir, "a viewer (display %s) will start at the first checkpoint" % display)
    return spawn_detached(python_module_argv("tui.core.viewers", "at-first-checkpoint",
                                             str(run_dir), "--display", display),
                          RunPaths(run_dir).pitwall_log, cwd=run_dir)


def wait_and_start_viewer(run_dir: Path, display: str, poll: float = 0.2) -> int:
    from .registry import load_run
    from .run_checkpoints import list_run_checkpoints

    while True:
        if list_run_checkpoints(run_dir):
            started = start_viewer(run_dir, display)
            log_event(run_dir, "first checkpoint: started %s" % started.viewer_id)
            started.starter.wait()
            return 0
        if not load_run(run_dir).live:
            log_event(run_dir, "the run ended before its first checkpoint; no viewer started")
            return 1
        time.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tui.core.viewers")
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("at-first-checkpoint")
    w.add_argument("run_dir", type=Path)
    w.add_argument("--display", default="none")
    a = ap.parse_args(argv)
    return wait_and_start_viewer(a.run_dir.absolute(), a.display)


if __name__ == "__main__":
    sys.exit(main())
