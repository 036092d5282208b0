"""Decode TensorBoard ``Event`` records without the generated protobuf classes.

Two paths give the same answers:

* a vectorized one for the records writers emit by the million: one scalar per event, in the
  exact byte layouts of ``torch.utils.tensorboard`` and tensorboardX (``simple_value``, and the
  ``new_style`` float/double tensors tagged for the ``scalars`` plugin). Records of one length
  and one step-varint width share fixed byte positions, so numpy checks the layout and pulls the
  wall time, step, tag and value of thousands of records per call;
* a small hand-written protobuf wire decoder (:func:`decode_event`) for everything else: several
  values per event, tensor-encoded scalars of any dtype, text summaries, hparams plugin data.

Only what TensorBoard's scalar, text and hparams dashboards use is kept (``Event`` fields 1, 2,
5; ``Summary.Value`` fields 1, 2, 7, 8, 9). A record that is not a valid ``Event`` is counted,
never raised.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Iterator, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .tfrecord import HEADER, group_by_length

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


# --------------------------------------------------------------------------- batches

class ScalarBatch(NamedTuple):
    steps: np.ndarray      # int64
    walls: np.ndarray      # float64, Unix seconds
    values: np.ndarray     # float64


@dataclass
class TextPoint:
    tag: str
    step: int
    wall_time: float
    text: str


@dataclass
class DecodedEvents:
    scalars: dict[str, ScalarBatch]
    texts: list[TextPoint]
    hparams: dict[str, Any]
    undecodable: int = 0       # records with a valid checksum that are not a valid Event
    events: int = 0


@dataclass
class DecoderState:
    """What one TensorBoard run remembers between batches.

    ``plugins``: the plugin of each tag. As in TensorBoard, a tag's plugin is that of the first
    value carrying metadata (a ``simple_value`` counts as the scalars plugin; writers strip the
    metadata from later values). ``pending``: points of tensor values whose tag has no plugin
    yet; TensorBoard shows them once the tag turns out to be a scalar, so do we (bounded).
    """
    plugins: dict[str, str] = field(default_factory=dict)
    pending: dict[str, list[tuple[int, float, float]]] = field(default_factory=dict)

    MAX_PENDING = 100000


# (size of the value's bytes after the tag, offset of the number, numpy dtype, constant bytes)
_F4, _F8 = np.dtype("<f4"), np.dtype("<f8")
_SCALARS_META = b"J\x0b\n\t\n\x07scalars"
_TEMPLATES = [
    (b"\x15", 1, _F4, b""),                                     # simple_value
    (b"B\x08\x08\x01*\x04", 6, _F4, _SCALARS_META),             # torch new_style float
    (b"B\x0c\x08\x022\x08", 6, _F8, _SCALARS_META),             # torch new_style double
]
_MIN_FAST_GROUP = 16
_H1 = np.uint64(0x9E3779B97F4A7C15)
_H2 = np.uint64(0xC2B2AE3D27D4EB4F)


class _Collector(object):
    """Scalar points of one batch: (record index, tag id, step, wall, value) arrays."""

    def __init__(self) -> None:
        self.rec: list[np.ndarray] = []
        self.tag: list[np.ndarray] = []
        self.step: list[np.ndarray] = []
        self.wall: list[np.ndarray] = []
        self.value: list[np.ndarray] = []
        self.tag_ids: dict[bytes, int] = {}
        self.tag_names: list[str | None] = []

    def tag_id(self, raw: bytes) -> int:
        i = self.tag_ids.get(raw)
        if i is None:
            try:
                name: str | None = raw.decode("utf-8")
            except UnicodeDecodeError:
                name = None
            i = self.tag_ids[raw] = len(self.tag_names)
            self.tag_names.append(name)
        return i

    def add(self, rec, tag, step, wall, value) -> None:
        self.rec.append(rec)
        self.tag.append(tag)
        self.step.append(step)
        self.wall.append(wall)
        self.value.append(value)


def decode_events(buf: bytes, positions: np.ndarray, lengths: np.ndarray,
                  state: DecoderState | None = None) -> DecodedEvents:
    """Decode the records at ``positions`` (record starts in ``buf``, as found by
    :func:`tui.core.metrics.tfrecord.scan_records`)."""
    state = state if state is not None else DecoderState()
    u8 = np.frombuffer(buf, dtype=np.uint8)
    out = DecodedEvents({}, [], {}, events=len(positions))
    fast = _Collector()
    slow: list[np.ndarray] = []
    P = positions.astype(np.int64, copy=False)
    L = lengths.astype(np.int64, copy=False)
    if len(P):
        for n, idx in group_by_length(L):
            if len(idx) < _MIN_FAST_GROUP or n < 16 or n == 65535:
                slow.append(idx)
                continue
            rows = sliding_window_view(u8, n)[P[idx] + HEADER]
            rest = _fast_group(rows, n, idx, fast)
            if len(rest):
                slow.append(rest)
    # Every value the vectorized path took carries scalars metadata (a simple_value, or a
    # new_style tensor): where that is a tag's first metadata, the tag is a scalar.
    fast_first: dict[str, int] = {}
    if fast.rec:
        rec = np.concatenate(fast.rec)
        tag = np.concatenate(fast.tag)
        for t in np.unique(tag).tolist():
            name = fast.tag_names[t]
            if name is not None and name not in state.plugins:
                fast_first[name] = int(rec[tag == t].min())
    col = _Collector()
    if slow:
        _slow_records(buf, P, L, np.sort(np.concatenate(slow)), col, state, out, fast_first)
    for name in fast_first:
        _set_plugin(state, name, SCALARS_PLUGIN, col)
    if fast.rec:
        keep_ids = np.array([i for i, name in enumerate(fast.tag_names)
                             if name is not None and state.plugins.get(name) == SCALARS_PLUGIN],
                            dtype=np.int64)
        tag = np.concatenate(fast.tag)
        keep = np.isin(tag, keep_ids)
        remap = np.array([col.tag_id(raw) for raw in fast.tag_ids], dtype=np.int64)
        col.add(np.concatenate(fast.rec)[keep], remap[tag[keep]],
                np.concatenate(fast.step)[keep], np.concatenate(fast.wall)[keep],
                np.concatenate(fast.value)[keep])
    _finish(col, out)
    return out


def _set_plugin(state: DecoderState, tag: str, plugin: str, col: _Collector) -> None:
    """Record a tag's first metadata; release its pending tensor points if it is a scalar."""
    if tag in state.plugins:
        return
    state.plugins[tag] = plugin
    held = state.pending.pop(tag, None)
    if held and plugin == SCALARS_PLUGIN:
        n = len(held)
        col.add(np.full(n, -1, dtype=np.int64), np.full(n, col.tag_id(tag.encode()), np.int64),
                np.array([h[0] for h in held], dtype=np.int64),
                np.array([h[1] for h in held], dtype=np.float64),
                np.array([h[2] for h in held], dtype=np.float64))


