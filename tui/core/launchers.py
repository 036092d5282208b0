"""Launching one run or a sweep: now, through the local GPU queue, or on Slurm.

Every run of a sweep is resolved and validated (overrides, templates, working directories)
and, for Slurm, the request is checked by ``sbatch --test-only`` before any run directory is
created; then every directory is created and its ``run.json`` written, and only then does
anything start. When a step fails, what was created for the launch is removed: a bad sweep
creates nothing.

Where runs go (the profile's ``launcher:``, ``--gpus``, ``--max-parallel``, ``--slurm``):

- ``slurm``: one batch job per run, one job array per sweep (``slurm/submit.py``);
- local with ``gpus > 0`` on a machine where NVML sees GPUs, or with ``max_parallel`` below the
  number of runs: the local queue (``launch_queue.py``);
- otherwise: started at once, as a plain launch (a GPU request on a machine without GPUs
  starts the runs as they would start without it, and says so).
"""
from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from runners.protocol import RunRecord

from .backend_check import CheckResult, check_backend
from .gpu_slots import read_gpus
from .launch import prepare_run, start_prepared
from .runs_root import default_runs_root
from .launcher_spec import LauncherOptionError, LauncherSpec, with_overrides
from .profiles import ProfileError, ResolvedProfile, find_profile, load_profile, resolve_profile
from .sweeps import SweepError, expand, new_sweep_id, swept


class LaunchError(RuntimeError):
    pass


@dataclass
class LaunchedRun:
    run_dir: Path
    record: RunRecord
    how: str                      # started | queued | submitted
    job_id: str = ""
    starter_pid: int | None = None
    starter: subprocess.Popen | None = None   # a local start: its detached role starter


@dataclass
class Launch:
    runs: list[LaunchedRun]
    sweep_id: str = ""
    launcher: LauncherSpec = field(default_factory=LauncherSpec)
    notes: list[str] = field(default_factory=list)


def plan(profile_ref: str, overrides: list[str], multirun: bool = False,
         dirs: list[Path] | None = None) -> list[ResolvedProfile]:
    """The resolved profile of every run (one without ``multirun``); ProfileError names the
    run of a sweep that is at fault."""
    _, path = find_profile(profile_ref, dirs)
    profile = load_profile(path)
    try:
        if not multirun:
            bad = swept(overrides, profile.choices)
            if bad:
                raise ProfileError(path, "override %r is a sweep; add -m (--multirun) to launch "
                                   "one run per value, or quote the value ('a,b') to pass it "
                                   "as one string" % bad[0])
            combos = [list(overrides)]
        else:
            combos = expand(overrides, profile.choices)
    except SweepError as e:
        raise ProfileError(path, str(e))
    out = []
    for i, combo in enumerate(combos):
        try:
            out.append(resolve_profile(profile_ref, combo, dirs))
        except ProfileError as e:
            if len(combos) == 1:
                raise
            raise ProfileError(e.path, "run %d of %d (%s): %s"
                               % (i + 1, len(combos), " ".join(combo), e.message))
    return out


def launch_runs(profile_ref: str, overrides: list[str] | None = None,
                runs_root: Path | None = None, multirun: bool = False,
                gpus: int | None = None, max_parallel: int | None = None,
                slurm: list[str] | None = None, dirs: list[Path] | None = None,
                wait: float = 10.0) -> Launch:
    rps = plan(profile_ref, list(overrides or []), multirun, dirs)
    try:
        spec = with_overrides(rps[0].profile.launcher, gpus, max_parallel, slurm)
    except LauncherOptionError as e:
        raise ProfileError(rps[0].path, str(e))
    root = (runs_root or default_runs_root()).absolute()
    sweep_id = new_sweep_id() if multirun else ""
    if spec.kind == "slurm":
        return _on_slurm(rps, spec, root, sweep_id)
    return _local(rps, spec, root, sweep_id, wait)


def launch_one(rp: ResolvedProfile, runs_root: Path | None = None,
               wait: float = 10.0) -> LaunchedRun:
    """One resolved run, where its profile's ``launcher:`` says."""
    root = (runs_root or default_runs_root()).absolute()
    spec = rp.profile.launcher
    res = _on_slurm([rp], spec, root, "") if spec.kind == "slurm" else \
        _local([rp], spec, root, "", wait)
    return res.runs[0]


