"""TFRecord framing and CRC: exact on valid streams, counted skips on corrupt ones."""
from __future__ import annotations

import os
import struct

import google_crc32c
import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from tui.core.metrics.tfrecord import crc32c_rows, masked_crc32c, scan_records

from .tfrecords import frame


def payloads(scan, buf):
    return [buf[p + 12:p + 12 + n] for p, n in zip(scan.positions.tolist(),
                                                    scan.lengths.tolist())]


def test_vectorized_crc_matches_google_crc32c():
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 8, 33, 200):
        rows = rng.integers(0, 256, (50, n), dtype=np.uint8)
        got = crc32c_rows(rows)
        want = [google_crc32c.value(r.tobytes()) for r in rows]
        assert got.tolist() == want


def test_masked_crc_known_value():
    # TensorFlow's masking of CRC-32C("") == 0 is the constant itself
    assert masked_crc32c(b"") == 0xA282EAD8
    assert google_crc32c.value(b"123456789") == 0xE3069283


def test_many_records_all_found_in_order():
    datas = [os.urandom(n) for n in list(range(60)) * 5 + [5000, 70000]]
    buf = b"".join(frame(d) for d in datas)
    scan = scan_records(buf)
    assert payloads(scan, buf) == datas
    assert scan.end == len(buf) and scan.need == 0
    assert (scan.bad_data, scan.resyncs, scan.stalled_on_garbage) == (0, 0, False)


def test_partial_record_is_held_back_until_complete():
    datas = [b"a" * 40, b"b" * 41, b"c" * 42]
    buf = b"".join(frame(d) for d in datas)
    for cut in range(len(buf) + 1):
        scan = scan_records(buf[:cut])
        got = payloads(scan, buf)
        assert got == datas[:len(got)]
        assert scan.end == sum(len(d) + 16 for d in got)
        assert not scan.stalled_on_garbage and scan.bad_data == 0
        if cut - scan.end >= 12:          # header seen: the scan says how much it needs
            assert scan.need == len(datas[len(got)]) + 16


def test_bad_data_checksum_skips_one_record_and_counts_it():
    datas = [b"x" * 30 for _ in range(40)]
    recs = [bytearray(frame(d)) for d in datas]
    recs[7][20] ^= 0xFF               # inside the data of record 7
    buf = b"".join(bytes(r) for r in recs)
    scan = scan_records(buf)
    assert len(scan.positions) == 39 and scan.bad_data == 1
    assert 7 * 46 not in scan.positions.tolist()


def test_bad_header_resyncs_to_the_next_record():
    datas = [bytes([i]) * (20 + i) for i in range(30)]
    recs = [bytearray(frame(d)) for d in datas]
    recs[10][3] ^= 0x40               # the length of record 10
    buf = b"".join(bytes(r) for r in recs)
    scan = scan_records(buf)
    assert payloads(scan, buf) == datas[:10] + datas[11:]
    assert scan.resyncs == 1 and scan.garbage_bytes == len(recs[10])
    assert scan.end == len(buf)


def test_garbage_at_the_end_stalls_without_consuming_it():
    buf = frame(b"ok" * 20) + b"\x99" * 50
    scan = scan_records(buf)
    assert len(scan.positions) == 1
    assert scan.stalled_on_garbage and scan.end == 56


def test_without_verification_corruption_is_not_detected_but_framing_works():
    recs = [bytearray(frame(b"y" * 25)) for _ in range(3)]
    recs[1][15] ^= 1
    buf = b"".join(bytes(r) for r in recs)
    assert len(scan_records(buf, verify=False).positions) == 3
    assert len(scan_records(buf, verify=True).positions) == 2


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_fuzz_random_bytes_never_raise(buf):
    scan = scan_records(buf)
    assert 0 <= scan.end <= len(buf)
    for p, n in zip(scan.positions.tolist(), scan.lengths.tolist()):
        data = buf[p + 12:p + 12 + n]
        assert masked_crc32c(data) == struct.unpack_from("<I", buf, p + 12 + n)[0]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.binary(max_size=120), st.binary(max_size=40)), min_size=1,
                max_size=30))
def test_fuzz_valid_records_survive_garbage_between_them(items):
    """Every valid record is found, whatever garbage sits between them, and only those."""
    buf = b"".join(frame(d) + g for d, g in items)
    scan = scan_records(buf)
    found = payloads(scan, buf)
    want = [d for d, _ in items]
    it = iter(found)
    assert all(any(x == w for x in it) for w in want), "a valid record was lost"
    corrupt_inside = any(g for _, g in items[:-1])
    tail = items[-1][1]
    assert corrupt_inside or found == want
    if corrupt_inside:
        assert scan.resyncs + scan.bad_data >= 1
    if len(tail) >= 12:               # a whole header's worth of garbage: reported, held
        assert scan.stalled_on_garbage and scan.end == len(buf) - len(tail)
    else:                             # could still be the start of a record being written
        assert scan.end == len(buf) - len(tail)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=80), min_size=2, max_size=20),
       st.data())
def test_fuzz_flipped_bit_loses_at_most_the_hit_record(datas, data):
    recs = [bytearray(frame(d)) for d in datas]
    i = data.draw(st.integers(0, len(recs) - 1))
    j = data.draw(st.integers(0, len(recs[i]) - 1))
    recs[i][j] ^= 1 << data.draw(st.integers(0, 7))
    buf = b"".join(bytes(r) for r in recs)
    scan = scan_records(buf)
    found = payloads(scan, buf)
    assert found == datas[:i] + datas[i + 1:]
    assert scan.bad_data + scan.resyncs == 1 or (i == len(recs) - 1 and scan.stalled_on_garbage)
