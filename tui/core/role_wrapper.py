"""The session leader of one role: starts the process, records how it ended.

Run as ``python -m tui.core.role_wrapper RUN_DIR ROLE --spec JSON [--attempt N]`` by the
starter, in its own session with stdin from ``/dev/null`` and stdout/stderr on the role's log
file. It starts the real process in a process group of its own (so stop signals sent to that
group never hit the wrapper), writes ``procs/<role>.json`` when the process started and again
when it ended, and appends the final record to ``procs/history.jsonl``. No Pitwall control
center needs to be alive for any of this.

SIGINT/SIGTERM sent to the wrapper itself are forwarded to the process group; SIGHUP is ignored
(an SSH session dropping must not end a run).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from typing import Any

from runners.protocol import ProcRecord, append_history, now_iso, write_proc_record
from runners.protocol.rundir import RunPaths

from .liveness import create_time


def _say(msg: str) -> None:
    sys.stderr.write("[pitwall %s] %s\n" % (now_iso(), msg))
    sys.stderr.flush()


def run(run_dir: str, role: str, spec: dict[str, Any], attempt: int) -> int:
    argv = [str(a) for a in spec["argv"]]
    cwd = spec.get("cwd") or run_dir
    added_env = {str(k): str(v) for k, v in (spec.get("env") or {}).items()}
    env = dict(os.environ)
    env.update(added_env)
    kind = str(spec.get("kind", "train"))
    purpose = {"display": str(spec.get("display") or ""),
               "record_target": str(spec.get("record_target") or ""),
               "record_episodes": int(spec.get("record_episodes") or 0)}
    me = os.getpid()
    my_ct = create_time(me) or 0.0

    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    child_pgid = {"pgid": 0}

    def forward(signum: int, _frame: Any) -> None:
        if child_pgid["pgid"]:
            try:
                os.killpg(child_pgid["pgid"], signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)

    _say("starting %s (attempt %d): %s  [cwd %s]" % (role, attempt, " ".join(argv), cwd))
    try:
        child = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                 process_group=0, close_fds=True)
    except OSError as e:
        rec = ProcRecord(role=role, kind=kind, pid=0, pgid=0, create_time=0.0,
                         started_at=now_iso(), wrapper_pid=me, wrapper_create_time=my_ct,
                         argv=argv, cwd=cwd, env=added_env, attempt=attempt,
                         exited_at=now_iso(), exit_code=127, **purpose,
                         error="cannot start %s: %s" % (argv[0], e.strerror or e))
        append_history(run_dir, rec)   # first: a reader that sees the end sees its history too
        write_proc_record(run_dir, rec)
        _say(rec.error or "")
        return 127
    child_pgid["pgid"] = child.pid
    rec = ProcRecord(role=role, kind=kind, pid=child.pid, pgid=child.pid,
                     create_time=create_time(child.pid) or 0.0, started_at=now_iso(),
                     wrapper_pid=me, wrapper_create_time=my_ct, argv=argv, cwd=cwd,
                     env=added_env, attempt=attempt, **purpose)
    write_proc_record(run_dir, rec)

    while True:
        try:
            code = child.wait()
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            continue
    rec.exited_at = now_iso()
    if code < 0:
        rec.signal = -code
        rec.exit_code = None
        _say("%s killed by signal %d" % (role, -code))
    else:
        rec.exit_code = code
        _say("%s exited with code %d" % (role, code))
    append_history(run_dir, rec)   # first: a reader that sees the end sees its history too
    write_proc_record(run_dir, rec)
    return code if code >= 0 else 128 + (-code)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tui.core.role_wrapper")
    ap.add_argument("run_dir")
    ap.add_argument("role")
    ap.add_argument("--spec", required=True, help="JSON: argv, cwd, env, kind")
    ap.add_argument("--attempt", type=int, default=1)
    a = ap.parse_args(argv)
    RunPaths(a.run_dir).procs_dir.mkdir(parents=True, exist_ok=True)
    return run(a.run_dir, a.role, json.loads(a.spec), a.attempt)


if __name__ == "__main__":
    sys.exit(main())
