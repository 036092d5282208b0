"""The registry: every run under a runs root and the state of each of its processes (the
states themselves: ``run_state.py``).

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
from pathlib import Path

from runners.protocol import (ProtocolError, RunRecord, StarterRecord, list_proc_roles,
                              parse_run_dir_name, read_run_record, read_starter_record)
from runners.protocol.launchers import QUEUE_FILE, SLURM_JOBS_FILE
from runners.protocol.rundir import RUN_JSON, RunPaths

from .run_processes import RUN_DIR_VAR, live_found, scan
from .run_state import RoleState, RunInfo, ScanSource, aggregate, role_state, starter_alive


class RunNotFound(LookupError):
    pass


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
    if st is None or starter_alive(st):
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
