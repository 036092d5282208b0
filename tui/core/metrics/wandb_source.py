"""W&B runs as a metric source: the ``.wandb`` files below a directory, read incrementally.

A trainer that logs to W&B (online or offline) writes ``wandb/run-<time>-<id>/run-<id>.wandb``
(``offline-run-...`` offline) next to its other output; the ``latest-run`` link is skipped.
Every such file is tailed by offset like the other sources; scalars come from history records
(``wandb.log``), tagged by their key (``train/loss``), at the logged ``_step`` and
``_timestamp``; the run's config (``wandb.init(config=...)``, ``wandb.config.update``) is kept
as the run's hyperparameters (``store.hparams(run)``, shown with the run). Several W&B runs
below one directory (a restarted trainer) all feed the same tags, as TensorBoard event files
do. The reader needs no ``wandb`` package (see :mod:`.wandb_records`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .event_decode import ScalarBatch
from .source_base import MetricSource, PollResult, walk_files
from .tail import FileTail
from .wandb_records import decode, scan

SUFFIX = ".wandb"


class _WandbFile(object):
    def __init__(self, path: Path, chunk: int):
        self.path = path
        self.tail = FileTail(path, chunk=chunk)
        self.bad_header = False


class WandbSource(MetricSource):
    """Every ``*.wandb`` file below ``path`` (a ``wandb/`` directory, one run's directory, or
    the file itself)."""
    kind = "wandb"

    def __init__(self, path: Path, chunk: int = 8 << 20):
        super().__init__(path)
        self.chunk = chunk
        self.files: dict[Path, _WandbFile] = {}
        self.config: dict = {}

    def _discover(self) -> None:
        root = self.path
        if root.suffix == SUFFIX:
            if root not in self.files and root.is_file():
                self.files[root] = _WandbFile(root, self.chunk)
            self.status.files = len(self.files)
            return
        for p in walk_files(root, lambda e: e.name.endswith(SUFFIX)
                            and e.is_file(follow_symlinks=False)):
            if p not in self.files:
                self.files[p] = _WandbFile(p, self.chunk)
        self.status.files = len(self.files)

    def poll(self) -> PollResult:
        self._discover()
        out = PollResult()
        parts: dict[str, tuple[list[int], list[float], list[float]]] = {}
        for path in sorted(self.files):       # run-<time>-<id>: oldest first
            wf = self.files[path]
            more = self._poll_file(wf, parts, out)
            out.more = out.more or more
        for tag, (s, w, v) in parts.items():
            out.scalars[tag] = ScalarBatch(np.array(s, dtype=np.int64),
                                           np.array(w, dtype=np.float64),
                                           np.array(v, dtype=np.float64))
        self.status.points += out.points
        return out

    def _poll_file(self, wf: _WandbFile, parts: dict, out: PollResult) -> bool:
        st = self.status
        if wf.bad_header:
            return False
        r = wf.tail.read(self.chunk)
        if wf.tail.error:
            st.error = wf.tail.error
        if r is None:
            return False
        if r.reset is not None:
            st.resets += 1
        sc = scan(r.data, r.offset)
        if sc.bad_header:
            wf.bad_header = True
            st.skip("file that is not a W&B run log", 1,
                    detail="%s: does not start with the .wandb header" % wf.path.name)
            return False
        if sc.bad_checksum:
            st.skip("W&B record with a bad checksum", sc.bad_checksum,
                    detail="%s: %d record(s) with a bad checksum" % (wf.path.name,
                                                                    sc.bad_checksum))
        if sc.bad_layout:
            st.skip("W&B record out of sequence", sc.bad_layout)
        dec = decode(sc.records)
        st.records += dec.records
        if dec.undecodable:
            st.skip("W&B record that is not a valid protobuf", dec.undecodable)
        for row in dec.history:
            if row.skipped:
                st.skip("W&B value that is not a scalar", row.skipped)
            step = row.step if row.step is not None else 0
            for tag, value in row.scalars.items():
                d = parts.get(tag)
                if d is None:
                    d = parts[tag] = ([], [], [])
                d[0].append(step)
                d[1].append(row.wall)
                d[2].append(value)
        if dec.config or dec.config_removed:
            for k in dec.config_removed:
                self.config.pop(k, None)
            self.config.update(dec.config)
            out.hparams.update({k: _plain(v) for k, v in _flat(dec.config).items()})
        if dec.run:
            out.hparams.update({"wandb." + k: v for k, v in dec.run.items() if v})
        wf.tail.consume(sc.consumed)
        st.bytes_read += sc.consumed
        return len(r.data) >= self.chunk and sc.consumed > 0

    def close(self) -> None:
        for wf in self.files.values():
            wf.tail.close()

    def watched_paths(self) -> list[Path]:
        return [self.path] + sorted(self.files)


def _flat(d: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in d.items():
        if k == "_wandb":
            continue
        key = "%s.%s" % (prefix, k) if prefix else str(k)
        if isinstance(v, dict) and v and "value" not in v:
            out.update(_flat(v, key))
        elif isinstance(v, dict) and "value" in v:     # older wandb: {"value": x, "desc": ...}
            out[key] = v["value"]
        else:
            out[key] = v
    return out


def _plain(v: object) -> object:
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    return str(v)
