"""Start a run's roles in order, each once the one before it is ready; then exit.

Run detached (own session) as ``python -m tui.core.role_starter RUN_DIR [--roles a,b]
[--resume CKPT]`` or, for a viewer or other ad-hoc process, ``... RUN_DIR --adhoc JSON``. Being a
separate short-lived process, it keeps the launch going if the CLI or TUI that asked for it dies,
and its exit leaves the role wrappers orphaned to init, so no control center has to reap them.

If a role fails to start or to become ready, the roles it already started are stopped in
reverse order and the reason is written to ``procs/.starter.json`` and ``logs/pitwall.log``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from runners.protocol import (ProcessSpec, StarterRecord, append_line, clear_stop_request,
                              now_iso, read_proc_record, read_run_record, write_starter_record)
from runners.protocol.rundir import RunPaths

from .liveness import create_time, is_alive
from .readiness import wait_ready
from .spawn import python_module_argv, spawn_detached
from .stopping import stop_role

RECORD_TIMEOUT = 15.0


def log_event(run_dir: Path, message: str) -> None:
    paths = RunPaths(run_dir)
    paths.logs_dir.mkdir(parents=True, exist_ok=True)
    append_line(paths.pitwall_log, "[%s] %s" % (now_iso(), message.replace("\n", " ")))


def resume_argv(spec: ProcessSpec, checkpoint: str) -> list[str]:
    return [a.replace("{checkpoint}", checkpoint) for a in spec.resume_args]


def start_one(run_dir: Path, spec: ProcessSpec, extra_args: list[str],
              extra_env: dict[str, str] | None = None) -> str | None:
    """Start one role through its wrapper; None once it runs (and is ready), else an error.

    ``extra_env``: added to the role's environment for this start (the GPUs the queue gave).
    """
    paths = RunPaths(run_dir)
    prev = read_proc_record(run_dir, spec.role)
    if prev is not None and not prev.ended and is_alive(prev.pid, prev.create_time):
        return "%s is already running (pid %d)" % (spec.role, prev.pid)
    attempt = (prev.attempt + 1) if prev is not None else 1
    clear_stop_request(run_dir, spec.role)
    log_path = paths.log_file(spec.role)
    try:
        log_offset = log_path.stat().st_size
    except OSError:
        log_offset = 0
    wrapper_spec = {"argv": list(spec.argv) + list(extra_args), "cwd": spec.cwd,
                    "env": dict(spec.env, **(extra_env or {})), "kind": spec.kind,
                    "display": spec.display, "record_target": spec.record_target,
                    "record_episodes": spec.record_episodes}
    argv = python_module_argv("tui.core.role_wrapper", str(run_dir), spec.role,
                              "--spec", json.dumps(wrapper_spec), "--attempt", str(attempt))
    wrapper = spawn_detached(argv, log_path, cwd=run_dir)
    deadline = time.monotonic() + RECORD_TIMEOUT
    rec = None
    while time.monotonic() < deadline:
        r = read_proc_record(run_dir, spec.role)
        if r is not None and r.attempt == attempt:
            rec = r
            break
        if wrapper.poll() is not None and read_proc_record(run_dir, spec.role) is None:
            return "the wrapper of %s exited with code %s before starting it (see %s)" % (
                spec.role, wrapper.returncode, log_path)
        time.sleep(0.02)
    if rec is None:
        return "%s did not start within %.0f s (see %s)" % (spec.role, RECORD_TIMEOUT, log_path)
    if rec.error:
        return rec.error
    log_event(run_dir, "started %s (pid %d, attempt %d)" % (spec.role, rec.pid, attempt))
    if spec.ready:
        why = wait_ready(spec.ready, run_dir, log_path, log_offset, spec.ready_timeout,
                         lambda: is_alive(rec.pid, rec.create_time))
        if why:
            return "%s: %s" % (spec.role, why)
        log_event(run_dir, "%s is ready" % spec.role)
    return None


def start_roles(run_dir: Path, specs: list[ProcessSpec], resume: str | None = None,
                tag: str | None = None, extra_env: dict[str, str] | None = None) -> int:
    me = os.getpid()
    record = StarterRecord(pid=me, create_time=create_time(me) or 0.0, started_at=now_iso(),
                           roles=[s.role for s in specs])
    write_starter_record(run_dir, record, tag)
    started: list[ProcessSpec] = []
    error = None
    for spec in sorted(specs, key=lambda s: s.order):
        extra = resume_argv(spec, resume) if resume else []
        if resume and extra:
            log_event(run_dir, "resuming %s from %s" % (spec.role, resume))
        attempt_before = read_proc_record(run_dir, spec.role)
        error = start_one(run_dir, spec, extra, extra_env)
        now = read_proc_record(run_dir, spec.role)
        if now is not None and (attempt_before is None or now.attempt != attempt_before.attempt):
            started.append(spec)  # it runs, even if it never became ready: stop it too
        if error:
            break
    if error:
        log_event(run_dir, "start failed: %s" % error)
        for spec in reversed(started):
            log_event(run_dir, "stopping %s (the start failed)" % spec.role)
            stop_role(run_dir, spec.role, spec.stop, reason="start-failed")
    record.finished_at = now_iso()
    record.error = error
    write_starter_record(run_dir, record, tag)
    return 1 if error else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tui.core.role_starter")
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--roles", default="", help="comma-separated roles (default: all in run.json)")
    ap.add_argument("--resume", default=None, help="checkpoint to resume from")
    ap.add_argument("--adhoc", default=None, help="JSON ProcessSpec of a process not in run.json")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="add to every role's environment (e.g. the GPUs the queue gave)")
    a = ap.parse_args(argv)
    run_dir = a.run_dir.resolve()
    extra_env = dict(e.split("=", 1) for e in a.env if "=" in e)
    if a.adhoc:
        spec = ProcessSpec.from_dict(json.loads(a.adhoc), "<--adhoc>", "adhoc")
        return start_roles(run_dir, [spec], tag=spec.role)
    record = read_run_record(run_dir)
    wanted = [r for r in a.roles.split(",") if r]
    specs = [p for p in record.processes if not wanted or p.role in wanted]
    unknown = set(wanted) - {p.role for p in specs}
    if unknown:
        log_event(run_dir, "unknown roles %s" % sorted(unknown))
        return 2
    return start_roles(run_dir, specs, a.resume, extra_env=extra_env)


if __name__ == "__main__":
    sys.exit(main())
