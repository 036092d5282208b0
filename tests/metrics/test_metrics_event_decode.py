"""The hand-written Event decoder against TensorBoard's own reader, on generated events.

Each example writes real framed records to an event file and reads it twice: with TensorBoard's
``plugin_event_accumulator`` and with Pitwall's TensorBoard source. Both the vectorized path
(forced on every group) and the per-record path (forced on every record) must agree with it.
"""
from __future__ import annotations

import math
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2

from tui.core.metrics import MetricStore, RunMetrics
from tui.core.metrics import event_decode
from tui.core.metrics.event_decode import DecoderState, decode_events
from tui.core.metrics.event_proto import DecodeError, decode_event
from tui.core.metrics.tfrecord import scan_records

from .tfrecords import frame, same_points, store_scalars, tb_scalars

TAGS = ["loss", "rewards/step", "a/b/c", "é/ü", "x" * 130, ""]
F32 = st.floats(width=32, allow_nan=True, allow_infinity=True)


def _scalar_meta() -> summary_pb2.SummaryMetadata:
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))


@st.composite
def tensor_values(draw, tag: str) -> summary_pb2.Summary.Value:
    kind = draw(st.sampled_from(["f32", "f64", "i32", "i64", "bool", "half", "content"]))
    t = tensor_pb2.TensorProto()
    if kind == "f32":
        t.dtype, v = 1, draw(F32)
        t.float_val.append(v)
    elif kind == "f64":
        t.dtype = 2
        t.double_val.append(draw(st.floats(allow_nan=True, allow_infinity=True)))
    elif kind == "i32":
        t.dtype = 3
        t.int_val.append(draw(st.integers(-2 ** 31, 2 ** 31 - 1)))
    elif kind == "i64":
        t.dtype = 9
        t.int64_val.append(draw(st.integers(-2 ** 63, 2 ** 63 - 1)))
    elif kind == "bool":
        t.dtype = 10
        t.bool_val.append(draw(st.booleans()))
    elif kind == "half":
        t.dtype = 19
        t.half_val.append(int(np.array([draw(st.floats(width=16))], np.float16).view(np.uint16)[0]))
    else:
        t.dtype = 1
        t.tensor_content = struct.pack("<f", draw(F32))
    if draw(st.booleans()):
        t.tensor_shape.CopyFrom(tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)]))
    v = summary_pb2.Summary.Value(tag=tag, tensor=t)
    if draw(st.booleans()):
        v.metadata.CopyFrom(_scalar_meta())
    return v


@st.composite
def events(draw) -> bytes:
    ev = event_pb2.Event(wall_time=draw(st.floats(0, 2e9)),
                         step=draw(st.integers(-2 ** 63, 2 ** 63 - 1)))
    if draw(st.integers(0, 9)) == 0:
        ev.file_version = "brain.Event:2"
        return ev.SerializeToString()
    values = []
    for _ in range(draw(st.integers(1, 3))):
        tag = draw(st.sampled_from(TAGS))
        kind = draw(st.sampled_from(["simple", "simple", "tensor", "text"]))
        if kind == "simple":
            v = summary_pb2.Summary.Value(tag=tag, simple_value=draw(F32))
        elif kind == "tensor":
            v = draw(tensor_values(tag))
        else:
            t = tensor_pb2.TensorProto(dtype=7, string_val=[draw(st.text(max_size=20)).encode()])
            v = summary_pb2.Summary.Value(tag="text/" + tag, tensor=t)
            v.metadata.plugin_data.plugin_name = "text"
        values.append(v)
    ev.summary.CopyFrom(summary_pb2.Summary(value=values))
    return ev.SerializeToString()


def _torch_like(tag: str, step: int, value: float, wall: float, style: str) -> bytes:
    """The exact layouts torch/tensorboardX write (simple_value, new_style float/double)."""
    if style == "simple":
        v = summary_pb2.Summary.Value(tag=tag, simple_value=value)
    else:
        t = tensor_pb2.TensorProto(dtype=1 if style == "new" else 2)
        (t.float_val if style == "new" else t.double_val).append(value)
        v = summary_pb2.Summary.Value(tag=tag, tensor=t, metadata=_scalar_meta())
    return event_pb2.Event(wall_time=wall, step=step,
                           summary=summary_pb2.Summary(value=[v])).SerializeToString()


def _read_ours(d: Path) -> dict:
    store = MetricStore(recent=100000)
    run = RunMetrics.for_directory(d, "r")
    run.catch_up(store)
    run.close()
    return store_scalars(store, "r")


