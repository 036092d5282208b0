"""The TensorBoard metric source: every event file below a directory, read incrementally with
our own framing reader and decoder (a writer that restarts adds a file: the directory is
watched)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .event_decode import DecoderState, ScalarBatch, decode_events
from .source_base import MetricSource, PollResult, walk_files
from .tail import FileTail
from .tfrecord import MAX_RECORD, OVERHEAD, scan_records


class _EventFile(object):
    def __init__(self, path: Path, prefix: str, state: DecoderState, chunk: int):
        self.path = path
        self.prefix = prefix
        self.state = state
        self.tail = FileTail(path, chunk=chunk)
        self.stall_size = -1          # file size when the scan stalled on garbage
        self.stall_counted = False
        self.need = 0


class TensorBoardDirSource(MetricSource):
    """Every TensorBoard event file below a directory (``tb/``, ``summaries/`` ...).

    New event files (a writer restarted, a second writer) are picked up on the next poll; each
    file is tailed by offset and read in record-aligned chunks. Files in a subdirectory give
    tags prefixed with it (``<sub>/<tag>``) when ``recursive``.
    """
    kind = "tensorboard"

    def __init__(self, path: Path, recursive: bool = True, chunk: int = 16 << 20,
                 verify: bool = True, only: str | None = None):
        super().__init__(path)
        self.recursive = recursive
        self.only = only              # read just this file name (one event file given alone)
        self.chunk = chunk
        self.verify = verify
        self.files: dict[Path, _EventFile] = {}
        self.states: dict[str, DecoderState] = {}
        self.hparams: dict[str, Any] = {}

    def _discover(self) -> None:
        root = self.path

        def keep(e: os.DirEntry) -> bool:
            return "tfevents" in e.name and (self.only is None or e.name == self.only) \
                and e.is_file()
        for p in walk_files(root, keep, self.recursive):
            if p not in self.files:
                rel = p.parent.relative_to(root).as_posix()
                prefix = "" if rel == "." else rel + "/"
                state = self.states.setdefault(prefix, DecoderState())
                self.files[p] = _EventFile(p, prefix, state, self.chunk)
        self.status.files = len(self.files)

    def poll(self) -> PollResult:
        self._discover()
        out = PollResult()
        merged: dict[str, list[ScalarBatch]] = {}
        for path in sorted(self.files):
            ef = self.files[path]
            more = self._poll_file(ef, merged, out)
            out.more = out.more or more
        for tag, parts in merged.items():
            if len(parts) == 1:
                out.scalars[tag] = parts[0]
            else:
                out.scalars[tag] = ScalarBatch(*(np.concatenate(x) for x in zip(*parts)))
        self.status.points += out.points
        return out

    def _poll_file(self, ef: _EventFile, merged: dict[str, list[ScalarBatch]],
                   out: PollResult) -> bool:
        st = self.status
        # a record too large to read is stepped over once the file holds all of it
        want = max(self.chunk, ef.need) if ef.need <= MAX_RECORD + OVERHEAD else self.chunk
        r = ef.tail.read(want)
        if ef.tail.error:
            st.error = ef.tail.error
        if r is None:
            return False
        if r.reset is not None:
            st.resets += 1        # event files are append-only; a rewrite is read again
        data = r.data
        scan = scan_records(data, 0, verify=self.verify)
        ef.need = scan.need
        consumed = scan.end
        if scan.bad_data:
            st.skip("event record with a bad checksum", scan.bad_data,
                    detail="%s: %d record(s) with a bad data checksum" % (ef.path.name,
                                                                            scan.bad_data))
        if scan.resyncs:
            st.skip("corrupt bytes skipped", scan.garbage_bytes,
                    detail="%s: %d corrupt byte(s) before offset %d"
                           % (ef.path.name, scan.garbage_bytes, r.offset + consumed))
        if scan.oversized:
            st.skip("record too large to read", len(scan.oversized))
        if scan.need > MAX_RECORD + OVERHEAD and r.size >= r.offset + consumed + scan.need:
            # a huge record (an image, a graph) with a sound header: step over it unread
            st.skip("record too large to read", 1,
                    detail="%s: a %d-byte record at offset %d"
                           % (ef.path.name, scan.need - OVERHEAD, r.offset + consumed))
            ef.tail.consume(consumed + scan.need)
            st.bytes_read += consumed + scan.need
            ef.need = 0
            data = data[:consumed]
            skip_to = True
        else:
            skip_to = False
        if scan.stalled_on_garbage:
            # garbage at the end: maybe a write in progress (NFS shows pages out of order).
            # If it is still there at the next poll with the file not grown, report it once.
            if r.size == ef.stall_size and not ef.stall_counted:
                st.skip("corrupt bytes at the end of a file", r.size - (r.offset + consumed),
                        detail="%s: corrupt bytes from offset %d to the end"
                               % (ef.path.name, r.offset + consumed))
                ef.stall_counted = True
            ef.stall_size = r.size
        else:
            ef.stall_counted = False
            ef.stall_size = -1
        if len(scan.positions):
            dec = decode_events(data, scan.positions, scan.lengths, ef.state)
            st.records += dec.events
            if dec.undecodable:
                st.skip("record that is not a valid event", dec.undecodable,
                        detail="%s: %d record(s) are not valid events" % (ef.path.name,
                                                                            dec.undecodable))
            for tag, b in dec.scalars.items():
                merged.setdefault(ef.prefix + tag, []).append(b)
            for t in dec.texts:
                t.tag = ef.prefix + t.tag
                out.texts.append(t)
            if dec.hparams:
                self.hparams.update(dec.hparams)
                out.hparams.update(dec.hparams)
        if skip_to:
            return True
        ef.tail.consume(consumed)
        st.bytes_read += consumed
        # more only when the read was cut at ``want`` (not for a record still being written)
        capped = len(r.data) >= want
        return capped and (consumed > 0 or ef.need > want)

    def close(self) -> None:
        for ef in self.files.values():
            ef.tail.close()

    def watched_paths(self) -> list[Path]:
        return [self.path] + sorted(self.files)
