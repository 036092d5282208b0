"""The batch job on the compute node: start the run's roles, wait for them, report.

``python -m tui.core.slurm.node_agent RUN_DIR [--resume CKPT]``, or ``--array ROOT NAME...``
(task ``SLURM_ARRAY_TASK_ID`` runs ``ROOT/NAME[i]``). It is the batch script itself (``exec``),
so Slurm's signals for the batch step reach it:

- It starts the roles with the same starter and wrappers as a local launch (in order, each once
  the one before is ready; ``procs/<role>.json`` name this node), then stays until every role
  has ended: a batch job ends when its script does, and its processes with it.
- ``SIGINT``/``SIGTERM`` (``scancel --batch --signal=...``, Slurm's kill at a cancel or a time
  limit) go on to every live role's process group, in reverse start order; a stop request is
  recorded first, so the roles read *stopped*.
- ``SIGUSR1`` is Slurm's time-limit warning (``--signal=B:USR1@N``): the roles are stopped with
  their profile's grace periods (the trainer saves), then, with ``requeue: true``, the job
  requeues itself (``scontrol requeue``). Slurm starts it again later with
  ``SLURM_RESTART_COUNT`` + 1, and this agent then resumes from the newest checkpoint: one run
  directory, one metric history, as many times as needed. Without requeue it waits for the
  limit, so the job ends as Slurm's ``TIMEOUT``.
- The batch job exits with the first failed role's exit code (``128 + N`` for a signal), so
  ``sacct`` says ``FAILED`` with it; ``procs/.node.json`` records all of this for the control
  center.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
from pathlib import Path
from types import FrameType

from runners.protocol import (NodeRecord, ProtocolError, RunRecord, now_iso, read_proc_record,
                              read_run_record, read_stop_request, write_node_record,
                              write_stop_request)

from ..liveness import is_alive
from ..role_starter import log_event, start_roles
from ..run_checkpoints import list_run_checkpoints
from ..stopping import stop_role
from .commands import SlurmError, run_slurm

POLL_S = 0.5


def _say(msg: str) -> None:
    sys.stdout.write("[pitwall node %s] %s\n" % (now_iso(), msg))
    sys.stdout.flush()


def newest_checkpoint(run_dir: Path, record: RunRecord) -> str | None:
    hist = [c for c in list_run_checkpoints(run_dir, record) if not c.is_latest]
    if not hist:
        return None
    best = max(hist, key=lambda c: (c.step if c.step is not None else -1, c.mtime))
    return str(best.path)


class Agent:
    def __init__(self, run_dir: Path, job_id: str, resume: str | None = None):
        self.run_dir = run_dir
        self.job_id = job_id
        self.record = read_run_record(run_dir)
        self.specs = sorted(self.record.processes, key=lambda p: p.order)
        self.restarts = int(os.environ.get("SLURM_RESTART_COUNT") or 0)
        self.explicit_resume = resume
        self.warned_at: str | None = None
        self.pending: list[int] = []
        self.forwarded = False       # a stop or kill came through Slurm: never requeue then
        self.time_stopped = False    # the time-limit warning stopped a running role
        self.node = NodeRecord(job_id=job_id, host=socket.gethostname(), pid=os.getpid(),
                               started_at=now_iso(), restart_count=self.restarts)

    # ------------------------------------------------------------------ signals
    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGUSR1:
            if self.warned_at is None:
                self.warned_at = now_iso()
        else:
            self.pending.append(signum)

    def _install(self) -> None:
        for s in (signal.SIGUSR1, signal.SIGINT, signal.SIGTERM):
            signal.signal(s, self._on_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    def _save(self, **changes: object) -> None:
        for k, v in changes.items():
            setattr(self.node, k, v)
        try:
            write_node_record(self.run_dir, self.node)
        except OSError as e:
            _say("cannot write procs/.node.json: %s" % e)

    # ------------------------------------------------------------------ roles
    def _live_roles(self) -> list:
        out = []
        for spec in reversed(self.specs):
            try:
                rec = read_proc_record(self.run_dir, spec.role)
            except ProtocolError:
                continue
            if rec is not None and not rec.ended and rec.pid > 0 \
                    and is_alive(rec.pid, rec.create_time):
                out.append((spec, rec))
        return out

    def _forward(self, signum: int) -> None:
        self.forwarded = True
        name = signal.Signals(signum).name
        for spec, rec in self._live_roles():
            stop = read_stop_request(self.run_dir, spec.role)
            if stop is None or stop.attempt != rec.attempt:
                write_stop_request(self.run_dir, spec.role, reason="slurm %s" % name,
                                   attempt=rec.attempt)
            _say("%s: forwarding %s to process group %d" % (spec.role, name, rec.pgid))
            try:
                os.killpg(rec.pgid, signum)
            except (ProcessLookupError, PermissionError):
                pass

    def _stop_for_time_limit(self) -> None:
        self._save(state="stopping", warned_at=self.warned_at)
        log_event(self.run_dir, "job %s: Slurm's time-limit warning; stopping the roles so the "
                  "trainer saves" % self.job_id)
        for spec in reversed(self.specs):
            out = stop_role(self.run_dir, spec.role, spec.stop, reason="time-limit",
                            progress=_say)
            if out.was_running:
                self.time_stopped = True
                _say("%s: stopped by %s" % (spec.role, out.stopped_by))

    def _reap(self) -> None:
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def _all_ended(self) -> bool:
        for spec in self.specs:
            rec = read_proc_record(self.run_dir, spec.role)
            if rec is not None and not rec.ended and is_alive(rec.pid, rec.create_time):
                return False
            if rec is not None and not rec.ended and is_alive(rec.wrapper_pid,
                                                              rec.wrapper_create_time):
                return False  # the wrapper is recording the exit
        return True

    def _exit_code(self) -> int:
        for spec in self.specs:
            rec = read_proc_record(self.run_dir, spec.role)
            if rec is None:
                continue
            stop = read_stop_request(self.run_dir, spec.role)
            if stop is not None and stop.attempt == rec.attempt:
                continue
            if rec.error:
                return 127 if rec.exit_code is None else max(1, rec.exit_code)
            if rec.signal:
                return 128 + rec.signal
            if rec.exit_code:
                return rec.exit_code
        return 0

    # ------------------------------------------------------------------ main
    def resume_from(self) -> str | None:
        if self.restarts > 0:  # requeued: continue from the newest checkpoint
            return newest_checkpoint(self.run_dir, self.record) or self.explicit_resume
        return self.explicit_resume

    def run(self) -> int:
        self._install()
        resume = self.resume_from()
        if resume and not any(s.resume_args for s in self.specs):
            resume = None
        self._save(state="starting", resumed_from=resume)
        where = "job %s on %s%s" % (self.job_id, self.node.host,
                                    " (restart %d)" % self.restarts if self.restarts else "")
        _say("%s: starting %s%s" % (where, self.run_dir, " from %s" % resume if resume else ""))
        log_event(self.run_dir, "%s: starting the roles%s" % (where, " from %s" % resume
                                                             if resume else ""))
        code = start_roles(self.run_dir, self.specs, resume)
        if code != 0:
            self._save(state="ended", finished_at=now_iso(), exit_code=1,
                       message="the roles could not be started (see logs/pitwall.log)")
            return 1
        self._save(state="running")
        stopping = False
        while True:
            self._reap()
            while self.pending:
                self._forward(self.pending.pop(0))
            if self.warned_at is not None and not stopping:
                stopping = True
                self._stop_for_time_limit()
            if self._all_ended():
                break
            time.sleep(POLL_S)
        self._reap()
        if self.time_stopped and not self.forwarded:
            return self._after_time_limit()
        code = self._exit_code()
        self._save(state="ended", finished_at=now_iso(), exit_code=code)
        log_event(self.run_dir, "job %s: the roles have ended (exit %d)" % (self.job_id, code))
        return code

    def _after_time_limit(self) -> int:
        options = self.record.launcher.get("options") or {}
        if options.get("requeue", True):
            self._save(state="requeued", requeued_at=now_iso(),
                       message="time limit: saved, requeued")
            log_event(self.run_dir, "job %s: requeued (it resumes from the newest checkpoint)"
                      % self.job_id)
            try:
                # the raw id: for a task of an array, SLURM_JOB_ID is the task's own id
                run_slurm(["scontrol", "requeue", os.environ.get("SLURM_JOB_ID", self.job_id)])
                return 0
            except SlurmError as e:
                self._save(state="ended", finished_at=now_iso(), exit_code=1,
                           message="requeue failed: %s" % e)
                log_event(self.run_dir, "job %s: requeue failed: %s" % (self.job_id, e))
                return 1
        self._save(state="ended", finished_at=now_iso(),
                   message="time limit: the roles saved and stopped; no requeue")
        while True:  # Slurm ends the job at its limit: it reads TIMEOUT, as it should
            signal.pause()


def _job_id() -> str:
    task = os.environ.get("SLURM_ARRAY_TASK_ID")
    if task is not None and os.environ.get("SLURM_ARRAY_JOB_ID"):
        return "%s_%s" % (os.environ["SLURM_ARRAY_JOB_ID"], task)
    return os.environ.get("SLURM_JOB_ID", "")


def _follow_into(path: Path) -> None:
    """Send this process's output to ``path`` from now on (array tasks find their run first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tui.core.slurm.node_agent")
    ap.add_argument("run_dir", nargs="?", type=Path)
    ap.add_argument("--array", nargs="+", metavar="ROOT NAME", default=None,
                    help="the runs root, then one run directory name per array task")
    ap.add_argument("--resume", default=None)
    a = ap.parse_args(argv)
    job_id = _job_id()
    if a.array:
        root, names = Path(a.array[0]), a.array[1:]
        task = int(os.environ.get("SLURM_ARRAY_TASK_ID", "-1"))
        if not 0 <= task < len(names):
            _say("array task %d has no run (%d runs given)" % (task, len(names)))
            return 2
        run_dir = root / names[task]
        _say("array task %d -> %s" % (task, run_dir))
        _follow_into(run_dir / "logs" / ("slurm-%s.log" % job_id))
    elif a.run_dir is None:
        ap.error("give RUN_DIR or --array ROOT NAME...")
        return 2
    else:
        run_dir = a.run_dir
    try:
        agent = Agent(run_dir.absolute(), job_id, a.resume)
    except ProtocolError as e:
        _say("cannot read the run: %s" % e)
        return 2
    return agent.run()


if __name__ == "__main__":
    sys.exit(main())
