"""TensorBoard ``Event`` messages decoded with a small hand-written protobuf wire decoder.

The generated protobuf classes are not needed: only what TensorBoard's scalar, text and hparams
dashboards use is kept (``Event`` fields 1, 2, 5; ``Summary.Value`` fields 1, 2, 7, 8, 9;
``TensorProto`` values of any dtype). :mod:`.event_decode` uses this for the records its
vectorized path does not take. Bad bytes raise :class:`DecodeError`.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

SCALARS_PLUGIN = "scalars"
TEXT_PLUGIN = "text"
HPARAMS_PLUGIN = "hparams"


class DecodeError(ValueError):
    """The bytes are not the protobuf message they should be."""


# --------------------------------------------------------------------------- wire format

def _varint(b: bytes, i: int, n: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if i >= n:
            raise DecodeError("truncated varint")
        c = b[i]
        i += 1
        result |= (c & 0x7F) << shift
        if c < 0x80:
            return result, i
        shift += 7
        if shift >= 70:
            raise DecodeError("varint longer than 10 bytes")


def iter_fields(b: bytes) -> Iterator[tuple[int, int, Any]]:
    """``(field number, wire type, value)``: an int for varints, bytes for everything else."""
    i, n = 0, len(b)
    while i < n:
        key, i = _varint(b, i, n)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise DecodeError("field number 0")
        if wt == 0:
            v, i = _varint(b, i, n)
        elif wt == 1:
            if i + 8 > n:
                raise DecodeError("truncated fixed64")
            v, i = b[i:i + 8], i + 8
        elif wt == 2:
            ln, i = _varint(b, i, n)
            if i + ln > n:
                raise DecodeError("truncated length-delimited field")
            v, i = b[i:i + ln], i + ln
        elif wt == 5:
            if i + 4 > n:
                raise DecodeError("truncated fixed32")
            v, i = b[i:i + 4], i + 4
        else:
            raise DecodeError("unsupported wire type %d" % wt)
        yield num, wt, v


def _int64(v: int) -> int:
    v &= 0xFFFFFFFFFFFFFFFF
    return v - (1 << 64) if v >= (1 << 63) else v


def _text(v: Any) -> str:
    if not isinstance(v, (bytes, bytearray)):
        raise DecodeError("expected a string field")
    try:
        return bytes(v).decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("string field is not UTF-8")


def _bytes(v: Any) -> bytes:
    if not isinstance(v, (bytes, bytearray)):
        raise DecodeError("expected a length-delimited field")
    return bytes(v)


# --------------------------------------------------------------------------- messages

# TensorFlow DataType -> (struct format for tensor_content, repeated field number, kind)
_DTYPES: dict[int, tuple[str, int, str]] = {
    1: ("<f", 5, "f32"), 2: ("<d", 6, "f64"), 3: ("<i", 7, "int"), 4: ("<B", 7, "int"),
    5: ("<h", 7, "int"), 6: ("<b", 7, "int"), 9: ("<q", 10, "int"), 10: ("<?", 11, "bool"),
    14: ("<H", 13, "bf16"), 17: ("<H", 7, "int"), 19: ("<e", 13, "f16"), 22: ("<I", 16, "int"),
    23: ("<Q", 17, "int"),
}
DT_STRING = 7


@dataclass
class Tensor:
    dtype: int = 0
    dims: list[int] = field(default_factory=list)
    content: bytes = b""
    values: list[Any] = field(default_factory=list)    # the typed repeated field of the dtype
    strings: list[bytes] = field(default_factory=list)

    @property
    def size(self) -> int:
        n = 1
        for d in self.dims:
            n *= d
        return n

    def scalar(self) -> float | None:
        """The value of a one-element numeric tensor (what the scalars dashboard plots)."""
        spec = _DTYPES.get(self.dtype)
        if spec is None or self.size != 1:
            return None
        fmt, _, kind = spec
        if self.content:
            width = struct.calcsize(fmt)
            if len(self.content) < width:
                return None
            raw = struct.unpack_from(fmt, self.content)[0]
            if kind == "bf16":
                return float(struct.unpack("<f", struct.pack("<I", raw << 16))[0])
            return float(raw)
        if not self.values:
            return 0.0
        raw = self.values[0]
        if kind == "f16":
            return float(np.array([raw & 0xFFFF], dtype=np.uint16).view(np.float16)[0])
        if kind == "bf16":
            return float(struct.unpack("<f", struct.pack("<I", (raw & 0xFFFF) << 16))[0])
        if kind == "int":
            if fmt in ("<i", "<h", "<b", "<q"):
                return float(_int64(raw) if fmt == "<q" else _int32(raw))
            return float(raw & 0xFFFFFFFFFFFFFFFF)
        return float(raw)

    def text(self) -> str | None:
        if self.dtype != DT_STRING:
            return None
        out = [s.decode("utf-8", "replace") for s in self.strings]
        return "\n".join(out)


def _int32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= (1 << 31) else v


def _packed(v: Any, wt: int, kind: str, out: list[Any]) -> None:
    if kind in ("f32", "f64"):
        fmt, width = ("<f", 4) if kind == "f32" else ("<d", 8)
        if wt == 2:
            if len(v) % width:
                raise DecodeError("packed floats of a ragged length")
            out.extend(x[0] for x in struct.iter_unpack(fmt, v))
        elif wt in (1, 5) and len(v) == width:
            out.append(struct.unpack(fmt, v)[0])
        else:
            raise DecodeError("bad float field")
    else:
        if wt == 2:
            i, n = 0, len(v)
            while i < n:
                x, i = _varint(v, i, n)
                out.append(x)
        elif wt == 0:
            out.append(v)
        else:
            raise DecodeError("bad integer field")


def decode_tensor(b: bytes) -> Tensor:
    t = Tensor()
    typed: dict[int, tuple[int, Any]] = {}
    for num, wt, v in iter_fields(b):
        if num == 1 and wt == 0:
            t.dtype = v
        elif num == 2 and wt == 2:
            for n2, w2, dim in iter_fields(v):
                if n2 == 2 and w2 == 2:
                    size = 0
                    for n3, w3, x in iter_fields(dim):
                        if n3 == 1 and w3 == 0:
                            size = _int64(x)
                    t.dims.append(size)
        elif num == 4 and wt == 2:
            t.content = v
        elif num == 8 and wt == 2:
            t.strings.append(v)
        elif num in (5, 6, 7, 10, 11, 13, 16, 17):
            typed.setdefault(num, (wt, []))
            typed[num][1].append((wt, v))
    spec = _DTYPES.get(t.dtype)
    if spec is not None and spec[1] in typed:
        kind = spec[2]
        kind = kind if kind in ("f32", "f64") else "int"
        for wt, v in typed[spec[1]][1]:
            _packed(v, wt, kind, t.values)
    return t


@dataclass
class SummaryValue:
    tag: str
    simple_value: float | None = None
    tensor: Tensor | None = None
    plugin_name: str | None = None      # set when the value carries metadata
    plugin_content: bytes = b""


@dataclass
class Event:
    wall_time: float = 0.0
    step: int = 0
    file_version: str | None = None
    values: list[SummaryValue] = field(default_factory=list)


def decode_event(b: bytes) -> Event:
    """The parts of an ``Event`` that Pitwall uses; raises :class:`DecodeError`."""
    ev = Event()
    for num, wt, v in iter_fields(b):
        if num == 1:
            if wt != 1:
                raise DecodeError("wall_time is not a double")
            ev.wall_time = struct.unpack("<d", v)[0]
        elif num == 2:
            if wt != 0:
                raise DecodeError("step is not a varint")
            ev.step = _int64(v)
        elif num == 3 and wt == 2:
            ev.file_version = _text(v)
        elif num == 5:
            ev.values.extend(_decode_summary(_bytes(v)))
    return ev


def _decode_summary(b: bytes) -> list[SummaryValue]:
    out = []
    for num, wt, v in iter_fields(b):
        if num == 1 and wt == 2:
            out.append(_decode_value(v))
    return out


def _decode_value(b: bytes) -> SummaryValue:
    tag = node_name = ""
    sv = SummaryValue("")
    for num, wt, v in iter_fields(b):
        if num == 1:
            tag = _text(v)
        elif num == 7:
            node_name = _text(v)
        elif num == 2:
            if wt != 5:
                raise DecodeError("simple_value is not a float")
            sv.simple_value = struct.unpack("<f", v)[0]
        elif num == 8:
            sv.tensor = decode_tensor(_bytes(v))
        elif num == 9:
            sv.plugin_name = ""
            for n2, w2, pd in iter_fields(_bytes(v)):
                if n2 == 1 and w2 == 2:
                    for n3, w3, x in iter_fields(pd):
                        if n3 == 1:
                            sv.plugin_name = _text(x)
                        elif n3 == 2:
                            sv.plugin_content = _bytes(x)
    sv.tag = tag if tag else node_name
    return sv


def decode_hparams(content: bytes) -> dict[str, Any]:
    """``session_start_info.hparams`` of the hparams plugin's ``HParamsPluginData``."""
    out: dict[str, Any] = {}
    for num, wt, v in iter_fields(content):
        if num == 3 and wt == 2:                       # session_start_info
            for n2, w2, entry in iter_fields(v):
                if n2 == 1 and w2 == 2:                # map<string, google.protobuf.Value>
                    key, val = "", None
                    for n3, w3, x in iter_fields(entry):
                        if n3 == 1:
                            key = _text(x)
                        elif n3 == 2:
                            val = _decode_pb_value(_bytes(x))
                    out[key] = val
    return out


def _decode_pb_value(b: bytes) -> Any:
    val: Any = None
    for num, wt, v in iter_fields(b):
        if num == 2 and wt == 1:
            val = struct.unpack("<d", v)[0]
        elif num == 3:
            val = _text(v)
        elif num == 4 and wt == 0:
            val = bool(v)
    return val
