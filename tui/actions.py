"""What the control center's actions do: call the core and return a typed result.

Each function blocks (it starts a detached process, writes a file, probes displays) and is run
by the app in a worker thread; the :class:`~tui.messages.ActionResult` it returns is posted to
the screen that asked. Stops and restarts are detached processes, so quitting the TUI never
cuts one short. No widgets here; the core modules are imported when an action first runs, so
the runs screen starts fast.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .messages import (ActionResult, CheckpointChosen, Deleted, RecordingStarted, Restarting,
                       Stopping, VideoNotOpened, VideoOpening, ViewerStarting)


def stop(path: Path, roles: list[str] | None, kill: bool) -> ActionResult:
    from tui.core.run_control import stop_detached

    res = Stopping(path, roles, kill)
    res.process = stop_detached(path, roles, kill=kill)
    return res


def stop_with_viewers(path: Path, kill: bool) -> ActionResult:
    """The run's roles and every live viewer and recorder of it."""
    from tui.core.registry import load_run
    from tui.core.run_control import stop_detached

    info = load_run(path)
    roles = [r.role for r in info.roles] + [v.role for v in info.viewers if v.alive]
    res = Stopping(path, roles, kill)
    res.process = stop_detached(path, roles, kill=kill)
    return res


def restart(path: Path, roles: list[str] | None) -> ActionResult:
    from tui.core.run_control import restart_detached

    res = Restarting(path, roles)
    res.process = restart_detached(path, roles)
    return res


def delete(path: Path) -> ActionResult:
    from tui.core.run_control import delete_run

    delete_run(path)
    return Deleted(path)


def start_viewer(path: Path, display: str = "none", remember: bool = False) -> ActionResult:
    from tui.core.viewers import start_viewer as start

    if remember and display != "none":
        from tui.core.displays import remember as remember_display

        remember_display(display)
    started = start(path, display)
    res = ViewerStarting(path, started.viewer_id, display)
    res.process = started.starter
    return res


def record(path: Path, checkpoint: str | None, episodes: int = 1) -> ActionResult:
    from tui.core.videos import start_recording

    started = start_recording(path, checkpoint, episodes)
    res = RecordingStarted(path, started.role,
                           started.checkpoint.name if started.checkpoint else None, episodes)
    res.process = started.starter
    return res


def open_video(path: Path, video: Any) -> ActionResult:
    """Open a video with the desktop's player on a display that works, if there is one."""
    from runners.protocol import RunPaths
    from tui.core.displays import desktop_display
    from tui.core.videos import open_with_desktop

    choice = desktop_display()
    if choice.headless:
        return VideoNotOpened(path, video.name, choice.message or "no display")
    res = VideoOpening(path, video.name, choice.display)
    res.process = open_with_desktop(video.path, choice.display, RunPaths(path).pitwall_log)
    return res


def select_checkpoint(path: Path, mode: str, ref: str | None) -> ActionResult:
    from tui.core.run_checkpoints import select_checkpoint as select

    st = select(path, mode, ref)
    return CheckpointChosen(path, mode, Path(st.checkpoint_path).name, st.seq)


def probe_displays() -> tuple[list, str | None]:
    """The displays this host has, each probed for real, and the one remembered."""
    from tui.core.displays import discover, probe_all, remembered

    cands = discover()
    results = probe_all([c.name for c in cands])
    return list(zip(cands, results)), remembered()
