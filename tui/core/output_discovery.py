"""Where a foreign trainer writes, learned from its log and recorded in ``artifacts.json``.

The seed's IsaacGymEnvs ``train_play.py`` picks its own directory below its working directory
and announces it: ``Training will save to: runs/Ant_2026-11-21_10-00-00``. A profile with an
``output_discovery`` field (role + regex with a ``dir`` group) says so; the newest matching line
of ``logs/<role>.log`` wins (a restarted trainer that starts a new directory is followed), a
relative path is taken from the role's working directory (as ``run.json`` records it).

Two callers: the ``tui.core.seed_relay`` process, which tails the log while the run lives (no
control center needed), and any control center, lazily, through :func:`ensure_output_dir` when
``artifacts.json`` does not exist yet.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from runners.protocol import (RunRecord, output_dir, read_artifacts, read_run_record,
                              write_artifacts)
from runners.protocol.rundir import RunPaths

DEFAULT_REGEX = r"Training will save to: (?P<dir>\S+)"
CHUNK = 1 << 20
MAX_SCAN_BYTES = 64 << 20   # a one-shot scan reads at most this much of a log


@dataclass(frozen=True)
class DiscoverySpec:
    role: str
    regex: re.Pattern
    base: Path      # the role's working directory: relative paths start there
    log: Path


def discovery_spec(run_dir: Path, record: RunRecord | None = None) -> DiscoverySpec | None:
    """The profile's ``output_discovery`` for this run, or None when it has none."""
    record = record or read_run_record(run_dir)
    raw = record.profile.get("output_discovery")
    if not raw:
        return None
    role = str(raw.get("role") or "train")
    proc = record.process(role)
    base = Path(proc.cwd) if proc is not None and proc.cwd else Path(run_dir)
    return DiscoverySpec(role=role, regex=re.compile(str(raw.get("regex") or DEFAULT_REGEX)),
                         base=base, log=RunPaths(run_dir).log_file(role))


def resolve_announced(raw: str, base: Path) -> Path:
    p = Path(os.path.expanduser(raw.strip().strip("'\"")))
    return Path(os.path.normpath(str(p if p.is_absolute() else base / p)))


class LogScanner(object):
    """Reads a growing log by offset (whole lines only) and keeps the newest match."""

    def __init__(self, spec: DiscoverySpec):
        self.spec = spec
        self.offset = 0
        self.partial = b""
        self.found: Path | None = None

    def poll(self, limit: int | None = None) -> Path | None:
        path = self.spec.log
        try:
            size = os.path.getsize(str(path))
        except OSError:
            return self.found
        if size < self.offset:       # truncated: read it again
            self.offset, self.partial = 0, b""
        read = 0
        try:
            with open(str(path), "rb") as f:
                f.seek(self.offset)
                while limit is None or read < limit:
                    chunk = f.read(CHUNK)
                    if not chunk:
                        break
                    read += len(chunk)
                    self.offset += len(chunk)
                    self._feed(chunk)
        except OSError:
            pass
        return self.found

    def _feed(self, chunk: bytes) -> None:
        data = self.partial + chunk
        lines = data.split(b"\n")
        self.partial = lines.pop()   # no newline yet: maybe half a line
        for raw in lines:
            m = self.spec.regex.search(raw.decode("utf-8", errors="replace"))
            if m and m.group("dir"):
                self.found = resolve_announced(m.group("dir"), self.spec.base)


def record_output_dir(run_dir: Path, found: Path, spec: DiscoverySpec) -> bool:
    """Write ``artifacts.json`` when ``found`` is new; True when it was written."""
    try:
        current = read_artifacts(run_dir)
    except Exception:
        current = None
    if current is not None and Path(current.dir) == found:
        return False
    source = os.path.relpath(str(spec.log), str(RunPaths(run_dir).root))
    write_artifacts(run_dir, found, source=source)
    return True


def discover_output_dir(run_dir: Path, record: RunRecord | None = None) -> Path | None:
    """Scan the role's log once; record and return the directory it announced (or None)."""
    spec = discovery_spec(run_dir, record)
    if spec is None:
        return None
    found = LogScanner(spec).poll(limit=MAX_SCAN_BYTES)
    if found is not None:
        record_output_dir(run_dir, found, spec)
    return found


def ensure_output_dir(run_dir: Path, record: RunRecord | None = None) -> Path:
    """``output_dir(run_dir)``, discovering it first when the profile asks for discovery and
    nothing is recorded yet (the lazy path for control centers)."""
    try:
        known = read_artifacts(run_dir)
    except Exception:
        known = None
    if known is None:
        try:
            discover_output_dir(run_dir, record)
        except Exception:
            pass  # an unreadable run.json or log: the run dir itself, as before
    return output_dir(run_dir)
