"""Test helpers: build TFRecord streams and Event protos by hand, read them the reference way."""
from __future__ import annotations

import struct
from pathlib import Path

from tui.core.metrics.tfrecord import masked_crc32c


def frame(data: bytes) -> bytes:
    """One TFRecord around ``data``."""
    head = struct.pack("<Q", len(data))
    return head + struct.pack("<I", masked_crc32c(head)) + data + \
        struct.pack("<I", masked_crc32c(data))


def tb_scalars(path: Path) -> dict[str, list[tuple[int, float, float]]]:
    """Scalars of one TensorBoard run directory as TensorBoard's own reader sees them.

    ``plugin_event_accumulator`` is what ``tensorboard --logdir`` uses: simple values are
    migrated to tensors, and a tag is a scalar when its first metadata names the scalars plugin.
    """
    from tensorboard.backend.event_processing import plugin_event_accumulator as pea
    from tensorboard.util import tensor_util

    acc = pea.EventAccumulator(str(path), size_guidance={pea.TENSORS: 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags()[pea.TENSORS]:
        md = acc.summary_metadata.get(tag)
        if md is None or md.plugin_data.plugin_name != "scalars":
            continue
        out[tag] = [(e.step, e.wall_time, float(tensor_util.make_ndarray(e.tensor_proto).item()))
                    for e in acc.Tensors(tag)]
    return out


def store_scalars(store, run: str) -> dict[str, list[tuple[int, float, float]]]:
    out = {}
    for tag in store.tags(run):
        s = store.snapshot(run, tag)
        out[tag] = list(zip(s.steps.tolist(), s.walls.tolist(), s.values.tolist()))
    return out


def same_points(a, b) -> bool:
    """Equal point lists, NaN equal to NaN."""
    if len(a) != len(b):
        return False
    for (s1, w1, v1), (s2, w2, v2) in zip(a, b):
        if s1 != s2 or w1 != w2:
            return False
        if not (v1 == v2 or (v1 != v1 and v2 != v2)):
            return False
    return True
