"""A run's checkpoints as its profile places them, and choosing what the viewers show."""
from __future__ import annotations

from pathlib import Path

from runners.adapters.output_discovery import ensure_output_dir
from runners.protocol import (CheckpointInfo, CheckpointLayout, CheckpointState, ProtocolError,
                              RunRecord, checkpoint_layout, output_dir, read_run_record,
                              read_state, write_state)
from runners.protocol.rundir import RunPaths


def layout(run_dir: Path, record: RunRecord | None = None) -> CheckpointLayout:
    """The run's checkpoint layout (``runners.protocol.checkpoint_layout``); a trainer that
    picks its own output dir (profile field output_discovery) is looked for now if no relay
    process has recorded it yet."""
    from .run_profile import run_profile   # pydantic: not on the TUI's first-frame path

    record = record or read_run_record(run_dir)
    profile = run_profile(record, RunPaths(run_dir).run_json)
    out = ensure_output_dir(run_dir, record) if profile.output_discovery is not None \
        else output_dir(run_dir)
    return checkpoint_layout(run_dir, record.profile, out_dir=out)


def list_run_checkpoints(run_dir: Path, record: RunRecord | None = None) -> list[CheckpointInfo]:
    return layout(run_dir, record).list()


def find_checkpoint(run_dir: Path, ref: str, record: RunRecord | None = None) -> Path:
    """A checkpoint by file name in the run's checkpoint dir, by step number, or by path."""
    lay = layout(run_dir, record)
    p = Path(ref)
    want_dir = lay.spec.checkpoint_format.directory
    for cand in ([p] if p.is_absolute() else [lay.nn_dir / p, lay.out_dir / p, Path.cwd() / p]):
        if cand.is_dir() if want_dir else cand.is_file():
            return cand.absolute()
    listed = lay.list()
    if ref.isdigit():
        for c in listed:
            if c.step == int(ref) and not c.is_latest:
                return c.path
    names = ", ".join(c.name for c in listed[-8:]) or "none yet"
    raise ProtocolError(lay.nn_dir, None, "no checkpoint %r (newest: %s)" % (ref, names))


def select_checkpoint(run_dir: Path, mode: str, ref: str | None = None) -> CheckpointState:
    """Write ``.checkpoint_state.json``: auto (follow latest) or manual (the chosen file)."""
    record = read_run_record(run_dir)
    lay = layout(run_dir, record)
    if mode == "auto":   # the latest file, or (latest: newest) the newest complete checkpoint
        return write_state(lay.out_dir, "auto", lay.auto_target() or lay.latest_relpath)
    if ref is None:
        raise ProtocolError(run_dir, "checkpoint_path", "manual mode needs a checkpoint")
    return write_state(lay.out_dir, "manual", find_checkpoint(run_dir, ref, record))


def current_state(run_dir: Path) -> tuple[CheckpointState | None, str | None]:
    """The state file and, when it is unreadable, why (the viewers keep their policy)."""
    try:
        return read_state(output_dir(run_dir)), None
    except ProtocolError as e:
        return None, str(e)
