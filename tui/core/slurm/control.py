"""Stop, resume and restart a run that runs (or waits) as a Slurm job.

Stop: the same escalation as a local stop, through Slurm: ``scancel --batch --signal=INT``
(the node agent passes it to the roles, the trainer saves), after the largest ``sigint_grace``
of the roles ``--signal=TERM``, after the largest ``sigterm_grace`` ``scancel --full
--signal=KILL`` (every process of the job; Slurm then ends it as cancelled). A job that waits in
the queue, or whose agent has not started yet, is cancelled at once (plain ``scancel``). Stop
requests are recorded first, so the roles read *stopped*.

Resume and restart stop the job if it still runs, then submit a new job for the same run
directory (``--resume CKPT`` for a resume); ``procs/.slurm-jobs.json`` lists every job.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from runners.protocol import RunRecord, read_node_record, read_proc_record, write_stop_request

from ..role_starter import log_event
from ..stopping import StopOutcome
from .commands import SlurmError, run_slurm
from .job_state import STATES, JobStates, current_job
from .submit import resubmit

Progress = Callable[[str], None]
KILL_WAIT_S = 60.0   # after a scancel: the job's end (KillWait, the epilog), generously


def _roles_done(run_dir: Path, record: RunRecord) -> bool:
    for spec in record.processes:
        rec = read_proc_record(run_dir, spec.role)
        if rec is not None and not rec.ended:
            return False
    return True


def _wait(run_dir: Path, record: RunRecord, job: str, timeout: float, states: JobStates,
          need_job_end: bool = False) -> bool:
    """Until the roles have ended (or the job has), at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    next_ask = 0.0
    while True:
        if not need_job_end and _roles_done(run_dir, record):
            return True
        now = time.monotonic()
        if now >= next_ask:
            if states.state(job, max_age=0.0).ended:
                return True
            next_ask = now + 1.0
        if now >= deadline:
            return False
        time.sleep(0.2)


def stop_job(run_dir: Path, record: RunRecord, kill: bool = False, reason: str = "user",
             progress: Progress = lambda s: None, states: JobStates = STATES
             ) -> list[StopOutcome]:
    job = current_job(run_dir, record)
    before = {s.role: read_proc_record(run_dir, s.role) for s in record.processes}
    if not job:
        progress("no Slurm job yet (the submission has not answered)")
        return [_outcome(run_dir, s.role, before[s.role], None) for s in record.processes]
    st = states.state(job, max_age=0.0)
    if st.ended:
        return [_outcome(run_dir, s.role, before[s.role], None) for s in record.processes]
    for spec in record.processes:
        rec = before[spec.role]
        if rec is not None and not rec.ended:
            write_stop_request(run_dir, spec.role, reason=reason, attempt=rec.attempt)
    log_event(run_dir, "%s job %s through Slurm (%s)" % ("killing" if kill else "stopping",
                                                         job, reason))
    node = read_node_record(run_dir)
    agent_up = node is not None and node.job_id == job and node.state in ("running", "stopping")
    used = None
    if kill and not st.waiting:
        progress("%s: scancel --full --signal=KILL" % job)
        run_slurm(["scancel", "--full", "--signal=KILL", job])
        used = "SIGKILL"
        _wait(run_dir, record, job, KILL_WAIT_S, states, need_job_end=True)
    elif st.waiting or not agent_up:
        progress("%s: scancel (%s)" % (job, st.text() if st.waiting
                                       else "its roles have not started"))
        run_slurm(["scancel", job])
        used = "scancel"
        _wait(run_dir, record, job, KILL_WAIT_S, states, need_job_end=True)
    else:
        sigint = max([s.stop.sigint_grace for s in record.processes] or [30.0])
        sigterm = max([s.stop.sigterm_grace for s in record.processes] or [10.0])
        for name, grace in (("INT", sigint), ("TERM", sigterm)):
            progress("%s: scancel --batch --signal=%s (waiting up to %.0f s)" % (job, name,
                                                                             grace))
            try:
                run_slurm(["scancel", "--batch", "--signal=%s" % name, job])
            except SlurmError as e:
                progress("%s: %s" % (job, e))
            used = "SIG" + name
            if _wait(run_dir, record, job, grace, states):
                break
        else:
            progress("%s: scancel --full --signal=KILL (the roles did not end)" % job)
            run_slurm(["scancel", "--full", "--signal=KILL", job], check=False)
            used = "SIGKILL"
            _wait(run_dir, record, job, KILL_WAIT_S, states, need_job_end=True)
    if used and used.startswith("SIG"):
        # the roles have ended; the agent exits a moment later and the job with it
        _wait(run_dir, record, job, KILL_WAIT_S, states, need_job_end=True)
    states.forget(job)
    if st.waiting:
        return [StopOutcome(s.role, False, "cancelled", None, None) for s in record.processes]
    return [_outcome(run_dir, s.role, before[s.role], used) for s in record.processes]


def _outcome(run_dir: Path, role: str, before, used: str | None) -> StopOutcome:
    rec = read_proc_record(run_dir, role)
    was = before is not None and not before.ended
    return StopOutcome(role, was, used if was else None, rec.exit_code if rec else None,
                       rec.signal if rec else None)


def resume_job(run_dir: Path, record: RunRecord, checkpoint: Path,
               progress: Progress = lambda s: None) -> str:
    stop_job(run_dir, record, reason="resume", progress=progress)
    return resubmit(run_dir, record, "resume", str(Path(checkpoint).absolute()))


def restart_job(run_dir: Path, record: RunRecord, progress: Progress = lambda s: None) -> str:
    stop_job(run_dir, record, reason="restart", progress=progress)
    return resubmit(run_dir, record, "restart")
