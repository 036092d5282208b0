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

from runners.protocol import (ProcessSpec, RunRecord, ViewerStatus, list_viewer_statuses,
                              output_dir, read_run_record, read_state)
from runners.protocol.capabilities import DISPLAY_WINDOW
from runners.protocol.rundir import RunPaths

from .displays import HEADLESS, DisplayChoice, choose_display
from .process_specs import RELAY_ROLE, SpecSource
from .process_specs import viewer_spec as _viewer_spec
from .profiles import ProfileError
from .role_starter import log_event
from .run_profile import run_capabilities, run_profile
from .run_control import start_adhoc_role
from .spawn import python_module_argv, spawn_detached

VIEWER_PREFIX = "viewer-"


class ViewerError(RuntimeError):
    pass


def spec_source(run_dir: Path, record: RunRecord) -> SpecSource:
    return SpecSource(record.params, record.profile_path, record.name)


def viewer_spec(run_dir: Path, record: RunRecord, viewer_id: str, display: str = "none",
                extra_args: list[str] | None = None) -> ProcessSpec:
    profile = run_profile(record, RunPaths(run_dir).run_json)
    if profile.play is None:
        raise ViewerError("profile %s has no play command (field 'play')" % record.profile_name)
    caps = run_capabilities(record, RunPaths(run_dir).run_json)
    if display not in ("none", "") and not caps.can(DISPLAY_WINDOW):
        raise ViewerError("no window on %s: %s" % (display, caps.reason(DISPLAY_WINDOW)))
    try:
        return _viewer_spec(spec_source(run_dir, record), profile.play, run_dir, viewer_id,
                            display, extra_args)
    except ProfileError as e:
        raise ViewerError(str(e))


def window_unavailable(run_dir: Path) -> str | None:
    """Why a viewer of this run cannot open a window (None: it can)."""
    caps = run_capabilities(read_run_record(run_dir), RunPaths(run_dir).run_json)
    return None if caps.can(DISPLAY_WINDOW) else caps.reason(DISPLAY_WINDOW)


def choose_viewer_display(run_dir: Path, requested: str = "auto") -> DisplayChoice:
    """:func:`tui.core.displays.choose_display`, for a viewer of this run: a backend that opens
    no window runs headless on ``auto`` (saying why) and refuses an explicit display."""
    why = window_unavailable(run_dir)
    if why is None:
        return choose_display(requested)
    if requested in ("auto", HEADLESS, ""):
        return DisplayChoice(HEADLESS, requested,
                             None if requested == HEADLESS else "%s: headless" % why)
    raise ViewerError("no window on %s: %s" % (requested, why))


@dataclass
class StartedViewer:
    viewer_id: str
    starter: subprocess.Popen


def start_viewer(run_dir: Path, display: str = "none",
                 extra_args: list[str] | None = None) -> StartedViewer:
    record = read_run_record(run_dir)
    vid, starter = start_adhoc_role(
        run_dir, VIEWER_PREFIX, lambda v: viewer_spec(run_dir, record, v, display, extra_args))
    ensure_relay(run_dir, record)
    return StartedViewer(vid, starter)


def ensure_relay(run_dir: Path, record: RunRecord) -> None:
    """A viewer of the user's own follows auto mode only through the relay: start it again when
    it has ended (it ends once training has and no viewer was alive)."""
    if record.process(RELAY_ROLE) is None:
        return
    from .registry import load_run
    from .run_control import start_roles_detached

    rs = load_run(run_dir).role(RELAY_ROLE)
    if rs is not None and rs.record is not None and rs.record.ended:   # ran, and has ended
        log_event(run_dir, "a viewer started: starting the relay again")
        start_roles_detached(run_dir, [RELAY_ROLE])


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
