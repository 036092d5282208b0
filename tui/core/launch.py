"""Launching a run: profile + overrides → run directory, ``run.json``, detached role starter."""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runners.protocol import (ProcessSpec, RunRecord, create_run_dir, now_iso,
                              read_proc_record, read_starter_record, write_run_record)
from runners.protocol.rundir import RunPaths

from tui import __version__

from .backend_check import CheckResult, check_backend
from .process_specs import RELAY_ROLE, SpecSource, relay_spec, train_spec
from .profiles import ProfileError, ResolvedProfile, resolve_profile
from .role_starter import log_event
from .runs_root import default_runs_root
from .spawn import python_module_argv, spawn_detached



def build_process_specs(rp: ResolvedProfile, run_dir: Path) -> list[ProcessSpec]:
    src = SpecSource(rp.params, str(rp.path), run_dir.name)
    specs = [train_spec(src, role, run_dir, order)
             for order, role in enumerate(rp.profile.processes)]
    if rp.profile.needs_relay and all(s.role != RELAY_ROLE for s in specs):
        specs.append(relay_spec(run_dir, len(specs)))
    return specs


def git_info(path: Path) -> dict[str, Any] | None:
    try:
        # --no-optional-locks: `status` must not refresh (write) the index of that checkout
        git = ["git", "--no-optional-locks", "-C", str(path)]
        rev = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(git + ["status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        return {"rev": rev.stdout.strip(), "dirty": bool(dirty.stdout.strip()),
                "path": str(path)}
    except (OSError, subprocess.SubprocessError):
        return None


def _code_dir(rp: ResolvedProfile, specs: list[ProcessSpec], run_dir: Path) -> Path:
    """Where the code that runs lives: Pitwall itself for runners, else the command's cwd."""
    if any(p.runner for p in rp.profile.processes):  # a Pitwall runner: Pitwall's own code
        return Path(__file__).resolve().parents[2]
    cwd = Path(specs[0].cwd)
    return cwd if cwd != run_dir else Path.cwd()


@dataclass
class LaunchResult:
    run_dir: Path
    record: RunRecord
    starter_pid: int
    starter: subprocess.Popen | None = None


def launch(profile_ref: str, overrides: list[str] | None = None, runs_root: Path | None = None,
           dirs: list[Path] | None = None, wait: float = 10.0) -> LaunchResult:
    """Create the run and start its roles (detached). Raises ProfileError before anything starts.

    With ``wait`` > 0, returns once the first role is running (or the start failed), at most
    after ``wait`` seconds.
    """
    rp = resolve_profile(profile_ref, overrides, dirs)
    return launch_resolved(rp, runs_root, wait)


def launch_resolved(rp: ResolvedProfile, runs_root: Path | None = None,
                    wait: float = 10.0) -> LaunchResult:
    run_dir, record = prepare_run(rp, runs_root)
    return start_prepared(run_dir, record, wait)


def prepare_run(rp: ResolvedProfile, runs_root: Path | None = None, sweep_id: str = "",
                launcher: dict[str, Any] | None = None,
                checked: CheckResult | None = None) -> tuple[Path, RunRecord]:
    """Create the run directory and its ``run.json``; start nothing (the queue, Slurm or
    :func:`start_prepared` does). Raises ProfileError, leaving no directory behind.
    ``checked``: the runner's verdict when the caller asked already (a sweep asks for all its
    runs at once)."""
    root = (runs_root or default_runs_root()).absolute()
    experiment = rp.experiment
    if checked is None:
        checked = check_backend(rp, root)    # the runner refuses bad params: nothing created
    run_dir = create_run_dir(root, experiment)
    try:
        specs = build_process_specs(rp, run_dir)
    except ProfileError:
        _remove_empty(run_dir)
        raise
    record = RunRecord(
        name=run_dir.name, experiment=experiment, profile_name=rp.name, backend=rp.profile.backend,
        params=rp.params, processes=specs, created_at=now_iso(), profile_path=str(rp.path),
        overrides=list(rp.overrides), profile=rp.profile.model_dump(mode="json"),
        git=git_info(_code_dir(rp, specs, run_dir)), pitwall_version=__version__,
        capabilities=checked.capabilities.to_dict() if checked.capabilities else {},
        sweep_id=sweep_id, launcher=dict(launcher or {"kind": "local"}),
    )
    try:
        write_run_record(run_dir, record)
        log_event(run_dir, "launched profile %s %s by pid %d%s"
                  % (rp.name, " ".join(rp.overrides), os.getpid(),
                     " (sweep %s)" % sweep_id if sweep_id else ""))
        for w in checked.warnings:
            log_event(run_dir, "warning: %s" % w)
    except OSError:
        _remove_unstarted(run_dir)  # a full disk: no half-made run is left behind
        raise
    return run_dir, record


def start_prepared(run_dir: Path, record: RunRecord, wait: float = 10.0,
                   env: dict[str, str] | None = None) -> LaunchResult:
    """Start the roles of a prepared run through a detached role starter."""
    extra = [a for k, v in (env or {}).items() for a in ("--env", "%s=%s" % (k, v))]
    starter = spawn_detached(python_module_argv("tui.core.role_starter", str(run_dir), *extra),
                             RunPaths(run_dir).pitwall_log, cwd=run_dir)
    if wait > 0:
        wait_started(run_dir, record.processes[0].role, starter, wait)
    return LaunchResult(run_dir, record, starter.pid, starter)


def wait_started(run_dir: Path, role: str, starter: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if read_proc_record(run_dir, role) is not None:
            return
        if starter.poll() is not None:
            return
        st = read_starter_record(run_dir)
        if st is not None and st.error:
            return
        time.sleep(0.02)


def _remove_unstarted(run_dir: Path) -> None:
    """Remove a run directory we just created and started nothing in (only its own files)."""
    import shutil

    shutil.rmtree(run_dir, ignore_errors=True)


def _remove_empty(run_dir: Path) -> None:
    try:
        run_dir.rmdir()
    except OSError:
        pass
