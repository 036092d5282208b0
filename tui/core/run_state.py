"""The state of a run and of each of its processes, from their files.

:class:`RoleState` is one role (or viewer) as its ``procs/<role>.json``, the starter's record
and the stop requests say, with the live processes found by their environment when the record
is missing, corrupt or stale; :class:`RunInfo` is a run with its roles and viewers, and
:func:`aggregate` the run's status from its training roles. The registry (``registry.py``)
builds them for every run under a root.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from runners.protocol import (ProcRecord, ProtocolError, RunRecord, StarterRecord,
                              parse_run_dir_name, read_proc_record, read_stop_request)

from .liveness import is_alive, is_local
from .run_processes import RUN_DIR_VAR, FoundProcess, ProcessScan, live_found, scan


RUN_STATES = ("queued", "starting", "running", "finished", "failed", "stopped", "lost",
              "invalid")
LIVE_RUN_STATES = ("queued", "starting", "running")
LIVE_ROLE_STATES = ("starting", "running")
START_GRACE_S = 30.0  # a fresh run whose starter has not written its record yet is "starting"


@dataclass
class RoleState:
    role: str
    kind: str
    state: str    # starting | running | finished | failed | stopped | lost | unknown | pending
    #               | queued (the run waits in the local queue or in Slurm's)
    record: ProcRecord | None = None
    error: str | None = None
    # live processes of the role found by their environment when its record is missing,
    # corrupt or stale (run_processes); group leaders first
    found: tuple[FoundProcess, ...] = ()

    @property
    def pid(self) -> int | None:
        if self.found:
            return self.found[0].pid
        return self.record.pid if self.record and self.record.pid > 0 else None

    @property
    def exit_code(self) -> int | None:
        return self.record.exit_code if self.record else None

    @property
    def signal(self) -> int | None:
        return self.record.signal if self.record else None

    @property
    def alive(self) -> bool:
        return self.state in LIVE_ROLE_STATES

    def describe(self) -> str:
        if self.state == "failed" and self.record is not None:
            if self.record.error:
                return "failed: %s" % self.record.error
            if self.record.signal:
                return "failed (signal %d)" % self.record.signal
            return "failed (exit %s)" % self.record.exit_code
        return self.state


@dataclass
class RunInfo:
    path: Path
    name: str
    status: str
    record: RunRecord | None = None
    roles: list[RoleState] = field(default_factory=list)
    viewers: list[RoleState] = field(default_factory=list)
    error: str | None = None
    exit_code: int | None = None
    detail: str | None = None      # the launcher's words: "pending (Resources)", "timeout" ...

    @property
    def live(self) -> bool:
        return self.status in LIVE_RUN_STATES

    @property
    def sweep_id(self) -> str:
        return self.record.sweep_id if self.record else ""

    @property
    def experiment(self) -> str:
        return self.record.experiment if self.record else self.name

    @property
    def profile_name(self) -> str:
        return self.record.profile_name if self.record else ""

    @property
    def backend(self) -> str:
        return self.record.backend if self.record else ""

    @property
    def created(self) -> _dt.datetime | None:
        parsed = parse_run_dir_name(self.name)
        if parsed is not None:
            return parsed.started
        try:
            return _dt.datetime.fromtimestamp(self.path.stat().st_mtime)
        except OSError:
            return None

    def role(self, name: str) -> RoleState | None:
        for r in self.roles + self.viewers:
            if r.role == name:
                return r
        return None

    def roles_text(self) -> str:
        """What the TUI's run list and ``ls`` show as ROLES (see :func:`roles_text`)."""
        return roles_text(sum(1 for r in self.roles if r.alive), len(self.roles),
                          sum(1 for v in self.viewers if v.alive))

    def status_text(self) -> str:
        """``failed (1)``, ``failed (signal 9)``: what the TUI's run list and ``ls`` show."""
        if self.detail:
            return self.detail
        if self.status == "failed":
            training = [r for r in self.roles if r.kind != "aux"] or self.roles
            first = next((r for r in training if r.state == "failed"), None)
            if first is not None and first.signal:
                return "failed (signal %d)" % first.signal
            if self.exit_code is not None:
                return "failed (%d)" % self.exit_code
        return self.status


