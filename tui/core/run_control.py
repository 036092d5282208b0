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

from runners.protocol import (ProcRecord, ProcessSpec, RunRecord, StopPolicy, read_run_record,
                              read_starter_record)
from runners.protocol.rundir import RunPaths

from .liveness import is_alive
from .registry import load_run
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
    viewers = {v.role for v in load_run(run_dir).viewers}
    if roles is not None:
        bad = [r for r in roles if r not in known and r not in viewers]
        if bad:
            raise ControlError("%s has no role %s (roles: %s; viewers: %s)"
                               % (record.name, ", ".join(bad), ", ".join(sorted(known)),
                                  ", ".join(sorted(viewers)) or "none"))
    order = [p.role for p in sorted(record.processes, key=lambda p: p.order, reverse=True)]
    targets = order if roles is None else [r for r in order if r in roles] + \
        [r for r in roles if r not in known]
    _wait_for_starter(run_dir, progress)
    outcomes = []
    for role in targets:
        log_event(run_dir, "%s %s (%s)" % ("killing" if kill else "stopping", role, reason))
        out = stop_role(run_dir, role, stop_policy(record, role), reason=reason, kill=kill,
                        progress=progress)
        outcomes.append(out)
    return outcomes


def _wait_for_starter(run_dir: Path, progress: Progress, timeout: float = 30.0) -> None:
    """A stop during a launch waits for the starter, so no role starts after the stop."""
    deadline = time.monotonic() + timeout
    announced = False
    while time.monotonic() < deadline:
        st = read_starter_record(run_dir)
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
            progress: Progress = lambda s: None) -> subprocess.Popen:
    """Stop the roles (all by default), then start them again in order (attempt + 1)."""
    record = read_run_record(run_dir)
    info = load_run(run_dir)
    viewer_roles = [r for r in (roles or []) if record.process(r) is None]
    train_roles = [r for r in (roles or [p.role for p in record.processes])
                   if record.process(r) is not None]
    stop_run(run_dir, (roles or None), reason="restart", progress=progress)
    proc = None
    if train_roles:
        proc = start_roles_detached(run_dir, train_roles)
    for v in viewer_roles:
        vs = info.role(v)
        if vs is None or vs.record is None:
            raise ControlError("viewer %s has no record to restart from" % v)
        proc = start_adhoc_detached(run_dir, spec_from_record(vs.record, stop_policy(record, v)))
    assert proc is not None
    return proc


def spec_from_record(rec: ProcRecord, stop: StopPolicy) -> ProcessSpec:
    return ProcessSpec(role=rec.role, argv=list(rec.argv), cwd=rec.cwd, kind=rec.kind,
                       env=dict(rec.env), stop=stop, display=rec.display,
                       record_target=rec.record_target, record_episodes=rec.record_episodes)


def restart_detached(run_dir: Path, roles: list[str] | None = None) -> subprocess.Popen:
    """:func:`restart` in a detached process (it outlives the caller)."""
    args = [str(run_dir)]
    if roles:
        args += ["--roles", ",".join(roles)]
    return spawn_detached(python_module_argv("tui.core.run_control", "restart", *args),
                          RunPaths(run_dir).pitwall_log, cwd=run_dir)


def delete_run(run_dir: Path) -> None:
    """Delete a run directory; refused while any of its processes (or its starter) lives.

    The directory is first renamed to a hidden name in the same root (atomic), so a second
    control center stops listing it at once and never sees it half deleted.
    """
    run_dir = Path(run_dir).absolute()
    info = load_run(run_dir)
    alive = [r.role for r in list(info.roles) + list(info.viewers)
             if r.alive or r.state == "unknown"]
    st = read_starter_record(run_dir)
    if st is not None and st.finished_at is None and is_alive(st.pid, st.create_time):
        alive.append("(its starter)")
    if alive:
        raise ControlError("%s still has live processes: %s; stop it first"
                           % (run_dir.name, ", ".join(alive)))
    trash = run_dir.parent / (".deleting-%s-%d" % (run_dir.name, os.getpid()))
    os.rename(run_dir, trash)
    shutil.rmtree(trash, ignore_errors=True)


def resume(run_dir: Path, checkpoint: Path, progress: Progress = lambda s: None
           ) -> subprocess.Popen:
    """Stop the training roles and start them again from ``checkpoint``."""
    record = read_run_record(run_dir)
    if not any(p.resume_args for p in record.processes):
        raise ControlError("profile %s declares no resume_args for any role; cannot resume"
                           % record.profile_name)
    if not Path(checkpoint).is_file():
        raise ControlError("checkpoint %s does not exist" % checkpoint)
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
        restart(a.run_dir, roles, progress=lambda m: log_event(a.run_dir, m)).wait()
        return 0
    stop_run(a.run_dir, roles, kill=a.kill, reason=a.reason,
             progress=lambda m: log_event(a.run_dir, m))
    return 0


if __name__ == "__main__":
    sys.exit(main())