def _compare(records: list[bytes], monkeypatch, fast: bool) -> None:
    monkeypatch.setattr(event_decode, "_MIN_FAST_GROUP", 1 if fast else 10 ** 9)
    # every writer starts a file with its version; without it TensorBoard falls back to
    # purging out-of-order steps (TensorFlow < 0.12 behaviour, not mirrored by Pitwall)
    version = event_pb2.Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString()
    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        (d / "events.out.tfevents.1.test").write_bytes(
            b"".join(frame(r) for r in [version] + records))
        want = tb_scalars(d)
        got = _read_ours(d)
    assert sorted(got) == sorted(want)
    for tag in want:
        assert same_points(got[tag], want[tag]), tag


@pytest.mark.parametrize("fast", [True, False], ids=["vectorized", "per-record"])
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(records=st.lists(events(), min_size=1, max_size=25))
def test_generated_events_read_like_tensorboard(records, fast, monkeypatch):
    _compare(records, monkeypatch, fast)


@pytest.mark.parametrize("fast", [True, False], ids=["vectorized", "per-record"])
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(points=st.lists(st.tuples(st.sampled_from(TAGS[:5]), st.integers(-2 ** 63, 2 ** 63 - 1), F32,
                          st.floats(0, 2e9), st.sampled_from(["simple", "new", "double"])),
                min_size=1, max_size=60))
def test_writer_layouts_read_like_tensorboard(points, fast, monkeypatch):
    records = [_torch_like(*p) for p in points]
    # a tag written new_style has the scalars plugin; tensorboard keeps a tag's first metadata
    _compare(records, monkeypatch, fast)


def test_vectorized_path_is_taken_for_writer_layouts():
    recs = [_torch_like("loss", i, float(i), 1e9 + i, "simple") for i in range(1, 101)]
    buf = b"".join(frame(r) for r in recs)
    scan = scan_records(buf)
    calls = []
    orig = event_decode._slow_records
    try:
        event_decode._slow_records = lambda *a: calls.append(len(a[3]))
        out = decode_events(buf, scan.positions, scan.lengths, DecoderState())
    finally:
        event_decode._slow_records = orig
    assert calls == []
    assert out.scalars["loss"].steps.tolist() == list(range(1, 101))


def test_text_and_hparams_are_kept():
    t = tensor_pb2.TensorProto(dtype=7, string_val=[b"hello"])
    v = summary_pb2.Summary.Value(tag="notes", tensor=t)
    v.metadata.plugin_data.plugin_name = "text"
    text_ev = event_pb2.Event(wall_time=5.0, step=3, summary=summary_pb2.Summary(value=[v]))
    # what torch's add_hparams writes: session_start_info with a string and a number
    content = (b"\x1a\x1e\n\x0b\n\x04name\x12\x03\x1a\x01x\n\x0f\n\x02lr\x12\t\x11"
               + struct.pack("<d", 0.1))
    hv = summary_pb2.Summary.Value(tag="_hparams_/session_start_info")
    hv.metadata.plugin_data.plugin_name = "hparams"
    hv.metadata.plugin_data.content = content
    hp_ev = event_pb2.Event(wall_time=6.0, summary=summary_pb2.Summary(value=[hv]))
    buf = b"".join(frame(e.SerializeToString()) for e in (text_ev, hp_ev))
    scan = scan_records(buf)
    out = decode_events(buf, scan.positions, scan.lengths, DecoderState())
    assert [(x.tag, x.step, x.text) for x in out.texts] == [("notes", 3, "hello")]
    assert out.hparams == {"name": "x", "lr": 0.1}


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_decode_event_raises_only_decode_error(data):
    try:
        ev = decode_event(data)
    except DecodeError:
        return
    assert isinstance(ev.step, int) and isinstance(ev.wall_time, float)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=60), max_size=40), st.booleans())
def test_fuzz_garbage_records_are_counted_never_raised(payloads, fast):
    """Random payloads with valid checksums: decoded when they happen to be events,
    otherwise counted as undecodable."""
    old = event_decode._MIN_FAST_GROUP
    event_decode._MIN_FAST_GROUP = 1 if fast else 10 ** 9
    try:
        buf = b"".join(frame(p) for p in payloads)
        scan = scan_records(buf)
        out = decode_events(buf, scan.positions, scan.lengths, DecoderState())
    finally:
        event_decode._MIN_FAST_GROUP = old
    assert out.events == len(payloads)
    assert 0 <= out.undecodable <= len(payloads)
    for b in out.scalars.values():
        assert len(b.steps) == len(b.walls) == len(b.values)


def test_garbage_payload_with_event_prefix_is_undecodable():
    good = _torch_like("loss", 1, 1.0, 1.0, "simple")
    bad = good[:-3]                          # the float is cut short
    buf = frame(good) + frame(bad) + frame(b"\xff" * 10)
    scan = scan_records(buf)
    out = decode_events(buf, scan.positions, scan.lengths, DecoderState())
    assert out.undecodable == 2 and len(out.scalars["loss"].steps) == 1
    assert math.isclose(out.scalars["loss"].values[0], 1.0)
