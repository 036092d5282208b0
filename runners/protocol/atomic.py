"""Atomic file writes and checked JSON reads.

Every file another process reads is written as: a temp file in the same directory, flush,
fsync, ``os.replace``. A reader therefore sees the old file or the new one, never half of one.
Line logs (``*.jsonl``) are appended one whole line per ``write`` call; their readers hold back a
partial last line.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Dict, Optional, Union

from .errors import ProtocolError

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

    On any failure the temp file is removed and the old file stays as it was.
    """
    path = Path(path)
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=str(directory))
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, str(path))
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if durable:
        _fsync_dir(directory)


def atomic_write_bytes(path: PathLike, data: bytes, durable: bool = True) -> None:
    atomic_write_with(path, lambda f: f.write(data), durable=durable)


def atomic_write_json(path: PathLike, obj: Any, durable: bool = True) -> None:
    data = (json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n").encode("utf-8")
    atomic_write_bytes(path, data, durable=durable)


def append_line(path: PathLike, line: str, durable: bool = False) -> None:
    """Append one line with a single ``write`` on an ``O_APPEND`` descriptor."""
    if "\n" in line:
        raise ValueError("a protocol line may not contain a newline")
    data = (line + "\n").encode("utf-8")
    fd = os.open(str(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, data)
        while written < len(data):  # only on exotic filesystems
            written += os.write(fd, data[written:])
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def read_json_object(path: PathLike, missing_ok: bool = False) -> Optional[Dict[str, Any]]:
    """Read a JSON object, raising :class:`ProtocolError` that names the file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if missing_ok:
            return None
        raise ProtocolError(path, None, "file does not exist")
    except OSError as e:
        raise ProtocolError(path, None, "cannot read: %s" % e.strerror)
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProtocolError(path, None, "not UTF-8 text (corrupted file?)")
    except ValueError as e:
        raise ProtocolError(path, None, "not valid JSON (%s)" % e)
    if not isinstance(obj, dict):
        raise ProtocolError(path, None, "expected a JSON object, found %s" % type(obj).__name__)
    return obj