def roles_text(alive: int, total: int, viewers_alive: int) -> str:
    """``1/2`` roles alive of the run's, ``+1`` for each live viewer or recorder (they may
    outlive the run)."""
    return "%d/%d" % (alive, total) + ("+%d" % viewers_alive if viewers_alive else "")


def starter_alive(st: StarterRecord | None) -> bool:
    return st is not None and st.finished_at is None and is_alive(st.pid, st.create_time)


ScanSource = Callable[[], ProcessScan]


def role_state(run_dir: Path, role: str, kind: str, starter: StarterRecord | None,
               created: float, procs: ScanSource = scan) -> RoleState:
    """The state of one role from its files; when they say it is not running (record missing,
    corrupt or stale), its live processes are looked for too (``procs``, a scan)."""
    rs = _role_state_from_files(run_dir, role, kind, starter, created)
    if rs.state not in ("lost", "pending"):
        return rs
    found = live_found(procs().of_role(run_dir, role))
    if not found:
        return rs
    why = rs.error or ("procs/%s.json is missing" % role)
    pids = ", ".join(str(p.pid) for p in found)
    return RoleState(role, kind, "running", rs.record,
                     "%s; found live process %s by %s in its environment"
                     % (why, pids, RUN_DIR_VAR), tuple(found))


def _role_state_from_files(run_dir: Path, role: str, kind: str, starter: StarterRecord | None,
                           created: float) -> RoleState:
    try:
        rec = read_proc_record(run_dir, role)
    except ProtocolError as e:
        return RoleState(role, kind, "lost", None, str(e))
    try:
        stop = read_stop_request(run_dir, role)
    except ProtocolError:
        stop = None   # an unreadable stop request is no stop request
    if rec is None:
        if starter is not None and role in starter.roles:
            if starter_alive(starter):
                return RoleState(role, kind, "starting")
            if starter.error:
                return RoleState(role, kind, "failed", None, starter.error)
        if starter is None and _now() - created < START_GRACE_S:
            return RoleState(role, kind, "starting")
        return RoleState(role, kind, "pending" if starter is None else "lost",
                         None, None if starter is None else "never started")
    stopped = stop is not None and stop.attempt == rec.attempt
    if rec.ended:
        if rec.error:
            state = "failed"
        elif stopped:
            state = "stopped"
        elif rec.signal is not None or (rec.exit_code or 0) != 0:
            state = "failed"
        else:
            state = "finished"
        return RoleState(role, kind, state, rec)
    if not is_local(rec.host):
        return RoleState(role, kind, "unknown", rec, "runs on host %s" % rec.host)
    if is_alive(rec.pid, rec.create_time):
        return RoleState(role, kind, "running", rec)
    if is_alive(rec.wrapper_pid, rec.wrapper_create_time):
        return RoleState(role, kind, "running", rec)  # it just ended; the wrapper is recording it
    return RoleState(role, kind, "stopped" if stopped else "lost", rec,
                     None if stopped else "process %d is gone and no exit was recorded" % rec.pid)


def _now() -> float:
    import time

    return time.time()


def aggregate(roles: list[RoleState]) -> tuple[str, int | None]:
    """The run's status from its training roles; helpers (``aux``: a relay) that outlive
    training, or end after it, do not make a finished run read as running or stopped."""
    roles = [r for r in roles if r.kind != "aux"] or roles
    states = [r.state for r in roles]
    if not states:
        return "invalid", None
    for s in ("running", "starting", "unknown"):
        if s in states:
            return ("running" if s == "unknown" else s), None
    if "lost" in states or "pending" in states:
        return "lost", None
    failed = [r for r in roles if r.state == "failed"]
    if failed:
        return "failed", failed[0].exit_code
    if "stopped" in states:
        return "stopped", None
    return "finished", None
