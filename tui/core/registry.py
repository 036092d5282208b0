"""The registry: every run under a runs root and the state of each of its processes.

Everything is derived from the run directories (``run.json``, ``procs/``), never from memory, so
runs started by the CLI, by another TUI or before this process started all appear, with their
whole history. :class:`Registry` caches what it read and re-reads a run only when its files
changed; live processes are re-checked (pid + create_time) on every refresh.
"""
from __future__ import annotations

import datetime as _dt
import difflib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from runners.protocol import (ProcRecord, ProtocolError, RunRecord, StarterRecord,
                              list_proc_roles, parse_run_dir_name, read_proc_record,
                              read_run_record, read_starter_record, read_stop_request)
from runners.protocol.launchers import QUEUE_FILE, SLURM_JOBS_FILE
from runners.protocol.rundir import RUN_JSON, RunPaths

from .liveness import is_alive, is_local
from .run_processes import RUN_DIR_VAR, FoundProcess, ProcessScan, live_found, scan

RUN_STATES = ("queued", "starting", "running", "finished", "failed", "stopped", "lost",
              "invalid")
LIVE_RUN_STATES = ("queued", "starting", "running")
LIVE_ROLE_STATES = ("starting", "running")
START_GRACE_S = 30.0  # a fresh run whose starter has not written its record yet is "starting"


class RunNotFound(LookupError):
    pass


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


def _starter_alive(st: StarterRecord | None) -> bool:
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
            if _starter_alive(starter):
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


def load_run(path: Path, record: RunRecord | None = None, procs: ScanSource = scan) -> RunInfo:
    """A run's state; ``record``: its ``run.json`` already read (unchanged since).

    Never raises for what the run's files hold: a file it cannot make sense of makes the run
    ``invalid`` with the reason, so one bad run never hides the others."""
    try:
        return _load_run(Path(path), record, procs)
    except Exception as e:  # a bug or a file no reader expected: report it, list the rest
        return RunInfo(Path(path), Path(path).name, "invalid",
                       error="cannot read this run: %s: %s" % (type(e).__name__, e))


def _load_run(path: Path, record: RunRecord | None, procs: ScanSource) -> RunInfo:
    name = path.name
    if record is None:
        try:
            record = read_run_record(path)
        except ProtocolError as e:
            return RunInfo(path, name, "invalid", error=str(e))
    try:
        created = (path / RUN_JSON).stat().st_mtime
    except OSError:
        created = 0.0
    try:
        starter = read_starter_record(path)
    except ProtocolError:
        starter = None
    roles = [role_state(path, p.role, p.kind, starter, created, procs)
             for p in record.processes]
    known = {p.role for p in record.processes}
    viewers = []
    recorded = list_proc_roles(path)
    for role in recorded:
        if role in known:
            continue
        rs = role_state(path, role, "viewer", _adhoc_starter(path, role), created, procs)
        if rs.record is not None:
            rs.kind = rs.record.kind
        viewers.append(rs)
    for role in _unrecorded_roles(path, known.union(recorded)):
        rs = _unrecorded_role(path, role, procs)
        if rs is not None:
            viewers.append(rs)
    status, code = aggregate(roles)
    error = next((r.error or (r.record.error if r.record else None)
                  for r in roles if r.state in ("failed", "lost")), None)
    info = RunInfo(path, name, status, record, roles, viewers, error, code)
    if record.launcher_kind == "slurm":
        from .slurm.run_status import apply_slurm_status

        apply_slurm_status(info)
    elif os.path.exists(os.path.join(path, "procs", QUEUE_FILE)):
        from .queue_status import apply_queue_status

        apply_queue_status(info)
    return info


def _adhoc_starter(path: Path, role: str) -> StarterRecord | None:
    try:
        return read_starter_record(path, role)
    except (ProtocolError, ValueError):
        return None


def _unrecorded_roles(path: Path, recorded: set[str]) -> list[str]:
    """Ad-hoc roles (viewers, recorders) that claimed a log but have no ``procs/`` record."""
    try:
        names = os.listdir(RunPaths(path).logs_dir)
    except OSError:
        return []
    return sorted(n[:-4] for n in names if n.endswith(".log") and not n.startswith(".")
                  and n[:-4] not in recorded and n[:-4] != "pitwall")


def _unrecorded_role(path: Path, role: str, procs: ScanSource) -> RoleState | None:
    """A viewer whose record is missing although its start is over (the starter writes it
    before it ends): found live by its environment, else None. One still being started is
    listed once its wrapper has written its record, as before."""
    st = _adhoc_starter(path, role)
    if st is None or _starter_alive(st):
        return None
    found = live_found(procs().of_role(path, role))
    if not found:
        return None  # an old log, or a start that failed: nothing runs
    return RoleState(role, "viewer", "running", None,
                     "procs/%s.json is missing; found live process %s by %s in its environment"
                     % (role, ", ".join(str(p.pid) for p in found), RUN_DIR_VAR), tuple(found))


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        a = os.stat(path / RUN_JSON).st_mtime_ns
    except OSError:
        return None
    try:
        b = os.stat(path / "procs").st_mtime_ns
    except OSError:
        b = 0
    try:
        c = os.stat(path / "procs" / ".starter.json").st_mtime_ns
    except OSError:
        c = 0
    return a, b, c


def list_run_dirs(root: Path) -> list[Path]:
    try:
        with os.scandir(root) as it:
            return [Path(e.path) for e in it
                    if e.is_dir() and not e.name.startswith(".")
                    and os.path.exists(os.path.join(e.path, RUN_JSON))]
    except OSError:
        return []


