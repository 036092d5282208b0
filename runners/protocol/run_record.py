"""``run.json``: what was launched, with which parameters, how to stop it.

Written once by the control center when a run is created (and rewritten atomically, under the
run's lock, when a role is restarted or resumed); read by runners for their ``params`` and by
every control center for everything else.
"""
from __future__ import annotations

import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from .atomic import atomic_write_json, read_json_object
from .errors import ProtocolError
from .fields import field as get
from .rundir import RunPaths, check_role_name

RUN_FORMAT = "pitwall.run/1"
PROCESS_KINDS = ("train", "viewer", "aux")
LAUNCHER_KINDS = ("local", "slurm")
WATCH_MODES = ("auto", "poll")   # launcher.watch: poll files instead of inotify (network fs)


@dataclass
class StopPolicy:
    """Stop = SIGINT, wait ``sigint_grace`` s; SIGTERM, wait ``sigterm_grace`` s; SIGKILL."""
    sigint_grace: float = 30.0
    sigterm_grace: float = 10.0

    @classmethod
    def from_dict(cls, d: Dict[str, Any], path: Union[str, Path], where: str) -> "StopPolicy":
        out = cls()
        for key in ("sigint_grace", "sigterm_grace"):
            if key in d:
                v = get(d, key, float, path)
                if v < 0:
                    raise ProtocolError(path, "%s.%s" % (where, key), "must be >= 0")
                setattr(out, key, v)
        return out


@dataclass
class ProcessSpec:
    """One process of a run: a role with its command line and stop policy."""
    role: str
    argv: List[str]
    cwd: str
    kind: str = "train"
    env: Dict[str, str] = field(default_factory=dict)
    order: int = 0
    ready: Optional[Dict[str, Any]] = None  # {"log": regex} | {"file": p} | {"port": n} | {"delay": s}
    ready_timeout: float = 120.0
    stop: StopPolicy = field(default_factory=StopPolicy)
    resume_args: List[str] = field(default_factory=list)  # "{checkpoint}" is replaced
    display: str = ""             # a viewer: the display it is started on
    record_target: str = ""       # a recorder: the checkpoint it records
    record_episodes: int = 0      # a recorder: how many episodes

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any, path: Union[str, Path], where: str) -> "ProcessSpec":
        if not isinstance(d, dict):
            raise ProtocolError(path, where, "expected an object")
        role = get(d, "role", str, path)
        try:
            check_role_name(role)
        except ValueError as e:
            raise ProtocolError(path, where + ".role", str(e))
        argv = get(d, "argv", list, path)
        if not argv or not all(isinstance(a, str) for a in argv):
            raise ProtocolError(path, where + ".argv", "expected a non-empty list of strings")
        env = get(d, "env", dict, path, default={})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise ProtocolError(path, where + ".env", "expected string keys and values")
        ready = get(d, "ready", (dict, type(None)), path, default=None)
        resume_args = get(d, "resume_args", list, path, default=[])
        return cls(
            role=role, argv=list(argv), cwd=get(d, "cwd", str, path),
            kind=get(d, "kind", str, path, default="train", choices=PROCESS_KINDS),
            env=dict(env), order=get(d, "order", int, path, default=0), ready=ready,
            ready_timeout=get(d, "ready_timeout", float, path, default=120.0),
            stop=StopPolicy.from_dict(get(d, "stop", dict, path, default={}), path,
                                      where + ".stop"),
            resume_args=[str(a) for a in resume_args],
            display=get(d, "display", str, path, default=""),
            record_target=get(d, "record_target", str, path, default=""),
            record_episodes=get(d, "record_episodes", int, path, default=0),
        )