def check_all(rps: list[ResolvedProfile], root: Path) -> list[CheckResult]:
    """Each run's parameters checked by its runner (a process each, so in parallel); the
    first refusal is raised, naming its run, before anything is created."""
    if len(rps) == 1:
        return [check_backend(rps[0], root)]
    with ThreadPoolExecutor(max_workers=min(8, len(rps))) as pool:
        futures = [pool.submit(check_backend, rp, root) for rp in rps]
    out = []
    for i, (rp, fut) in enumerate(zip(rps, futures)):
        try:
            out.append(fut.result())
        except ProfileError as e:
            raise ProfileError(e.path, "run %d of %d (%s): %s"
                               % (i + 1, len(rps), " ".join(rp.overrides), e.message))
    return out


def prepare_all(rps: list[ResolvedProfile], root: Path, sweep_id: str,
                launchers: list[dict]) -> list[tuple[Path, RunRecord]]:
    """Create every run (directory + run.json) or none."""
    checks = check_all(rps, root)
    done: list[tuple[Path, RunRecord]] = []
    try:
        for rp, launcher, checked in zip(rps, launchers, checks):
            done.append(prepare_run(rp, root, sweep_id, launcher, checked))
    except BaseException:
        remove_runs([d for d, _ in done])
        raise
    return done


def remove_runs(run_dirs: list[Path]) -> None:
    """Remove runs this launch created and that never started (nothing else is in them)."""
    for d in run_dirs:
        shutil.rmtree(d, ignore_errors=True)


def _local(rps: list[ResolvedProfile], spec: LauncherSpec, root: Path, sweep_id: str,
           wait: float) -> Launch:
    notes = []
    gpus = spec.gpus
    if gpus:
        inventory = read_gpus()
        if not inventory.gpus:
            notes.append("%d GPU%s asked for, but %s: the runs start without GPU slots"
                         % (gpus, "s" * (gpus > 1), inventory.describe()))
            gpus = 0
    limit = spec.max_parallel if spec.max_parallel and spec.max_parallel < len(rps) else 0
    queued = bool(gpus or limit)
    launcher = {"kind": "local", "watch": spec.watch}
    if queued:
        launcher.update(gpus=gpus, max_parallel=limit)
    prepared = prepare_all(rps, root, sweep_id, [dict(launcher) for _ in rps])
    runs = []
    if queued:
        from .queue_state import enqueue, ensure_queue_process

        for run_dir, record in prepared:
            enqueue(run_dir, gpus, limit, sweep_id or run_dir.name)
            runs.append(LaunchedRun(run_dir, record, "queued"))
        ensure_queue_process(root)
    else:
        for run_dir, record in prepared:
            res = start_prepared(run_dir, record, wait if len(prepared) == 1 else 0)
            runs.append(LaunchedRun(run_dir, record, "started", starter_pid=res.starter_pid,
                                    starter=res.starter))
    return Launch(runs, sweep_id, spec, notes)


def _on_slurm(rps: list[ResolvedProfile], spec: LauncherSpec, root: Path,
              sweep_id: str) -> Launch:
    from .slurm.commands import SlurmError
    from .slurm.submit import check_request, launcher_record, sbatch_options, submit_prepared

    check_request(sbatch_options(spec, rps[0].experiment))   # before anything exists
    array = len(rps) > 1 or bool(sweep_id)
    prepared = prepare_all(rps, root, sweep_id,
                           [launcher_record(spec, i if array else None)
                            for i in range(len(rps))])
    try:
        submitted = submit_prepared(prepared, spec, root, sweep_id)
    except (SlurmError, OSError):
        remove_runs([d for d, _ in prepared])
        raise
    return Launch([LaunchedRun(s.run_dir, s.record, "submitted", s.job_id) for s in submitted],
                  sweep_id, spec)


def runs_of_sweep(root: Path, sweep_id: str) -> list[Path]:
    """The run directories of a sweep, by its id or a unique prefix of it."""
    from .registry import scan_runs

    infos = scan_runs(root)
    ids = sorted({i.sweep_id for i in infos if i.sweep_id and i.sweep_id.startswith(sweep_id)})
    if not ids:
        return []
    if len(ids) > 1 and sweep_id not in ids:
        raise LaunchError("sweep %r is ambiguous: %s" % (sweep_id, ", ".join(ids)))
    want = sweep_id if sweep_id in ids else ids[0]
    return [i.path for i in infos if i.sweep_id == want]

