"""A Slurm run's status: Slurm's job state, merged with what the roles' files say.

The registry calls :func:`apply_slurm_status` for every run whose ``run.json`` launcher is
``slurm``. Slurm decides while the job waits or has ended (``pending (Resources)``,
``completed``, ``failed (exit 2)``, ``cancelled``, ``timeout``, ``out of memory``,
``node fail``); while it runs, the roles' records do, with ``running on NODE`` as the text (on
another host their pids cannot be checked: Slurm's word that the job runs stands for them).
``info`` is the registry's ``RunInfo`` (not imported here: the registry imports this module).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from runners.protocol import NodeRecord, ProtocolError, read_node_record, read_slurm_jobs

from ..logs import tail_text
from .job_state import STATES, JobState, JobStates, current_job

TAIL_LINES = 3
FAILED_STATES = ("TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL",
                 "DEADLINE", "REVOKED")


def prefetch(run_dirs: list[Path], states: JobStates = STATES) -> None:
    """Fill the cache for these runs' current jobs in one batch (a runs list opened on many
    ended Slurm runs would otherwise ask Slurm once per run)."""
    ids = []
    for d in run_dirs:
        try:
            jobs = read_slurm_jobs(d)
        except ProtocolError:
            continue
        if jobs:
            ids.append(jobs[-1].job_id)
    if ids:
        states.get(ids)


def apply_slurm_status(info: Any, states: JobStates = STATES) -> None:
    record = info.record
    if record is None:
        return
    try:
        job = current_job(info.path, record)
        node = read_node_record(info.path)
    except ProtocolError as e:
        info.error = str(e)
        return
    if not job:
        info.status, info.detail = "starting", "submitting to Slurm"
        return
    if node is not None and node.job_id != job:
        node = None              # the record of an earlier job of this run
    st = states.state(job)
    if st.state == "UNKNOWN":
        _unknown(info, st)
        return
    if st.waiting:
        _waiting(info, st, node)
    elif st.live:
        _running(info, st, node)
    else:
        _ended(info, st, job)


def _unknown(info: Any, st: JobState) -> None:
    """Slurm cannot be asked here (or forgot the job): recorded exits stand; otherwise the
    run counts as live, so it is asked again at the next refresh."""
    if info.status not in ("finished", "failed", "stopped"):
        recorded = any(r.record is not None for r in info.roles)
        info.status = "running" if recorded else "starting"
        info.error = None
        for r in info.roles:
            if r.state in ("lost", "pending", "unknown"):
                r.state, r.error = "unknown", st.text()
    info.detail = "%s? (%s)" % (info.status, st.text())


def _waiting(info: Any, st: JobState, node: NodeRecord | None) -> None:
    info.status = "queued"
    text = st.text()
    if node is not None and node.state == "requeued":
        n = node.restart_count + 1
        text = "pending (requeued%s%s)" % (" %dx" % n if n > 1 else "",
                                           ", " + st.reason if st.reason not in ("", "None")
                                           else "")
    info.detail = text
    info.error, info.exit_code = None, None
    for r in info.roles:
        if r.state != "running":    # nothing of this job runs yet ("starting" included)
            r.state, r.error = "queued", None


def _running(info: Any, st: JobState, node: NodeRecord | None) -> None:
    for r in info.roles:
        if r.state == "unknown":      # on another host: Slurm says the job runs
            r.state, r.error = "running", None
    states = [r.state for r in info.roles]
    where = st.nodes or (node.host if node else "")
    if any(s in ("running", "starting") for s in states) and node is not None \
            and node.state in ("starting", "running"):
        info.status = "running" if "running" in states else "starting"
        info.detail = ("running on %s" % where if info.status == "running"
                       else "starting on %s" % where)
    elif node is None or node.state == "starting":
        info.status, info.detail = "starting", "starting on %s" % where if where else "starting"
    elif node.state == "stopping":
        info.status, info.detail = "running", "time limit near: saving and stopping on %s" % where
    elif node.state == "requeued":
        info.status, info.detail = "running", "requeueing on %s" % where
    else:
        info.status, info.detail = "running", "%s (roles ended)" % st.text()
    info.error, info.exit_code = None, None


def _ended(info: Any, st: JobState, job: str) -> None:
    text = st.text()
    for r in info.roles:          # roles killed with the job never recorded an exit
        if r.state in ("lost", "unknown", "running", "starting", "pending"):
            r.state = "stopped" if st.state == "CANCELLED" else "failed"
            r.error = "job %s: %s" % (job, text)
    if st.state == "COMPLETED":
        if info.status == "finished":
            info.detail = "completed"
        elif info.status == "stopped":
            info.detail = "stopped"
        return
    if st.state == "CANCELLED":
        info.status, info.detail = "stopped", "cancelled"
        info.error = None
        return
    info.status = "failed"
    if st.state == "FAILED":
        info.exit_code = st.exit_code if st.exit_code is not None else info.exit_code
        info.detail = text
    else:
        info.detail = text
    info.error = "job %s %s%s" % (job, text, _tail(info, job))


def _tail(info: Any, job: str) -> str:
    """The last lines of the log that tells why: the failed role's, else the job's own."""
    failed = next((r for r in info.roles if r.record is not None
                                     and (r.record.exit_code or r.record.signal
                                          or r.record.error)), None)
    candidates = []
    if failed is not None:
        candidates.append((failed.role, info.path / "logs" / (failed.role + ".log")))
    candidates.append(("slurm", info.path / "logs" / ("slurm-%s.log" % job)))
    for label, path in candidates:
        try:
            lines = [ln for ln in tail_text(path, 12).splitlines() if ln.strip()]
        except OSError:
            continue
        if lines:
            return "; %s log: %s" % (label, " | ".join(lines[-TAIL_LINES:]))
    return ""
