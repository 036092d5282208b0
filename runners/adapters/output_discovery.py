"""Where a foreign trainer writes, learned from its log or its file system, recorded in
``artifacts.json``.

Two ways (profile field ``output_discovery``, ``runners.protocol.adapter_specs``):

- ``regex``: the trainer announces its directory (the seed's IsaacGymEnvs ``train_play.py``:
  ``Training will save to: runs/Ant_2026-11-21_10-00-00``); the newest matching line of
  ``logs/<role>.log`` wins (a restarted trainer that starts a new directory is followed);
- ``glob``: it never says (ManiSkill's ``ppo.py`` makes ``runs/<env>__<exp>__<seed>__<time>``);
  the newest directory matching the pattern that appeared after the role started wins.

A relative path is taken from the role's working directory (as ``run.json`` records it). Two
callers: the relay process (``runners.adapters.relay``), which watches while the run lives (no
control center needed), and any control center, lazily, through :func:`ensure_output_dir` when
``artifacts.json`` does not exist yet.
"""
from __future__ import annotations

import datetime as _dt
import glob as _glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from runners.protocol import (RunRecord, output_dir, read_artifacts, read_proc_record,
                              read_run_record, write_artifacts)
from runners.protocol.adapter_specs import OutputDiscoverySpec
from runners.protocol.rundir import RunPaths

CHUNK = 1 << 20
MAX_SCAN_BYTES = 64 << 20   # a one-shot scan reads at most this much of a log
APPEARED_SLACK_S = 2.0      # a directory this much older than the role's start still counts


@dataclass(frozen=True)
class DiscoverySpec:
    run_dir: Path
    role: str
    regex: Optional["re.Pattern[str]"]
    glob: Optional[str]
    base: Path      # the role's working directory: relative paths start there
    log: Path


def discovery_spec(run_dir: Path, record: Optional[RunRecord] = None) -> Optional[DiscoverySpec]:
    """The profile's ``output_discovery`` for this run, or None when it has none."""
    record = record or read_run_record(run_dir)
    spec = OutputDiscoverySpec.from_dict(record.profile.get("output_discovery"))
    if spec is None:
        return None
    proc = record.process(spec.role)
    base = Path(proc.cwd) if proc is not None and proc.cwd else Path(run_dir)
    return DiscoverySpec(run_dir=Path(run_dir), role=spec.role,
                         regex=re.compile(spec.regex) if spec.regex else None, glob=spec.glob,
                         base=base, log=RunPaths(run_dir).log_file(spec.role))


def resolve_announced(raw: str, base: Path) -> Path:
    p = Path(os.path.expanduser(raw.strip().strip("'\"")))
    return Path(os.path.normpath(str(p if p.is_absolute() else base / p)))


class LogScanner(object):
    """Reads a growing log by offset (whole lines only) and keeps the newest match."""

    def __init__(self, spec: DiscoverySpec):
        self.spec = spec
        self.offset = 0
        self.partial = b""
        self.found = None  # type: Optional[Path]

    def poll(self, limit: Optional[int] = None) -> Optional[Path]:
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
        assert self.spec.regex is not None
        data = self.partial + chunk
        lines = data.split(b"\n")
        self.partial = lines.pop()   # no newline yet: maybe half a line
        for raw in lines:
            m = self.spec.regex.search(raw.decode("utf-8", errors="replace"))
            if m and m.group("dir"):
                self.found = resolve_announced(m.group("dir"), self.spec.base)


class DirScanner(object):
    """The newest directory matching the glob that appeared after the role started."""

    def __init__(self, spec: DiscoverySpec):
        self.spec = spec
        self.found = None  # type: Optional[Path]

    def _role_started(self) -> Optional[float]:
        try:
            rec = read_proc_record(self.spec.run_dir, self.spec.role)
        except Exception:
            return None
        if rec is None:
            return None
        try:
            return _dt.datetime.fromisoformat(rec.started_at).timestamp()
        except ValueError:
            return None

    def poll(self, limit: Optional[int] = None) -> Optional[Path]:
        started = self._role_started()
        if started is None:
            return self.found
        assert self.spec.glob is not None
        best = None  # type: Optional[tuple]
        for name in _glob.glob(str(self.spec.base / self.spec.glob)):
            try:
                st = os.stat(name)
            except OSError:
                continue
            if not os.path.isdir(name) or st.st_mtime < started - APPEARED_SLACK_S:
                continue
            key = (st.st_ctime, name)
            if best is None or key > best:
                best = key
        if best is not None:
            self.found = Path(os.path.normpath(best[1]))
        return self.found


def scanner(spec: DiscoverySpec) -> "LogScanner | DirScanner":
    return LogScanner(spec) if spec.regex is not None else DirScanner(spec)


def record_output_dir(run_dir: Path, found: Path, spec: DiscoverySpec) -> bool:
    """Write ``artifacts.json`` when ``found`` is new; True when it was written."""
    try:
        current = read_artifacts(run_dir)
    except Exception:
        current = None
    if current is not None and Path(current.dir) == found:
        return False
    source = os.path.relpath(str(spec.log), str(RunPaths(run_dir).root)) \
        if spec.regex is not None else "glob %s in %s" % (spec.glob, spec.base)
    write_artifacts(run_dir, found, source=source)
    return True


def discover_output_dir(run_dir: Path, record: Optional[RunRecord] = None) -> Optional[Path]:
    """Look once; record and return the directory found (or None)."""
    spec = discovery_spec(run_dir, record)
    if spec is None:
        return None
    found = scanner(spec).poll(limit=MAX_SCAN_BYTES)
    if found is not None:
        record_output_dir(run_dir, found, spec)
    return found


def ensure_output_dir(run_dir: Path, record: Optional[RunRecord] = None) -> Path:
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
