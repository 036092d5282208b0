"""Decode TensorBoard ``Event`` records by the million, without the generated protobuf classes.

Two paths give the same answers:

* a vectorized one for the records writers emit by the million: one scalar per event, in the
  exact byte layouts of ``torch.utils.tensorboard`` and tensorboardX (``simple_value``, and the
  ``new_style`` float/double tensors tagged for the ``scalars`` plugin). Records of one length
  and one step-varint width share fixed byte positions, so numpy checks the layout and pulls the
  wall time, step, tag and value of thousands of records per call;
* the small hand-written protobuf wire decoder of :mod:`.event_proto` (``decode_event``) for
  everything else: several values per event, tensor-encoded scalars of any dtype, text
  summaries, hparams plugin data.

Only what TensorBoard's scalar, text and hparams dashboards use is kept (``Event`` fields 1, 2,
5; ``Summary.Value`` fields 1, 2, 7, 8, 9). A record that is not a valid ``Event`` is counted,
never raised.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .event_proto import (HPARAMS_PLUGIN, SCALARS_PLUGIN, TEXT_PLUGIN, DecodeError,
                          decode_event, decode_hparams)
from .tfrecord import HEADER, group_by_length

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
