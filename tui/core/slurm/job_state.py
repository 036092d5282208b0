"""Job states from Slurm: ``squeue`` while a job is queued or running, ``sacct`` once it ended
(``scontrol show job`` where accounting is off), and the words Pitwall shows for them.

:class:`JobStates` caches what it read: an ended job's state never changes, a live one is asked
again after ``max_age`` seconds, and every live job it knows is asked in the same ``squeue`` call,
so a runs list with many Slurm runs costs one ``squeue`` per refresh.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from pathlib import Path

from runners.protocol import RunRecord, read_slurm_jobs

from .commands import SlurmError, run_slurm

# Slurm's job states that can still change (squeue's long names)
LIVE_STATES = frozenset({
    "PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_FED",
    "REQUEUE_HOLD", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD",
    "SPECIAL_EXIT", "UNKNOWN"})
WAITING_STATES = frozenset({"PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD",
                            "RESV_DEL_HOLD", "SPECIAL_EXIT"})
ENDED_TEXT = {
    "COMPLETED": "completed", "CANCELLED": "cancelled", "TIMEOUT": "timeout",
    "OUT_OF_MEMORY": "out of memory", "NODE_FAIL": "node fail", "PREEMPTED": "preempted",
    "BOOT_FAIL": "boot fail", "DEADLINE": "deadline", "REVOKED": "revoked",
}
SQUEUE_FORMAT = "%i|%T|%r|%N"
MAX_AGE_S = 2.0
QUERY_TIMEOUT_S = 10.0   # a status query never blocks a refresh longer (a missing slurm.conf
                         # makes the commands retry for 60 s)
ERROR_BACKOFF_S = 30.0   # when Slurm could not be asked, ask again only after this long


@dataclass(frozen=True)
class JobState:
    job_id: str
    state: str                  # Slurm's, e.g. PENDING, RUNNING, FAILED; UNKNOWN if not found
    reason: str = ""            # why it is pending (Resources, Priority, BeginTime ...)
    nodes: str = ""
    exit_code: int | None = None
    signal: int | None = None
    source: str = ""            # squeue | sacct | scontrol | "" (not found)
    error: str | None = None    # why Slurm could not be asked

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def waiting(self) -> bool:
        return self.state in WAITING_STATES

    @property
    def ended(self) -> bool:
        return not self.live

    def text(self) -> str:
        """``pending (Resources)``, ``running on node07``, ``failed (exit 2)``, ``timeout`` ..."""
        s = self.state
        if s == "UNKNOWN":
            return "job %s: %s" % (self.job_id, self.error or "not known to squeue or sacct")
        if s in WAITING_STATES:
            reason = self.reason if self.reason and self.reason != "None" else ""
            word = "requeued" if s.startswith("REQUEUE") else "pending"
            return "%s (%s)" % (word, reason) if reason else word
        if s == "RUNNING":
            return "running on %s" % self.nodes if self.nodes else "running"
        if s == "CONFIGURING":
            return "starting on %s" % self.nodes if self.nodes else "starting"
        if s == "COMPLETING":
            return "completing on %s" % self.nodes if self.nodes else "completing"
        if s == "FAILED":
            if self.signal:
                return "failed (signal %d)" % self.signal
            return "failed (exit %s)" % (self.exit_code if self.exit_code is not None else "?")
        return ENDED_TEXT.get(s, s.lower().replace("_", " "))


def current_job(run_dir: Path, record: RunRecord) -> str:
    """A run's newest job id ("" before sbatch answered): the last of
    ``procs/.slurm-jobs.json``, else the one ``run.json`` records."""
    jobs = read_slurm_jobs(run_dir)
    return jobs[-1].job_id if jobs else record.slurm_job_id


def parse_squeue(text: str) -> dict[str, JobState]:
    out = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 4 or not parts[0]:
            continue
        out[parts[0]] = JobState(parts[0], parts[1].strip().upper(), parts[2].strip(),
                                 parts[3].strip(), source="squeue")
    return out


def _exit_code(text: str) -> tuple[int | None, int | None]:
    """sacct's ``ExitCode`` ``2:0`` -> (2, None); ``0:9`` -> (0, 9)."""
    code, _, sig = text.partition(":")
    try:
        c = int(code)
    except ValueError:
        c = None
    try:
        s = int(sig) or None
    except ValueError:
        s = None
    return c, s


def parse_sacct(text: str) -> dict[str, JobState]:
    """``sacct -X -P -n -o JobID,State,ExitCode,NodeList,Reason``; the last line of a job wins
    (a requeued job has one line per start)."""
    out = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 3 or not parts[0]:
            continue
        state = parts[1].split()[0].upper() if parts[1].split() else "UNKNOWN"
        code, sig = _exit_code(parts[2])
        nodes = parts[3].strip() if len(parts) > 3 else ""
        reason = parts[4].strip() if len(parts) > 4 else ""
        out[parts[0]] = JobState(parts[0], state, reason, "" if nodes == "None assigned"
                                 else nodes, code, sig, source="sacct")
    return out


