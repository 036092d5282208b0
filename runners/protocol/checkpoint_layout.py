"""Where a run's checkpoints are and how they are written: the profile's ``checkpoints`` field.

::

    checkpoints: {dir: nn, glob: "*.pth", latest: latest.pth, atomic: true, format: torch,
                  stable_for: 0.5}

- ``dir`` relative to the trainer's output directory (the run dir, or the directory a foreign
  trainer announced, ``artifacts.json``); ``glob`` selects checkpoint files (or directories);
- ``latest``: the file the trainer keeps replacing (``latest.pth``), or ``newest`` for
  trainers that never write one: auto mode then means the newest complete checkpoint;
- ``atomic: false``: the trainer writes in place; readers wait until a file's size and mtime
  have been stable for ``stable_for`` seconds (and its format says it is complete);
- ``format``: ``torch``, ``pickle``, ``zip``, ``orbax`` (directories) or ``file``; empty =
  guessed from the glob's suffix (``checkpoint_formats``).

The control center validates this once (the profile model embeds :class:`CheckpointSpec`)
and ``run.json`` keeps it; viewers, relays and listings read it back through
:func:`checkpoint_layout`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Dict, List, Optional, Union

from .artifacts import output_dir
from .checkpoint_formats import FORMAT_NAMES, CheckpointFormat, format_for_glob, get_format
from .checkpoint_listing import (LATEST_NEWEST, CheckpointInfo, list_checkpoints,
                                 newest_checkpoint)
from .errors import ProtocolError
from .rundir import LATEST_NAME, NN_DIR, RunPaths

PathLike = Union[str, Path]


@dataclass
class CheckpointSpec:
    dir: str = NN_DIR
    glob: str = "*.pth"
    latest: str = LATEST_NAME
    atomic: bool = True
    format: str = ""
    stable_for: float = 0.5

    __pydantic_config__: ClassVar[Dict[str, Any]] = {"extra": "forbid"}

    def __post_init__(self) -> None:
        if not self.dir:
            raise ValueError("dir: must not be empty")
        if not self.glob:
            raise ValueError("glob: must not be empty")
        if not self.latest or "/" in self.latest:
            raise ValueError("latest: a file name in dir, or 'newest' (found %r)" % self.latest)
        if self.format and self.format not in FORMAT_NAMES:
            raise ValueError("format: must be one of %s, found %r"
                             % (", ".join(FORMAT_NAMES), self.format))
        if not self.stable_for >= 0:
            raise ValueError("stable_for: must be >= 0, found %r" % self.stable_for)

    @property
    def follows_newest(self) -> bool:
        return self.latest == LATEST_NEWEST

    @property
    def checkpoint_format(self) -> CheckpointFormat:
        return get_format(self.format or format_for_glob(self.glob))

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any, path: PathLike, where: str = "profile.checkpoints"
                  ) -> "CheckpointSpec":
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise ProtocolError(path, where, "expected an object")
        known = set(cls.__dataclass_fields__)
        extra = sorted(set(d) - known)
        if extra:
            raise ProtocolError(path, "%s.%s" % (where, extra[0]),
                                "unknown field (allowed: %s)" % ", ".join(sorted(known)))
        kinds = {"dir": str, "glob": str, "latest": str, "atomic": bool, "format": str,
                 "stable_for": (int, float)}
        for key, kind in kinds.items():
            if key in d and (not isinstance(d[key], kind) or
                             (kind != bool and isinstance(d[key], bool))):
                raise ProtocolError(path, "%s.%s" % (where, key),
                                    "expected %s, found %r" % (
                                        "a number" if key == "stable_for" else
                                        "true or false" if kind is bool else "a string", d[key]))
        try:
            return cls(**d)
        except ValueError as e:
            field_name = str(e).split(":", 1)[0]
            raise ProtocolError(path, "%s.%s" % (where, field_name), str(e).split(": ", 1)[-1])


@dataclass(frozen=True)
class CheckpointLayout:
    """The concrete places of one run's checkpoints."""
    out_dir: Path            # where the trainer writes; the state file and acks live here
    nn_dir: Path
    spec: CheckpointSpec

    @property
    def glob(self) -> str:
        return self.spec.glob

    @property
    def atomic(self) -> bool:
        return self.spec.atomic

    @property
    def latest_path(self) -> Optional[Path]:
        """The trainer's latest file, or None when it writes none (``latest: newest``)."""
        return None if self.spec.follows_newest else self.nn_dir / self.spec.latest

    @property
    def latest_relpath(self) -> str:
        """What an auto-mode state names: the latest file, or the checkpoint dir for
        ``newest`` (relative to ``out_dir`` when inside it)."""
        target = self.latest_path or self.nn_dir
        try:
            return str(target.relative_to(self.out_dir))
        except ValueError:
            return str(target)

    def list(self) -> List[CheckpointInfo]:
        return list_checkpoints(self.nn_dir, self.spec.glob, self.spec.latest,
                                self.spec.checkpoint_format)

    def auto_target(self) -> Optional[Path]:
        """What auto mode loads now: the latest file, or the newest complete checkpoint."""
        if not self.spec.follows_newest:
            return self.latest_path
        found = newest_checkpoint(self.nn_dir, self.spec.glob, self.spec.checkpoint_format)
        return found.path if found is not None else None


def checkpoint_layout(run_dir: PathLike, profile: Optional[Dict[str, Any]] = None,
                      out_dir: Optional[PathLike] = None) -> CheckpointLayout:
    """The layout of a run from its ``run.json`` profile (or ``profile`` given), with the
    output directory from ``artifacts.json`` unless ``out_dir`` is given."""
    paths = RunPaths(run_dir)
    if profile is None:
        from .run_record import read_run_record

        profile = read_run_record(run_dir).profile
    spec = CheckpointSpec.from_dict(profile.get("checkpoints"), paths.run_json)
    out = Path(out_dir) if out_dir is not None else output_dir(run_dir)
    d = Path(spec.dir)
    return CheckpointLayout(out_dir=out, nn_dir=d if d.is_absolute() else out / d, spec=spec)
