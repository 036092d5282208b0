"""The SERL runner's message format: one ZeroMQ frame = a JSON header + raw numpy buffers.

::

    b"PWSERL" | uint32 little-endian header length | header (UTF-8 JSON) | array bytes

    header = {"protocol": "pitwall.serl/1", "kind": "transitions", "meta": {...},
              "arrays": [["observations", "<f4", [50, 105]], ["rewards", "<f4", [50]], ...]}

The arrays follow the header back to back, in the order listed, each C-contiguous. Decoding
never unpickles anything: it checks the magic, the protocol (a peer speaking another version is
refused with a message naming both), the kind, every dtype against a short list of plain numeric
types, every shape, and that the sizes add up to the frame exactly. One frame per message, so a
SUB socket with ``CONFLATE`` (which keeps single-part messages only) holds just the newest
weights.
"""
from __future__ import annotations

import json
import struct
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

import numpy as np

PROTOCOL = "pitwall.serl/1"
MAGIC = b"PWSERL"
_LEN = struct.Struct("<I")
MAX_HEADER = 1 << 20
KINDS = ("hello", "welcome", "refused", "heartbeat", "status", "done", "transitions", "weights",
         "error")
DTYPES = ("<f4", "<f8", "<f2", "<i8", "<i4", "<i2", "|i1", "<u8", "<u4", "<u2", "|u1", "|b1")
MAX_DIMS = 8


class WireError(ValueError):
    """A frame that is not a valid message of this protocol."""


class VersionMismatch(WireError):
    """A valid frame from a peer that speaks another protocol version."""

    def __init__(self, theirs: str):
        super(VersionMismatch, self).__init__(
            "the peer speaks %s, this process speaks %s: run both with the same Pitwall "
            "version" % (theirs, PROTOCOL))
        self.theirs = theirs


class Message(NamedTuple):
    kind: str
    meta: Dict[str, Any]
    arrays: Dict[str, np.ndarray]


def encode(kind: str, meta: Optional[Mapping[str, Any]] = None,
           arrays: Optional[Mapping[str, np.ndarray]] = None,
           protocol: str = PROTOCOL) -> bytes:
    """One frame. Arrays are sent in their own dtype (little-endian); object arrays and other
    non-numeric dtypes are refused here already."""
    if kind not in KINDS:
        raise ValueError("unknown message kind %r" % (kind,))
    spec = []  # type: List[List[Any]]
    parts = []  # type: List[bytes]
    for name, a in (arrays or {}).items():
        a = np.ascontiguousarray(a)
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        a = a.astype(dt, copy=False)
        if dt.str not in DTYPES:
            raise ValueError("array %r: dtype %s cannot be sent (numeric dtypes only)"
                             % (name, a.dtype))
        spec.append([str(name), dt.str, [int(n) for n in a.shape]])
        parts.append(a.tobytes())
    header = json.dumps({"protocol": protocol, "kind": kind, "meta": dict(meta or {}),
                         "arrays": spec}, separators=(",", ":"), allow_nan=False).encode()
    return b"".join([MAGIC, _LEN.pack(len(header)), header] + parts)


def _check_shape(name: str, shape: Any) -> Tuple[int, ...]:
    if not isinstance(shape, list) or len(shape) > MAX_DIMS or not all(
            isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2 ** 40 for n in shape):
        raise WireError("array %r: bad shape %r" % (name, shape))
    return tuple(shape)


def decode(frame: bytes, kinds: Optional[Tuple[str, ...]] = None) -> Message:
    """Parse one frame; raises :class:`VersionMismatch` or :class:`WireError` saying why."""
    view = memoryview(frame)
    if len(view) < len(MAGIC) + _LEN.size or bytes(view[:len(MAGIC)]) != MAGIC:
        raise WireError("not a Pitwall SERL message (%d bytes, no %r magic)"
                        % (len(view), MAGIC.decode()))
    (hlen,) = _LEN.unpack_from(view, len(MAGIC))
    start = len(MAGIC) + _LEN.size
    if hlen > MAX_HEADER or start + hlen > len(view):
        raise WireError("header length %d does not fit the %d-byte message" % (hlen, len(view)))
    try:
        header = json.loads(bytes(view[start:start + hlen]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise WireError("header is not JSON (%s)" % e)
    if not isinstance(header, dict):
        raise WireError("header is not a JSON object")
    proto = header.get("protocol")
    if not isinstance(proto, str):
        raise WireError("header has no 'protocol'")
    if proto != PROTOCOL:
        raise VersionMismatch(proto)
    kind, meta, spec = header.get("kind"), header.get("meta"), header.get("arrays")
    if kind not in KINDS or (kinds is not None and kind not in kinds):
        raise WireError("unexpected message kind %r here (expected %s)"
                        % (kind, ", ".join(kinds or KINDS)))
    if not isinstance(meta, dict) or not isinstance(spec, list):
        raise WireError("header needs 'meta' (object) and 'arrays' (list)")
    arrays = {}  # type: Dict[str, np.ndarray]
    offset = start + hlen
    for item in spec:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)
                and isinstance(item[1], str)):
            raise WireError("bad array entry %r" % (item,))
        name, dtype, shape = item[0], item[1], _check_shape(item[0], item[2])
        if dtype not in DTYPES:
            raise WireError("array %r: dtype %r is not allowed" % (name, dtype))
        if name in arrays:
            raise WireError("array %r listed twice" % name)
        dt = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        if offset + nbytes > len(view):
            raise WireError("array %r needs %d bytes, only %d left" % (name, nbytes,
                                                                        len(view) - offset))
        arrays[name] = (np.frombuffer(view, dtype=dt, count=nbytes // dt.itemsize,
                                      offset=offset).reshape(shape) if nbytes
                        else np.zeros(shape, dtype=dt))
        offset += nbytes
    if offset != len(view):
        raise WireError("%d stray bytes after the arrays" % (len(view) - offset))
    return Message(kind, meta, arrays)