def parse_scontrol(job_id: str, text: str) -> JobState | None:
    """``scontrol show job -o ID``: ``JobState=FAILED Reason=NonZeroExitCode ExitCode=2:0 ...``."""
    fields = {}
    for token in text.split():
        k, sep, v = token.partition("=")
        if sep and k not in fields:
            fields[k] = v
    if "JobState" not in fields:
        return None
    code, sig = _exit_code(fields.get("ExitCode", ""))
    nodes = fields.get("NodeList", "")
    return JobState(job_id, fields["JobState"].upper(), fields.get("Reason", ""),
                    "" if nodes == "(null)" else nodes, code, sig, source="scontrol")


def query(job_ids: list[str]) -> dict[str, JobState]:
    """Ask Slurm now. Jobs Slurm does not know come back as ``UNKNOWN``; when Slurm cannot be
    asked (no squeue here, slurmctld down), as ``UNKNOWN`` with the reason in ``error``."""
    ids = sorted(set(j for j in job_ids if j))
    if not ids:
        return {}
    try:
        proc = run_slurm(["squeue", "-h", "-r", "-o", SQUEUE_FORMAT, "-j", ",".join(ids)],
                         check=False, timeout=QUERY_TIMEOUT_S)
    except SlurmError as e:   # no Slurm on this host, slurmctld not answering ...
        return {j: JobState(j, "UNKNOWN", error=str(e).split(":")[0]) for j in ids}
    found = parse_squeue(proc.stdout) if proc.returncode == 0 else {}
    if proc.returncode != 0 and "Invalid job id" not in (proc.stderr or ""):
        lines = [ln.strip() for ln in (proc.stderr or "").splitlines() if ln.strip()]
        err = lines[-1] if lines else "squeue exited with %d" % proc.returncode
        return {j: JobState(j, "UNKNOWN", error=err) for j in ids}
    out = {j: found[j] for j in ids if j in found}
    missing = [j for j in ids if j not in out]
    if missing:
        out.update(_ended(missing))
    return out


def _ended(ids: list[str]) -> dict[str, JobState]:
    out: dict[str, JobState] = {}
    error = None
    try:
        proc = run_slurm(["sacct", "-X", "-P", "-n", "-o", "JobID,State,ExitCode,NodeList,Reason",
                          "-j", ",".join(ids)], check=False, timeout=QUERY_TIMEOUT_S)
        if proc.returncode == 0:
            found = parse_sacct(proc.stdout)
            out.update({j: found[j] for j in ids if j in found})
        else:
            lines = [ln.strip() for ln in (proc.stderr or "").splitlines() if ln.strip()]
            error = lines[-1] if lines else None
    except SlurmError as e:
        error = str(e)
    for j in [j for j in ids if j not in out]:
        try:
            proc = run_slurm(["scontrol", "show", "job", "-o", j], check=False,
                             timeout=QUERY_TIMEOUT_S)
            st = parse_scontrol(j, proc.stdout) if proc.returncode == 0 else None
        except SlurmError:
            st = None
        out[j] = st or JobState(j, "UNKNOWN", error=error)
    return out


class JobStates:
    """A thread-safe cache of job states (see the module's docstring)."""

    def __init__(self, max_age: float = MAX_AGE_S):
        self.max_age = max_age
        self._states: dict[str, tuple[float, JobState]] = {}
        self._lock = threading.Lock()
        self.queries = 0

    def get(self, job_ids: list[str], max_age: float | None = None) -> dict[str, JobState]:
        age = self.max_age if max_age is None else max_age
        now = time.monotonic()
        def due(j: str) -> bool:
            t, st = self._states[j]
            return st.live and now - t > (max(age, ERROR_BACKOFF_S) if st.error else age)

        with self._lock:
            stale = [j for j in job_ids if j and (j not in self._states or due(j))]
            if stale:
                # every other live job we know rides along in the same squeue call
                stale += [j for j, (t, st) in self._states.items()
                          if st.live and not st.error and j not in stale]
                fresh = query(stale)
                self.queries += 1
                now = time.monotonic()
                for j, st in fresh.items():
                    self._states[j] = (now, st)
            return {j: self._states[j][1] for j in job_ids if j in self._states}

    def state(self, job_id: str, max_age: float | None = None) -> JobState:
        return self.get([job_id], max_age).get(job_id) or JobState(job_id, "UNKNOWN")

    def forget(self, job_id: str) -> None:
        with self._lock:
            self._states.pop(job_id, None)


STATES = JobStates()
