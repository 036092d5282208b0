"""Videos a foreign trainer writes, listed like ours: the profile's ``videos`` field.

::

    videos:
      - {dir: videos, glob: "*.mp4"}                   # ManiSkill's ppo.py: evaluation videos
      - {dir: train_videos, glob: "*.mp4"}
      - {dir: "logs/{params.env_name}/training_videos", glob: "*.mp4"}   # the seed

``dir`` is relative to the trainer's output directory (the run dir, or the directory
``artifacts.json`` names); ``glob`` selects files in it. Such files have no line in
``videos/index.jsonl``: each becomes a :class:`~runners.protocol.videos.VideoEntry` built from
the file itself (frame count, rate and size from its ``moov`` box, ``created`` = its mtime,
``file`` = its path relative to the output directory, no returns). A file still being written
(no ``moov`` box yet) is not listed.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Dict, Iterable, List, Set, Tuple, Union

from .errors import ProtocolError
from .mp4_info import mp4_info
from .videos import VIDEO_SOURCES, VideoEntry

PathLike = Union[str, Path]


@dataclass
class VideoDirSpec:
    dir: str = "videos"
    glob: str = "*.mp4"
    source: str = "training"    # how they are labelled: training | record

    __pydantic_config__: ClassVar[Dict[str, Any]] = {"extra": "forbid"}

    def __post_init__(self) -> None:
        if not self.dir or self.dir.startswith("/") or ".." in Path(self.dir).parts:
            raise ValueError("dir: a directory inside the trainer's output directory, found %r"
                             % self.dir)
        if not self.glob or self.glob.startswith("/") or ".." in self.glob:
            raise ValueError("glob: a file pattern inside dir, found %r" % self.glob)
        if self.source not in VIDEO_SOURCES:
            raise ValueError("source: must be one of %s, found %r"
                             % (", ".join(VIDEO_SOURCES), self.source))

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def video_dir_specs(raw: Any, path: PathLike, where: str = "profile.videos"
                    ) -> List[VideoDirSpec]:
    """The ``videos`` field of a run's profile (``run.json``), checked."""
    if not raw:
        return []
    if not isinstance(raw, list):
        raise ProtocolError(path, where, "expected a list of {dir, glob}")
    out = []
    for i, d in enumerate(raw):
        if not isinstance(d, dict):
            raise ProtocolError(path, "%s[%d]" % (where, i), "expected an object")
        extra = sorted(set(d) - set(VideoDirSpec.__dataclass_fields__))
        if extra:
            raise ProtocolError(path, "%s[%d].%s" % (where, i, extra[0]), "unknown field")
        try:
            out.append(VideoDirSpec(**d))
        except (TypeError, ValueError) as e:
            raise ProtocolError(path, "%s[%d]" % (where, i), str(e))
    return out


def foreign_videos(out_dir: PathLike, specs: Iterable[VideoDirSpec],
                   skip: Set[Path] = frozenset()) -> List[Tuple[VideoEntry, Path]]:
    """(entry, absolute path) for every complete mp4 the specs select, minus ``skip``."""
    root = Path(out_dir)
    found = []  # type: List[Tuple[VideoEntry, Path]]
    seen = set(Path(p).resolve() for p in skip)
    for spec in specs:
        d = root / spec.dir
        try:
            paths = sorted(d.glob(spec.glob))
        except (OSError, ValueError):
            continue
        for p in paths:
            try:
                resolved = p.resolve()
                if resolved in seen or not p.is_file():
                    continue
                st = p.stat()
            except OSError:
                continue
            info = mp4_info(p)
            if info is None:
                continue
            seen.add(resolved)
            rel = str(p.relative_to(root))
            found.append((VideoEntry(file=rel, checkpoint="", step=None, returns=[],
                                     frames=info.frames, fps=info.fps, width=info.width,
                                     height=info.height, size=st.st_size, created=st.st_mtime,
                                     source=spec.source), p))
    return found
