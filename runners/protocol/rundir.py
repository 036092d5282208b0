"""The run directory: its name and the path of every file in it.

::

    runs/<experiment>_<YYYY-MM-DD_HH-MM-SS>[-N]/
      run.json  procs/<role>.json  procs/<role>.stop.json  logs/<role>.log  logs/pitwall.log
      metrics.jsonl  tb/  nn/latest.pth  nn/<stem>_<step>.pth  nn/index.jsonl
      .checkpoint_state.json  .checkpoint_state.lock  .viewer/<id>.json
      videos/  videos/index.jsonl  preview/<id>.png
"""
from __future__ import annotations

import datetime as _dt
import os
import re
from pathlib import Path
from typing import NamedTuple, Optional, Union

RUN_JSON = "run.json"
PROCS_DIR = "procs"
LOGS_DIR = "logs"
PITWALL_LOG = "pitwall.log"
METRICS_JSONL = "metrics.jsonl"
TB_DIR = "tb"
NN_DIR = "nn"
LATEST_NAME = "latest.pth"
CKPT_INDEX = "index.jsonl"
STATE_FILE = ".checkpoint_state.json"
STATE_LOCK = ".checkpoint_state.lock"
VIEWER_DIR = ".viewer"
VIDEOS_DIR = "videos"
VIDEO_INDEX = "index.jsonl"
PREVIEW_DIR = "preview"

TIMESTAMP_FORMAT = "%Y-%m-%d_%H-%M-%S"
_NAME_RE = re.compile(r"^(?P<exp>.+)_(?P<ts>\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2})(?:-(?P<n>\d+))?$")
_ROLE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_EXPERIMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$")
RESERVED_ROLES = ("pitwall",)


def check_role_name(role: str) -> str:
    """Roles and viewer ids become file names: letters, digits, ``_ . -``; not ``pitwall``."""
    if not isinstance(role, str) or not _ROLE_RE.match(role) or role in RESERVED_ROLES \
            or role.endswith(".stop"):
        raise ValueError("invalid role/viewer name %r: use letters, digits, '_', '.', '-' "
                         "(not starting with '.' or '-', not 'pitwall', not ending in '.stop')"
                         % (role,))
    return role


def check_experiment_name(name: str) -> str:
    if not isinstance(name, str) or not _EXPERIMENT_RE.match(name):
        raise ValueError("invalid experiment name %r: use letters, digits and '_ . + -'" % (name,))
    return name


class RunName(NamedTuple):
    experiment: str
    started: _dt.datetime
    suffix: int  # 1 for the first run of that second, 2, 3 ... on a collision


def run_dir_name(experiment: str, when: Optional[_dt.datetime] = None, suffix: int = 1) -> str:
    check_experiment_name(experiment)
    when = when or _dt.datetime.now()
    name = "%s_%s" % (experiment, when.strftime(TIMESTAMP_FORMAT))
    return name if suffix <= 1 else "%s-%d" % (name, suffix)


def parse_run_dir_name(name: str) -> Optional[RunName]:
    m = _NAME_RE.match(name)
    if not m:
        return None
    try:
        ts = _dt.datetime.strptime(m.group("ts"), TIMESTAMP_FORMAT)
    except ValueError:
        return None
    return RunName(m.group("exp"), ts, int(m.group("n") or 1))


def create_run_dir(runs_root: Union[str, Path], experiment: str,
                   when: Optional[_dt.datetime] = None) -> Path:
    """Create a fresh run directory; ``-2``, ``-3`` ... are added on a collision.

    ``mkdir`` without ``exist_ok`` makes this safe against a second Pitwall (another SSH
    session) creating a run in the same second.
    """
    root = Path(runs_root)
    root.mkdir(parents=True, exist_ok=True)
    when = when or _dt.datetime.now()
    for suffix in range(1, 10000):
        path = root / run_dir_name(experiment, when, suffix)
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RuntimeError("no free run directory name for %s under %s" % (experiment, root))


class RunPaths(object):
    """Every path inside one run directory, in one place."""

    def __init__(self, root: Union[str, Path]):
        self.root = Path(os.path.abspath(str(root)))

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def run_json(self) -> Path:
        return self.root / RUN_JSON

    @property
    def procs_dir(self) -> Path:
        return self.root / PROCS_DIR

    def proc_file(self, role: str) -> Path:
        return self.procs_dir / (check_role_name(role) + ".json")

    def stop_file(self, role: str) -> Path:
        return self.procs_dir / (check_role_name(role) + ".stop.json")

    @property
    def logs_dir(self) -> Path:
        return self.root / LOGS_DIR

    def log_file(self, role: str) -> Path:
        return self.logs_dir / (check_role_name(role) + ".log")

    @property
    def pitwall_log(self) -> Path:
        return self.logs_dir / PITWALL_LOG

    @property
    def metrics_jsonl(self) -> Path:
        return self.root / METRICS_JSONL

    @property
    def tb_dir(self) -> Path:
        return self.root / TB_DIR

    @property
    def nn_dir(self) -> Path:
        return self.root / NN_DIR

    @property
    def latest(self) -> Path:
        return self.nn_dir / LATEST_NAME

    @property
    def ckpt_index(self) -> Path:
        return self.nn_dir / CKPT_INDEX

    @property
    def state_file(self) -> Path:
        return self.root / STATE_FILE

    @property
    def state_lock(self) -> Path:
        return self.root / STATE_LOCK

    @property
    def viewer_dir(self) -> Path:
        return self.root / VIEWER_DIR

    def viewer_file(self, viewer_id: str) -> Path:
        return self.viewer_dir / (check_role_name(viewer_id) + ".json")

    @property
    def videos_dir(self) -> Path:
        return self.root / VIDEOS_DIR

    @property
    def video_index(self) -> Path:
        return self.videos_dir / VIDEO_INDEX

    @property
    def preview_dir(self) -> Path:
        return self.root / PREVIEW_DIR

    def preview_file(self, viewer_id: str) -> Path:
        return self.preview_dir / (check_role_name(viewer_id) + ".png")

    def is_run_dir(self) -> bool:
        return self.run_json.is_file()

    def __repr__(self) -> str:
        return "RunPaths(%r)" % str(self.root)
