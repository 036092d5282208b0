"""Stop, kill, restart, resume and delete runs.

Stops go in reverse start order, each role SIGINT → SIGTERM → SIGKILL with its own grace
periods. ``python -m tui.core.run_control stop|restart RUN_DIR ...`` runs the same sequence
detached, so a TUI that quits mid-stop (or mid-restart) still gets the escalation done.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from runners.protocol import (ProcRecord, ProcessSpec, ProtocolError, RunRecord, StopPolicy,
                              read_run_record, read_starter_record)
from runners.protocol.rundir import RunPaths

from .liveness import is_alive
from .registry import load_run
from .run_processes import live_found, scan
from .role_starter import log_event
from .run_profile import run_profile
from .spawn import python_module_argv, spawn_detached
from .stopping import Progress, StopOutcome, stop_role


class ControlError(RuntimeError):
    pass


def stop_policy(record: RunRecord, role: str) -> StopPolicy:
    spec = record.process(role)
    if spec is not None:
        return spec.stop
    play = run_profile(record).play
    if play is None:
        return StopPolicy(5.0, 5.0)
    return StopPolicy(play.stop.sigint_grace, play.stop.sigterm_grace)


def stop_run(run_dir: Path, roles: list[str] | None = None, kill: bool = False,
             reason: str = "user", progress: Progress = lambda s: None) -> list[StopOutcome]:
    """Stop roles (default: every role of run.json) in reverse start order; blocks."""
    record = read_run_record(run_dir)
    known = {p.role for p in record.processes}
    fresh = scan(max_age=0)   # a decision: viewers without a record are looked for now
    viewers = {v.role for v in load_run(run_dir, procs=lambda: fresh).viewers}
    if roles is not None:
        bad = [r for r in roles if r not in known and r not in viewers]
        if bad:
            raise ControlError("%s has no role %s (roles: %s; viewers: %s)"
                               % (record.name, ", ".join(bad), ", ".join(sorted(known)),
                                  ", ".join(sorted(viewers)) or "none"))
    order = [p.role for p in sorted(record.processes, key=lambda p: p.order, reverse=True)]
    targets = order if roles is None else [r for r in order if r in roles] + \
        [r for r in roles if r not in known]
    if record.launcher_kind == "slurm" and any(r in known for r in targets):
        return _stop_slurm(run_dir, record, targets, known, kill, reason, progress)
    if any(r in known for r in targets) and _cancel_queued(run_dir, progress):
        return [StopOutcome(r, False, "cancelled", None, None) for r in targets if r in known]
    _wait_for_starter(run_dir, progress)
    outcomes = []
    for role in targets:
        log_event(run_dir, "%s %s (%s)" % ("killing" if kill else "stopping", role, reason))
        out = stop_role(run_dir, role, stop_policy(record, role), reason=reason, kill=kill,
                        progress=progress)
        outcomes.append(out)
    return outcomes


def _stop_slurm(run_dir: Path, record: RunRecord, targets: list[str], known: set[str],
                kill: bool, reason: str, progress: Progress) -> list[StopOutcome]:
    """The roles of a Slurm run share one job: they stop together, through Slurm; its
    viewers (local processes) stop as usual."""
    from .slurm.control import stop_job

    if set(known) - set(targets):
        raise ControlError("%s runs as one Slurm job: its roles stop together (leave out "
                           "--role, or name them all: %s)" % (record.name,
                                                               ", ".join(sorted(known))))
    outcomes = stop_job(run_dir, record, kill=kill, reason=reason, progress=progress)
    viewers = [r for r in targets if r not in known]
    if viewers:
        outcomes += stop_run(run_dir, viewers, kill=kill, reason=reason, progress=progress)
    return outcomes


def _cancel_queued(run_dir: Path, progress: Progress) -> bool:
    from .queue_state import cancel

    if cancel(run_dir):
        progress("cancelled in the queue (it had not started)")
        return True
    return False


def _wait_for_starter(run_dir: Path, progress: Progress, timeout: float = 30.0) -> None:
    """A stop during a launch waits for the starter, so no role starts after the stop."""
    deadline = time.monotonic() + timeout
    announced = False
    while time.monotonic() < deadline:
        try:
            st = read_starter_record(run_dir)
        except ProtocolError:
            return  # unreadable: nothing to wait for (its roles are found by their records)
        if st is None or st.finished_at is not None or not is_alive(st.pid, st.create_time):
            return
        if not announced:
            progress("waiting for the roles still being started")
            announced = True
        time.sleep(0.05)


def stop_detached(run_dir: Path, roles: list[str] | None = None, kill: bool = False,
                  reason: str = "user") -> subprocess.Popen:
    args = [str(run_dir)]
    if roles:
        args += ["--roles", ",".join(roles)]
    if kill:
        args.append("--kill")
    args += ["--reason", reason]
    return spawn_detached(python_module_argv("tui.core.run_control", "stop", *args),
                          RunPaths(run_dir).pitwall_log, cwd=run_dir)


def start_roles_detached(run_dir: Path, roles: list[str] | None = None,
                         resume: Path | None = None) -> subprocess.Popen:
    args = [str(run_dir)]
    if roles:
        args += ["--roles", ",".join(roles)]
    if resume is not None:
        args += ["--resume", str(resume)]
    return spawn_detached(python_module_argv("tui.core.role_starter", *args),
                          RunPaths(run_dir).pitwall_log, cwd=run_dir)


def claim_role_name(run_dir: Path, prefix: str) -> str:
    """The next free ``<prefix>N`` for an ad-hoc role (``viewer-3``, ``record-2``), claimed by
    creating its log file exclusively: two control centers never get the same name."""
    paths = RunPaths(run_dir)
    paths.logs_dir.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10000):
        name = "%s%d" % (prefix, n)
        try:
            fd = os.open(str(paths.log_file(name)), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            continue
        os.close(fd)
        return name
    raise ControlError("no free %sN role name in %s" % (prefix, run_dir))


def start_adhoc_role(run_dir: Path, prefix: str, build: Callable[[str], ProcessSpec]
                     ) -> tuple[str, subprocess.Popen]:
    """Claim ``<prefix>N``, build its spec, start it detached; a failed build frees the name."""
    name = claim_role_name(run_dir, prefix)
    try:
        spec = build(name)
    except Exception:
        try:
            os.unlink(str(RunPaths(run_dir).log_file(name)))
        except OSError:
            pass
        raise
    return name, start_adhoc_detached(run_dir, spec)


def start_adhoc_detached(run_dir: Path, spec: ProcessSpec) -> subprocess.Popen:
    import json

    return spawn_detached(python_module_argv("tui.core.role_starter", str(run_dir), "--adhoc",
                                             json.dumps(spec.to_dict())),
                          RunPaths(run_dir).pitwall_log, cwd=run_dir)


def restart(run_dir: Path, roles: list[str] | None = None,
            progress: Progress = lambda s: None) -> subprocess.Popen | None:
    """Stop the roles (all by default), then start them again in order (attempt + 1).

    Returns the detached starter to wait for; None for a Slurm run (a new job was submitted).
    """
    started = _restart(run_dir, roles, progress)
    return started[-1][1] if started else None


def restart_checked(run_dir: Path, roles: list[str] | None = None,
                    progress: Progress = lambda s: None) -> list[str]:
    """:func:`restart`, then wait for the starters: why each start failed (empty: all ran)."""
    failures = []
    for tag, proc in _restart(run_dir, roles, progress):
        why = start_failure(run_dir, proc, tag)
        if why:
            failures.append(why if tag is None else "%s: %s" % (tag, why))
    return failures


def _restart(run_dir: Path, roles: list[str] | None, progress: Progress
             ) -> list[tuple[str | None, subprocess.Popen]]:
    """The starters started (a role tag for an ad-hoc one); none for a Slurm run."""
    record = read_run_record(run_dir)
    info = load_run(run_dir)
    if record.launcher_kind == "slurm" and (not roles or any(record.process(r)
                                                             for r in roles)):
        from .slurm.control import restart_job

        if roles and sorted(roles) != sorted(p.role for p in record.processes):
            raise ControlError("%s runs as one Slurm job: restart it as a whole (leave out "
                               "--role), or restart its viewers alone" % record.name)
        restart_job(run_dir, record, progress)
        return []   # the new job is submitted: nothing left to wait for
    viewer_roles = [r for r in (roles or []) if record.process(r) is None]
    train_roles = [r for r in (roles or [p.role for p in record.processes])
                   if record.process(r) is not None]
    stop_run(run_dir, (roles or None), reason="restart", progress=progress)
    started: list[tuple[str | None, subprocess.Popen]] = []
    if train_roles:
        started.append((None, start_roles_detached(run_dir, train_roles)))
    for v in viewer_roles:
        vs = info.role(v)
        if vs is None or vs.record is None:
            raise ControlError("viewer %s has no record to restart from" % v)
        started.append((v, start_adhoc_detached(run_dir, spec_from_record(
            vs.record, stop_policy(record, v)))))
    assert started
    return started


def spec_from_record(rec: ProcRecord, stop: StopPolicy) -> ProcessSpec:
    return ProcessSpec(role=rec.role, argv=list(rec.argv), cwd=rec.cwd, kind=rec.kind,
                       env=dict(rec.env), stop=stop, display=rec.display,
                       record_target=rec.record_target, record_episodes=rec.record_episodes)


def start_failure(run_dir: Path, starter: subprocess.Popen, tag: str | None = None,
                  timeout: float | None = None) -> str | None:
    """Why a detached start failed, or None once it succeeded.

    Waits for the starter (``tag``: the ad-hoc role it started, None for the run's roles) and
    reads its record; a starter that crashed before it could record anything (a full disk) is
    reported by its exit code, with the disk's state when that is the cause.
    """
    try:
        code = starter.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None  # still waiting on readiness: not a failure (yet)
    if code == 0:
        return None
    try:
        st = read_starter_record(run_dir, tag)
    except ProtocolError as e:
        st = None
        why = "the starter exited with code %d (%s)" % (code, e)
    else:
        why = st.error if st is not None and st.error else \
            "the starter exited with code %d before recording why" % code
    full = disk_full(run_dir)
    return why + ("; " + full if full else " (see %s)" % RunPaths(run_dir).pitwall_log)


def disk_full(path: Path, min_free: int = 1 << 20) -> str | None:
    """A sentence when the filesystem of ``path`` has (almost) no space or inodes left."""
    try:
        st = os.statvfs(str(path))
    except OSError:
        return None
    free = st.f_bavail * st.f_frsize
    if free < min_free:
        return "no space left on the filesystem of %s (%d bytes free)" % (path, free)
    if st.f_files and st.f_favail == 0:
        return "no inodes left on the filesystem of %s" % path
    return None


def restart_detached(run_dir: Path, roles: list[str] | None = None) -> subprocess.Popen:
    """:func:`restart` in a detached process (it outlives the caller)."""
    args = [str(run_dir)]
    if roles:
        args += ["--roles", ",".join(roles)]
    return spawn_detached(python_module_argv("tui.core.run_control", "restart", *args),
                          RunPaths(run_dir).pitwall_log, cwd=run_dir)


def delete_run(run_dir: Path) -> None:
    """Delete a run directory; refused while any of its processes (or its starter) lives.

    Liveness does not rest on the records alone: a fresh scan finds every process that carries
    the run in its environment (a role whose ``procs/`` record is missing or corrupt, or a
    child a finished role left behind).

    The directory is first renamed to a hidden name in the same root (atomic), so a second
    control center stops listing it at once and never sees it half deleted.
    """
    run_dir = Path(run_dir).absolute()
    fresh = scan(max_age=0)
    info = load_run(run_dir, procs=lambda: fresh)
    alive = [r.role for r in list(info.roles) + list(info.viewers)
             if r.alive or r.state == "unknown"]
    try:
        st = read_starter_record(run_dir)
    except ProtocolError:
        st = None
    if st is not None and st.finished_at is None and is_alive(st.pid, st.create_time):
        alive.append("(its starter)")
    listed = {p.pid for r in list(info.roles) + list(info.viewers) for p in r.found}
    for p in live_found(fresh.of_run(run_dir)):
        if p.pid not in listed and (p.role or "?") not in alive:
            alive.append("%s (pid %d, found by its environment)" % (p.role or "?", p.pid))
    if info.live and not alive:
        alive.append("(%s)" % info.status_text())
    if alive:
        raise ControlError("%s still has live processes: %s; stop it first"
                           % (run_dir.name, ", ".join(alive)))
    trash = run_dir.parent / (".deleting-%s-%d" % (run_dir.name, os.getpid()))
    os.rename(run_dir, trash)
    shutil.rmtree(trash, ignore_errors=True)


def resume(run_dir: Path, checkpoint: Path, progress: Progress = lambda s: None
           ) -> subprocess.Popen | None:
    """Stop the training roles and start them again from ``checkpoint`` (a Slurm run: in a new
    job, and None is returned)."""
    record = read_run_record(run_dir)
    if not any(p.resume_args for p in record.processes):
        raise ControlError("profile %s declares no resume_args for any role; cannot resume"
                           % record.profile_name)
    if not Path(checkpoint).is_file():
        raise ControlError("checkpoint %s does not exist" % checkpoint)
    if record.launcher_kind == "slurm":
        from .slurm.control import resume_job

        resume_job(run_dir, record, Path(checkpoint), progress)
        return None   # the new job is submitted: nothing left to wait for
    stop_run(run_dir, reason="resume", progress=progress)
    return start_roles_detached(run_dir, None, resume=Path(checkpoint).absolute())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tui.core.run_control")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stop")
    s.add_argument("run_dir", type=Path)
    s.add_argument("--roles", default="")
    s.add_argument("--kill", action="store_true")
    s.add_argument("--reason", default="user")
    r = sub.add_parser("restart")
    r.add_argument("run_dir", type=Path)
    r.add_argument("--roles", default="")
    a = ap.parse_args(argv)
    roles = [x for x in a.roles.split(",") if x] or None
    if a.cmd == "restart":
        failures = restart_checked(a.run_dir, roles, progress=lambda m: log_event(a.run_dir, m))
        for f in failures:
            log_event(a.run_dir, "restart failed: %s" % f)
        return 1 if failures else 0
    stop_run(a.run_dir, roles, kill=a.kill, reason=a.reason,
             progress=lambda m: log_event(a.run_dir, m))
    return 0


if __name__ == "__main__":
    sys.exit(main())
