"""Follow a growing file by byte offset, across truncation, rotation and replacement.

:class:`FileTail` hands out the bytes after the consumed offset; its caller parses what is
complete and calls :meth:`FileTail.consume` with the number of bytes it used, so a partial line
or record is simply read again on the next poll (held back, never half-parsed).

It keeps the file open and notices:

* truncation: the file is shorter than the offset (``copytruncate``, a rewrite in place)
  -> start again at 0;
* rotation or replacement: the path names another inode (``mv log log.1`` then a new
  ``log``, or an atomic ``os.replace``) -> read the old file to its end, then open the new one.

Either way the caller gets a :class:`Reset` saying whether the new content begins with the same
bytes as the old content did (``rewritten``: the same data again, e.g. a CSV written anew each
epoch) or not (``rotated``: new data that continues the old).

Only ``os.stat``/``os.fstat``/``os.pread`` are used, so it works the same on NFS, where inotify
does not see other hosts' writes. One :class:`FileTail` belongs to one thread.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HEAD_BYTES = 1024


@dataclass
class Reset:
    reason: str          # "truncated" | "replaced"
    rewritten: bool      # the new content starts like the old one did


@dataclass
class TailRead:
    data: bytes                   # bytes from ``offset`` (not yet consumed)
    offset: int                   # file offset of ``data[0]``
    size: int                     # the file's size when read
    reset: Reset | None = None    # the file was truncated or replaced before this read
    initial_size: int = 0         # size of the file when it was first opened (its backlog)


class FileTail(object):
    """``start``: the offset to begin at in the first file opened (e.g. its size, to skip what
    was there before); later files (after a truncation or rotation) are read from 0."""

    def __init__(self, path: str | os.PathLike[str], chunk: int = 8 << 20, start: int = 0):
        self.path = Path(path)
        self.chunk = chunk
        self.offset = 0
        self._start = start
        self.error: str | None = None
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None
        self._head = b""                  # the first bytes of the current file
        self._old_head: bytes | None = None
        self._pending_reset: str | None = None
        self.initial_size = 0             # size of the first file when first opened
        self._opened_once = False
        self._tried = False
        self._last_size = -1
        self._last_offset = -1

    # ------------------------------------------------------------------ file handling
    def _open(self) -> bool:
        try:
            fd = os.open(str(self.path), os.O_RDONLY)
        except FileNotFoundError:
            self.error = None
            return False
        except OSError as e:
            self.error = "%s: %s" % (self.path, e.strerror)
            return False
        st = os.fstat(fd)
        self._fd = fd
        self._ident = (st.st_dev, st.st_ino)
        self.offset = 0
        self._head = b""
        self.error = None
        self._last_size = self._last_offset = -1
        if not self._opened_once:
            self._opened_once = True
            # a file that appears while we watch has no backlog: all of it is new
            self.initial_size = 0 if self._tried else st.st_size
            self.offset = min(self._start, st.st_size)
        return True

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None
            self._ident = None

    def _path_ident(self) -> tuple[int, int] | None:
        try:
            st = os.stat(str(self.path))
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    # ------------------------------------------------------------------ reading
    def read(self, max_bytes: int | None = None) -> TailRead | None:
        """The unconsumed bytes (at most ``max_bytes``), or None when there is nothing new."""
        limit = max_bytes or self.chunk
        if self._fd is None and not self._open():
            self._tried = True
            return None
        self._tried = True
        assert self._fd is not None
        try:
            size = os.fstat(self._fd).st_size
        except OSError as e:             # ESTALE on NFS: the file was replaced on the server
            self.error = "%s: %s" % (self.path, e.strerror)
            self._old_head = self._head
            self.close()
            self.initial_size = 0
            self._pending_reset = "replaced"
            return None
        if size < self.offset:
            self._start_over("truncated")
        stuck = size == self._last_size and self.offset == self._last_offset
        if size <= self.offset or stuck:
            # caught up (or held on a partial record that is not growing): was it replaced?
            ident = self._path_ident()
            if ident is not None and ident != self._ident:
                self._old_head = self._head
                self.close()
                self.initial_size = 0
                if not self._open():
                    return None
                self._pending_reset = "replaced"
                return self.read(max_bytes)
            if size <= self.offset and self._pending_reset is None:
                return None
        self._last_size, self._last_offset = size, self.offset
        data = b""
        if size > self.offset:
            try:
                data = os.pread(self._fd, min(limit, size - self.offset), self.offset)
            except OSError as e:
                self.error = "%s: %s" % (self.path, e.strerror)
                return None
        if self.offset < HEAD_BYTES and data:
            self._head = (self._head[:self.offset] + data)[:HEAD_BYTES]
        reset = None
        if self._pending_reset is not None:
            if not data:
                return None               # decide once the new content has begun
            old = self._old_head or b""
            n = min(len(old), len(self._head))
            rewritten = n > 0 and old[:n] == self._head[:n]
            reset = Reset(self._pending_reset, rewritten)
            self._pending_reset = None
            self._old_head = None
        if not data and reset is None:
            return None
        return TailRead(data, self.offset, size, reset, self.initial_size)

    def _start_over(self, reason: str) -> None:
        self.initial_size = 0             # what comes now is new, not a backlog
        self._old_head = self._head
        self._head = b""
        self.offset = 0
        self._pending_reset = reason

    def consume(self, n: int) -> None:
        self.offset += n

    def size(self) -> int:
        try:
            return os.stat(str(self.path)).st_size
        except OSError:
            return 0


class LineTail(object):
    """Complete lines from a :class:`FileTail`; a partial last line waits for its newline.

    A "line" longer than ``max_line`` bytes without a newline (binary garbage, a runaway
    progress bar) is dropped and counted in ``overlong`` so memory stays bounded.
    """

    def __init__(self, path: str | os.PathLike[str], chunk: int = 4 << 20,
                 max_line: int = 1 << 20):
        self.tail = FileTail(path, chunk)
        self.max_line = max_line
        self.overlong = 0

    @property
    def path(self) -> Path:
        return self.tail.path

    def read_lines(self) -> tuple[list[bytes], TailRead] | None:
        r = self.tail.read()
        if r is None:
            return None
        data = r.data
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) >= self.max_line:
                self.overlong += 1
                self.tail.consume(len(data))
            return [], r
        self.tail.consume(end + 1)
        lines = data[:end].split(b"\n")
        return lines, r

    def close(self) -> None:
        self.tail.close()