def _scan_signatures(root: Path) -> list[tuple[str, tuple[int, int, int]]]:
    """Every run directory under ``root`` (as :func:`list_run_dirs`) with its signature (as
    :func:`_signature`), in one pass of plain string paths: the registry looks at every run
    each second, so a thousand runs must cost little."""
    out = []
    try:
        with os.scandir(root) as it:
            for e in it:
                if e.name.startswith(".") or not e.is_dir():
                    continue
                d = e.path
                try:
                    a = os.stat(d + _RUN_JSON).st_mtime_ns
                except OSError:
                    continue                       # not a run directory
                try:
                    b = os.stat(d + _PROCS).st_mtime_ns
                except OSError:
                    b = 0
                try:
                    c = os.stat(d + _STARTER).st_mtime_ns
                except OSError:
                    c = 0
                out.append((d, (a, b, c)))
    except OSError:
        return []
    return out


_RUN_JSON = os.sep + RUN_JSON
_PROCS = os.sep + "procs"
_STARTER = os.sep + os.path.join("procs", ".starter.json")


def _prefetch_slurm_states(paths: list[Path]) -> None:
    """Ask Slurm about the jobs of all these runs in one squeue (+ one sacct) call."""
    slurm = [p for p in paths if os.path.exists(os.path.join(p, "procs", SLURM_JOBS_FILE))]
    if slurm:
        from .slurm.run_status import prefetch

        prefetch(slurm)


def sort_key(info: RunInfo) -> tuple[_dt.datetime, str]:
    return info.created or _dt.datetime.min, info.name


class Registry:
    """Cached view of a runs root; thread-safe ``refresh()``."""

    def __init__(self, root: Path):
        self.root = Path(root).absolute()
        self._cache: dict[Path, tuple[tuple[int, int, int] | None, RunInfo]] = {}
        self._lock = threading.Lock()
        self._paths: dict[str, Path] = {}          # the Path of each run directory seen
        self._sort_keys: dict[str, tuple[_dt.datetime, str]] = {}

    def refresh(self) -> list[RunInfo]:
        with self._lock:
            seen = set()
            out = []
            plan = []
            paths = {}
            for d, sig in _scan_signatures(self.root):
                path = paths[d] = self._paths.get(d) or Path(d)
                cached = self._cache.get(path)
                plan.append((path, sig, cached, cached is not None and cached[0] == sig
                             and not cached[1].live
                             and not any(v.alive for v in cached[1].viewers)))
            _prefetch_slurm_states([path for path, _, _, reuse in plan if not reuse])
            for path, sig, cached, reuse in plan:
                seen.add(path)
                if reuse:
                    info = cached[1]
                else:
                    # a live run's processes are checked again; run.json is parsed again
                    # only when it changed (its mtime is the first part of the signature)
                    same_json = cached is not None and sig is not None and \
                        cached[0] is not None and cached[0][0] == sig[0]
                    info = load_run(path, cached[1].record if same_json else None)
                    self._cache[path] = (sig, info)
                out.append(info)
            for gone in set(self._cache) - seen:
                del self._cache[gone]
            self._paths = paths
            out.sort(key=self._sort_key, reverse=True)
            return out

    def _sort_key(self, info: RunInfo) -> tuple[_dt.datetime, str]:
        """:func:`sort_key`, kept for the runs whose start time is in their name (parsing
        dates is slow; a name does not change)."""
        key = self._sort_keys.get(info.name)
        if key is None:
            key = sort_key(info)
            if parse_run_dir_name(info.name) is not None:
                if len(self._sort_keys) > 100_000:
                    self._sort_keys.clear()
                self._sort_keys[info.name] = key
        return key

    def load(self, paths: list[Path]) -> list[RunInfo]:
        """Read these runs now and keep them (the first, chunked look at a big root): the
        next ``refresh`` re-reads only the live ones and those that changed."""
        out = []
        for path in paths:
            sig = _signature(path)
            info = load_run(path)
            with self._lock:
                self._cache[path] = (sig, info)
            out.append(info)
        return out

    def get(self, ref: str) -> RunInfo:
        path = resolve_run(self.root, ref)
        info = load_run(path)
        with self._lock:
            self._cache[path] = (_signature(path), info)
        return info


def scan_runs(root: Path) -> list[RunInfo]:
    return Registry(root).refresh()


def resolve_run(root: Path, ref: str) -> Path:
    """A run by path, full directory name, or prefix (the newest match, as the seed does).

    An empty name is refused: as a prefix it would silently pick the newest run."""
    if not ref or not ref.strip():
        raise RunNotFound("an empty run name names no run; give a run name, prefix or path "
                          "(see `pitwall ls`)")
    p = Path(ref).expanduser()
    if (p / RUN_JSON).is_file():
        return p.absolute()
    root = Path(root)
    exact = root / ref
    if (exact / RUN_JSON).is_file():
        return exact.absolute()
    dirs = list_run_dirs(root)
    matches = [d for d in dirs if d.name.startswith(ref)]
    if matches:
        def key(d: Path) -> tuple[_dt.datetime, str]:
            parsed = parse_run_dir_name(d.name)
            return (parsed.started if parsed else _dt.datetime.min), d.name
        return max(matches, key=key).absolute()
    names = [d.name for d in dirs]
    close = difflib.get_close_matches(ref, names, n=3, cutoff=0.4)
    hint = (" Did you mean %s?" % ", ".join(close)) if close else ""
    raise RunNotFound("no run %r under %s.%s" % (ref, root, hint))


def run_paths(info: RunInfo) -> RunPaths:
    return RunPaths(info.path)