@dataclass
class RunRecord:
    """The content of ``run.json``."""
    name: str
    experiment: str
    profile_name: str
    backend: str
    params: Dict[str, Any]
    processes: List[ProcessSpec]
    created_at: str
    profile_path: str = ""
    overrides: List[str] = field(default_factory=list)
    profile: Dict[str, Any] = field(default_factory=dict)  # resolved profile (metrics, play ...)
    # {"kind": "local"[, "gpus": n, "max_parallel": n, "watch": "auto"|"poll"]} or
    # {"kind": "slurm", "job_id": "123" | "120_3", "array_job_id", "array_task", "options": {...}}
    launcher: Dict[str, Any] = field(default_factory=lambda: {"kind": "local"})
    sweep_id: str = ""            # runs launched together by one multirun share it ("" = none)
    capabilities: Dict[str, Any] = field(default_factory=dict)  # what the backend can do
    host: str = field(default_factory=socket.gethostname)
    git: Optional[Dict[str, Any]] = None
    pitwall_version: str = ""
    format: str = RUN_FORMAT

    def process(self, role: str) -> Optional[ProcessSpec]:
        for p in self.processes:
            if p.role == role:
                return p
        return None

    @property
    def launcher_kind(self) -> str:
        return str(self.launcher.get("kind", "local"))

    @property
    def slurm_job_id(self) -> str:
        """The job id sbatch gave at launch ("" for a local run, or before sbatch answered)."""
        return str(self.launcher.get("job_id") or "") if self.launcher_kind == "slurm" else ""

    @property
    def polled(self) -> bool:
        """Watch this run's files by polling (Slurm runs, ``watch: poll``): inotify does not
        see writes made on another host of a network filesystem."""
        return self.launcher_kind == "slurm" or self.launcher.get("watch") == "poll"

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["processes"] = [p.to_dict() for p in self.processes]
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, Any], path: Union[str, Path]) -> "RunRecord":
        fmt = get(d, "format", str, path)
        if not fmt.startswith("pitwall.run/"):
            raise ProtocolError(path, "format", "not a Pitwall run record (%r)" % fmt)
        procs_raw = get(d, "processes", list, path)
        processes = [ProcessSpec.from_dict(p, path, "processes[%d]" % i)
                     for i, p in enumerate(procs_raw)]
        roles = [p.role for p in processes]
        if len(set(roles)) != len(roles):
            raise ProtocolError(path, "processes", "duplicate role names: %s" % roles)
        launcher = get(d, "launcher", dict, path, default={"kind": "local"})
        _check_launcher(launcher, path)
        return cls(
            name=get(d, "name", str, path),
            experiment=get(d, "experiment", str, path),
            profile_name=get(d, "profile_name", str, path),
            backend=get(d, "backend", str, path),
            params=get(d, "params", dict, path),
            processes=processes,
            created_at=get(d, "created_at", str, path),
            profile_path=get(d, "profile_path", str, path, default=""),
            overrides=[str(o) for o in get(d, "overrides", list, path, default=[])],
            profile=get(d, "profile", dict, path, default={}),
            launcher=launcher,
            sweep_id=get(d, "sweep_id", str, path, default=""),
            capabilities=get(d, "capabilities", dict, path, default={}),
            host=get(d, "host", str, path, default=""),
            git=get(d, "git", (dict, type(None)), path, default=None),
            pitwall_version=get(d, "pitwall_version", str, path, default=""),
            format=fmt,
        )


def _check_launcher(launcher: Dict[str, Any], path: Union[str, Path]) -> None:
    def at(key: str) -> str:
        return "launcher." + key

    kinds = {"kind": (str,), "job_id": (str,), "array_job_id": (str,),
             "array_task": (int, type(None)), "options": (dict,), "gpus": (int,),
             "max_parallel": (int,), "watch": (str,)}
    for key, types in kinds.items():
        if key in launcher:
            try:
                get(launcher, key, types, path)
            except ProtocolError as e:
                raise ProtocolError(path, at(key), e.message)
    if launcher.get("kind", "local") not in LAUNCHER_KINDS:
        raise ProtocolError(path, at("kind"), "must be one of %s, found %r"
                            % (", ".join(LAUNCHER_KINDS), launcher.get("kind")))
    if "kind" not in launcher:
        raise ProtocolError(path, at("kind"), "missing (expected 'local' or 'slurm')")
    for key in ("gpus", "max_parallel"):
        if launcher.get(key, 0) < 0:
            raise ProtocolError(path, at(key), "must be >= 0, found %r" % launcher[key])
    if launcher.get("watch", "auto") not in WATCH_MODES:
        raise ProtocolError(path, at("watch"), "must be one of %s, found %r"
                            % (", ".join(WATCH_MODES), launcher["watch"]))


def write_run_record(run_dir: Union[str, Path], record: RunRecord) -> None:
    atomic_write_json(RunPaths(run_dir).run_json, record.to_dict())


def read_run_record(run_dir: Union[str, Path]) -> RunRecord:
    path = RunPaths(run_dir).run_json
    obj = read_json_object(path)
    assert obj is not None
    return RunRecord.from_dict(obj, path)


def read_params(run_dir: Union[str, Path]) -> Dict[str, Any]:
    """What a runner needs from ``run.json``: the resolved parameters."""
    return read_run_record(run_dir).params