def _fast_group(rows: np.ndarray, n: int, idx: np.ndarray, col: _Collector) -> np.ndarray:
    """Decode the records of one data length ``n``; return the indices left for the slow path."""
    m = len(rows)
    ok = rows[:, 0] == 0x09
    has_step = rows[:, 9] == 0x10
    kmax = min(10, n - 10)
    var = rows[:, 10:10 + kmax]
    term = var < 0x80
    k = np.argmax(term, axis=1) + 1
    ok &= ~has_step | term.any(axis=1)
    p = np.where(has_step, 10 + k, 9)
    done = np.zeros(m, dtype=bool)
    for pv in np.unique(p[ok]):
        pv = int(pv)
        rest = n - pv                     # 0x2a slen 0x0a vlen 0x0a tlen tag suffix
        if rest < 7 or rest - 2 >= 128:
            continue
        sub = np.flatnonzero(ok & (p == pv))
        r = rows[sub]
        base = ((r[:, pv] == 0x2A) & (r[:, pv + 1] == rest - 2) & (r[:, pv + 2] == 0x0A)
                & (r[:, pv + 3] == rest - 4) & (r[:, pv + 4] == 0x0A))
        for head, voff, vdt, tail in _TEMPLATES:
            size = len(head) + vdt.itemsize + len(tail)
            tl = rest - 6 - size
            if tl < 0 or tl >= 128:
                continue
            s0 = pv + 6 + tl
            mt = base & (r[:, pv + 5] == tl)
            if not mt.any():
                continue
            mt &= (r[:, s0:s0 + len(head)] == np.frombuffer(head, np.uint8)).all(axis=1)
            if tail:
                t0 = s0 + len(head) + vdt.itemsize
                mt &= (r[:, t0:t0 + len(tail)] == np.frombuffer(tail, np.uint8)).all(axis=1)
            hit = np.flatnonzero(mt)
            if not len(hit):
                continue
            rr = r[hit]
            tag_ids, good = _tag_ids(np.ascontiguousarray(rr[:, pv + 6:pv + 6 + tl]), col)
            if not good.all():
                hit, rr, tag_ids = hit[good], rr[good], tag_ids[good]
            if not len(hit):
                continue
            v0 = s0 + voff
            values = np.ascontiguousarray(rr[:, v0:v0 + vdt.itemsize]).view(vdt)[:, 0]
            walls = np.ascontiguousarray(rr[:, 1:9]).view(_F8)[:, 0]
            steps = _steps(rr, has_step[sub[hit]], pv - 10)
            col.add(idx[sub[hit]], tag_ids, steps, walls, values.astype(np.float64))
            done[sub[hit]] = True
            base &= ~mt
    return idx[~done]


def _steps(rr: np.ndarray, has_step: np.ndarray, k: int) -> np.ndarray:
    """Decode the step varint (``k`` bytes from column 10) of every row; 0 where absent."""
    if k <= 0:
        return np.zeros(len(rr), dtype=np.int64)
    acc = np.zeros(len(rr), dtype=np.uint64)
    for j in range(k):
        acc |= (rr[:, 10 + j].astype(np.uint64) & np.uint64(0x7F)) << np.uint64(7 * j)
    steps = acc.view(np.int64)
    return np.where(has_step, steps, 0)


