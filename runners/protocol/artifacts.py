"""``artifacts.json``: where a run's trainer writes, when that is not the run directory.

Native runners write into the Pitwall run directory itself. A foreign trainer started as it is
(the seed's IsaacGymEnvs ``train_play.py``) picks its own directory (``runs/<exp>_<ts>`` below its
working dir) and announces it in its log; once known, it is recorded here, and checkpoints,
``.checkpoint_state.json`` and metric files of the run are looked up there::

    {"dir": "/abs/IsaacGymEnvs/runs/Ant_21-10-02-11", "source": "logs/train.log",
     "found_at": "<isoformat>"}
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Union

from .atomic import atomic_write_json, read_json_object
from .fields import field as get
from .procs import now_iso
from .rundir import RunPaths

ARTIFACTS_FILE = "artifacts.json"


@dataclass
class Artifacts:
    dir: str
    source: str = ""
    found_at: str = ""


def artifacts_path(run_dir: Union[str, Path]) -> Path:
    return RunPaths(run_dir).root / ARTIFACTS_FILE


def read_artifacts(run_dir: Union[str, Path]) -> Optional[Artifacts]:
    path = artifacts_path(run_dir)
    obj = read_json_object(path, missing_ok=True)
    if obj is None:
        return None
    return Artifacts(dir=get(obj, "dir", str, path), source=get(obj, "source", str, path, ""),
                     found_at=get(obj, "found_at", str, path, ""))


def write_artifacts(run_dir: Union[str, Path], directory: Union[str, Path],
                    source: str = "") -> Artifacts:
    art = Artifacts(dir=str(Path(directory).absolute()), source=source, found_at=now_iso())
    atomic_write_json(artifacts_path(run_dir), asdict(art))
    return art


def output_dir(run_dir: Union[str, Path]) -> Path:
    """The directory the trainer writes to: ``artifacts.json``'s, else the run dir itself."""
    try:
        art = read_artifacts(run_dir)
    except Exception:
        art = None
    return Path(art.dir) if art is not None else RunPaths(run_dir).root
