"""Atomic file writes and checked JSON reads.

Every file another process reads is written as: a temp file in the same directory, flush,
fsync, ``os.replace``. A reader therefore sees the old file or the new one, never half of one.
Line logs (``*.jsonl``) are appended one whole line per ``write`` call; their readers hold back a
partial last line.
"""
from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterator, Optional, Union

from .errors import ProtocolError
from .json_parse import MAX_FILE_BYTES, parse_json

PathLike = Union[str, Path]


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(str(directory), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_with(path: PathLike, writer: Callable[[IO[bytes]], None], mode: int = 0o644,
                      durable: bool = True) -> None:
    """Write ``path`` atomically; ``writer`` fills a binary file object.

    On any failure the temp file is removed and the old file stays as it was. An ``OSError``
    (a full disk, a read-only filesystem) names ``path``, not the temp file.
    """
    path = Path(path)
    directory = path.parent
    tmp = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp",
                                   dir=str(directory))
        with os.fdopen(fd, "wb") as f:
            watched = _WriteWatch(f)
            try:
                writer(watched)  # type: ignore[arg-type]
            except Exception as e:
                # a library that writes for us may hide the OS error (torch.save raises a
                # RuntimeError "unexpected pos" on a full disk): raise the real one
                if watched.error is not None and not isinstance(e, OSError):
                    raise watched.error from e
                raise
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, str(path))
    except BaseException as e:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(e, OSError):
            temp_name = os.path.basename(str(e.filename or ""))
            raise naming(e, path, e.filename if temp_name.startswith("." + path.name + ".")
                         else tmp)
        raise
    if durable:
        _fsync_dir(directory)


class _WriteWatch(object):
    """A binary file as given to a writer; remembers the first ``OSError`` of a write."""

    def __init__(self, f: IO[bytes]):
        self._f = f
        self.error = None  # type: Optional[OSError]

    def write(self, data: Any) -> int:
        try:
            return self._f.write(data)
        except OSError as e:
            if self.error is None:
                self.error = e
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


def naming(e: OSError, path: PathLike, *aliases: Optional[str]) -> OSError:
    """``e`` with ``path`` as its file name when it names no file or only a temp alias."""
    if e.filename is not None and str(e.filename) not in [str(a) for a in aliases if a]:
        return e
    if e.errno is None:
        return e
    new = OSError(e.errno, e.strerror, str(path))
    new.__cause__ = e
    return new


def atomic_write_bytes(path: PathLike, data: bytes, durable: bool = True) -> None:
    atomic_write_with(path, lambda f: f.write(data), durable=durable)


def atomic_write_json(path: PathLike, obj: Any, durable: bool = True) -> None:
    data = (json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n").encode("utf-8")
    atomic_write_bytes(path, data, durable=durable)


def append_line(path: PathLike, line: str, durable: bool = False) -> None:
    """Append one line with a single ``write`` on an ``O_APPEND`` descriptor.

    A write that fails half way (a full disk) is cut back off, so the file never keeps half a
    line that the next line would be glued to; the ``OSError`` names ``path``.
    """
    if "\n" in line:
        raise ValueError("a protocol line may not contain a newline")
    data = (line + "\n").encode("utf-8")
    try:
        fd = os.open(str(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as e:
        raise naming(e, path)
    written = 0
    try:
        written = os.write(fd, data)
        while written < len(data):  # a full disk, or an exotic filesystem
            written += os.write(fd, data[written:])
        if durable:
            os.fsync(fd)
    except OSError as e:
        if 0 < written < len(data):
            _cut_partial(fd, written)
        raise naming(e, path)
    finally:
        os.close(fd)


def _cut_partial(fd: int, written: int) -> None:
    """Remove the ``written`` bytes of a line we could not finish, if nobody appended since."""
    try:
        end = os.lseek(fd, 0, os.SEEK_CUR)   # just after our bytes (O_APPEND wrote at the end)
        if os.fstat(fd).st_size == end:
            os.ftruncate(fd, end - written)
    except OSError:
        pass


def read_json_object(path: PathLike, missing_ok: bool = False,
                     max_bytes: int = MAX_FILE_BYTES) -> Optional[Dict[str, Any]]:
    """Read a JSON object, raising :class:`ProtocolError` that names the file.

    Refused with a ``ProtocolError`` (never another exception): a file that is not a regular
    file (a FIFO is never opened for a blocking read), one larger than ``max_bytes`` (not read
    at all), text that is not UTF-8 or not JSON, JSON nested deeper than the protocol allows,
    and any JSON value other than an object.
    """
    path = Path(path)
    raw = read_regular_file(path, max_bytes, missing_ok)
    if raw is None:
        return None
    try:
        obj = parse_json(raw)
    except UnicodeDecodeError:
        raise ProtocolError(path, None, "not UTF-8 text (corrupted file?)")
    except ValueError as e:
        raise ProtocolError(path, None, "not valid JSON (%s)" % e)
    if not isinstance(obj, dict):
        raise ProtocolError(path, None, "expected a JSON object, found %s" % type(obj).__name__)
    return obj


def read_regular_file(path: PathLike, max_bytes: int, missing_ok: bool = False
                      ) -> Optional[bytes]:
    """The bytes of a regular file of at most ``max_bytes``; ``ProtocolError`` otherwise.

    Opened non-blocking and checked with ``fstat`` before any read, so a FIFO or device put in
    the place of a protocol file is refused at once, and a huge file costs one ``stat``.
    """
    path = Path(path)
    try:
        fd = os.open(str(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        if missing_ok:
            return None
        raise ProtocolError(path, None, "file does not exist")
    except OSError as e:
        raise ProtocolError(path, None, "cannot read: %s" % (e.strerror or e))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ProtocolError(path, None, "not a regular file; refused")
        if st.st_size > max_bytes:
            raise ProtocolError(path, None, "is %d bytes, more than the %d a protocol file may "
                                            "hold; refused unread" % (st.st_size, max_bytes))
        chunks = []
        total = 0
        while total <= max_bytes:
            chunk = os.read(fd, max_bytes + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:  # it grew while we read
            raise ProtocolError(path, None, "is more than the %d bytes a protocol file may "
                                            "hold; refused" % max_bytes)
        return b"".join(chunks)
    except OSError as e:
        raise ProtocolError(path, None, "cannot read: %s" % (e.strerror or e))
    finally:
        os.close(fd)


@contextlib.contextmanager
def file_lock(path: PathLike, make_parent: bool = False) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block: the
    lock every read-modify-write of a shared protocol file holds."""
    import fcntl

    if make_parent:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