def _tag_ids(tags: np.ndarray, col: _Collector) -> tuple[np.ndarray, np.ndarray]:
    """Map each row of tag bytes to a tag id (hash, then verify against a representative).

    ``good`` is False for rows left to the per-record path: a hash collision, or a tag that is
    not UTF-8 (not a valid protobuf string).
    """
    m, tl = tags.shape
    good = np.ones(m, dtype=bool)
    if tl == 0:
        ids = np.full(m, col.tag_id(b""), dtype=np.int64)
    else:
        width = -(-tl // 8) * 8
        padded = np.zeros((m, width), dtype=np.uint8)
        padded[:, :tl] = tags
        words = padded.view("<u8")
        h = np.zeros(m, dtype=np.uint64)
        for j in range(words.shape[1]):
            h = (h ^ words[:, j]) * _H1 + _H2
        uniq, first, inv = np.unique(h, return_index=True, return_inverse=True)
        inv = inv.reshape(-1)
        good = (tags == tags[first][inv]).all(axis=1)
        local = np.array([col.tag_id(tags[i].tobytes()) for i in first], dtype=np.int64)
        ids = local[inv]
    bad_ids = [i for i in np.unique(ids).tolist() if col.tag_names[i] is None]
    if bad_ids:
        good &= ~np.isin(ids, bad_ids)
    return ids, good


def _slow_records(buf: bytes, P: np.ndarray, L: np.ndarray, idx: np.ndarray, col: _Collector,
                  state: DecoderState, out: DecodedEvents, fast_first: dict[str, int]) -> None:
    recs, tags, steps, walls, values = [], [], [], [], []
    plugins = state.plugins
    for i in idx.tolist():
        p = int(P[i]) + HEADER
        try:
            ev = decode_event(buf[p:p + int(L[i])])
        except (DecodeError, struct.error, OverflowError, ValueError):
            out.undecodable += 1
            continue
        for v in ev.values:
            tag = v.tag
            if tag not in plugins:
                ff = fast_first.get(tag)
                if ff is not None and ff < i:
                    _set_plugin(state, tag, SCALARS_PLUGIN, col)
                elif v.simple_value is not None:
                    _set_plugin(state, tag, SCALARS_PLUGIN, col)
                elif v.plugin_name is not None:
                    _set_plugin(state, tag, v.plugin_name, col)
            plugin = plugins.get(tag)
            value: float | None = None
            if v.simple_value is not None:
                value = float(v.simple_value) if plugin == SCALARS_PLUGIN else None
            elif v.tensor is not None:
                if plugin == SCALARS_PLUGIN:
                    value = v.tensor.scalar()
                elif plugin == TEXT_PLUGIN:
                    text = v.tensor.text()
                    if text is not None:
                        out.texts.append(TextPoint(tag, ev.step, ev.wall_time, text))
                elif plugin is None:
                    x = v.tensor.scalar()
                    if x is not None:
                        held = state.pending.setdefault(tag, [])
                        if len(held) < state.MAX_PENDING:
                            held.append((ev.step, ev.wall_time, x))
            if v.plugin_name == HPARAMS_PLUGIN and v.plugin_content:
                try:
                    out.hparams.update(decode_hparams(v.plugin_content))
                except (DecodeError, struct.error):
                    out.undecodable += 1
            if value is None:
                continue
            recs.append(i)
            tags.append(col.tag_id(tag.encode("utf-8")))
            steps.append(ev.step)
            walls.append(ev.wall_time)
            values.append(value)
    if recs:
        col.add(np.array(recs, dtype=np.int64), np.array(tags, dtype=np.int64),
                np.array(steps, dtype=np.int64), np.array(walls, dtype=np.float64),
                np.array(values, dtype=np.float64))


def _finish(col: _Collector, out: DecodedEvents) -> None:
    if not col.rec:
        return
    rec = np.concatenate(col.rec)
    tag = np.concatenate(col.tag)
    order = np.argsort(rec, kind="stable")
    if len(col.tag_names) < 65536:
        order = order[np.argsort(tag[order].astype(np.uint16), kind="stable")]
    else:
        order = order[np.argsort(tag[order], kind="stable")]
    tag = tag[order]
    step = np.concatenate(col.step)[order]
    wall = np.concatenate(col.wall)[order]
    value = np.concatenate(col.value)[order]
    cuts = np.flatnonzero(tag[1:] != tag[:-1]) + 1
    bounds = np.concatenate(([0], cuts, [len(tag)]))
    for a, b in zip(bounds[:-1], bounds[1:]):
        name = col.tag_names[int(tag[a])]
        if name is None or not b - a:
            continue
        out.scalars[name] = ScalarBatch(step[a:b], wall[a:b], value[a:b])
