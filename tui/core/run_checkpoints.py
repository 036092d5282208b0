"""A run's checkpoints as its profile places them, and choosing what the viewers show."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runners.protocol import (CheckpointInfo, CheckpointState, ProtocolError, RunRecord,
                              list_checkpoints, output_dir, read_run_record, read_state,
                              write_state)

from .output_discovery import ensure_output_dir


@dataclass(frozen=True)
class CheckpointLayout:
    out_dir: Path            # where the trainer writes and the state file lives
    nn_dir: Path
    glob: str
    latest_relpath: str      # relative to the run dir
    atomic: bool


def layout(run_dir: Path, record: RunRecord | None = None) -> CheckpointLayout:
    record = record or read_run_record(run_dir)
    spec = record.profile.get("checkpoints") or {}
    # a trainer that names its own output dir (profile field output_discovery): find it now
    # if no relay process has recorded it yet
    out = ensure_output_dir(run_dir, record) if record.profile.get("output_discovery") \
        else output_dir(run_dir)
    d = str(spec.get("dir", "nn"))
    nn_dir = Path(d) if Path(d).is_absolute() else out / d
    latest = str(spec.get("latest", "latest.pth"))
    return CheckpointLayout(out_dir=out, nn_dir=nn_dir, glob=str(spec.get("glob", "*.pth")),
                            latest_relpath=str((nn_dir / latest).relative_to(out))
                            if nn_dir.is_relative_to(out) else str(nn_dir / latest),
                            atomic=bool(spec.get("atomic", True)))


def list_run_checkpoints(run_dir: Path, record: RunRecord | None = None) -> list[CheckpointInfo]:
    lay = layout(run_dir, record)
    return list_checkpoints(lay.nn_dir, lay.glob, Path(lay.latest_relpath).name)


def find_checkpoint(run_dir: Path, ref: str, record: RunRecord | None = None) -> Path:
    """A checkpoint by file name in the run's checkpoint dir, by step number, or by path."""
    lay = layout(run_dir, record)
    p = Path(ref)
    for cand in ([p] if p.is_absolute() else [lay.nn_dir / p, lay.out_dir / p, Path.cwd() / p]):
        if cand.is_file():
            return cand.absolute()
    if ref.isdigit():
        for c in list_checkpoints(lay.nn_dir, lay.glob):
            if c.step == int(ref) and not c.is_latest:
                return c.path
    names = ", ".join(c.name for c in list_checkpoints(lay.nn_dir, lay.glob)[-8:]) or "none yet"
    raise ProtocolError(lay.nn_dir, None, "no checkpoint %r (newest: %s)" % (ref, names))


def select_checkpoint(run_dir: Path, mode: str, ref: str | None = None) -> CheckpointState:
    """Write ``.checkpoint_state.json``: auto (follow latest) or manual (the chosen file)."""
    record = read_run_record(run_dir)
    lay = layout(run_dir, record)
    if mode == "auto":
        return write_state(lay.out_dir, "auto", latest_relpath=lay.latest_relpath)
    if ref is None:
        raise ProtocolError(run_dir, "checkpoint_path", "manual mode needs a checkpoint")
    return write_state(lay.out_dir, "manual", find_checkpoint(run_dir, ref, record))


def current_state(run_dir: Path) -> tuple[CheckpointState | None, str | None]:
    """The state file and, when it is unreadable, why (the viewers keep their policy)."""
    try:
        return read_state(output_dir(run_dir)), None
    except ProtocolError as e:
        return None, str(e)
